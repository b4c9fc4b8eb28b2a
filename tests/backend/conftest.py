"""Stores for the indexer tests: SQLite files, PostgreSQL schemas, Redis.

PostgreSQL (GPUHOURS_TEST_POSTGRES_URL, default postgresql://postgres@127.0.0.1:5432/test) and Redis
(GPUHOURS_TEST_REDIS_URL, default redis://127.0.0.1:6379/0) are used when they answer; the tests that
need them are skipped with the reason when they do not, and fail instead when CI=true. A test run
creates its own PostgreSQL database (one schema per store) and Redis namespace, and drops them after.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
import redis
from sqlalchemy import Engine, select
from sqlmodel import SQLModel

import backend.db.models  # noqa: F401
from backend.config import TaskSettings
from backend.db.session import make_engine, migrate
from backend.indexer.decode import INDEXED_CONTRACTS
from backend.indexer.run import Indexer

POSTGRES_URL = os.environ.get("GPUHOURS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("GPUHOURS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
RUN_ID = uuid.uuid4().hex[:8]


def service_missing(what: str, reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what} is required when CI=true but is not reachable: {reason}")
    pytest.skip(f"{what} not reachable ({reason}); these tests run when it is")


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A database of its own for this test run, dropped at the end; yields its URL."""
    try:
        admin = psycopg.connect(POSTGRES_URL, connect_timeout=3, autocommit=True)
    except psycopg.OperationalError as exc:
        service_missing(f"PostgreSQL at {POSTGRES_URL}", str(exc).strip().splitlines()[0])
    name = f"gpuhours_test_{RUN_ID}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = POSTGRES_URL.rpartition("/")
    yield f"{base}/{name}"
    with psycopg.connect(POSTGRES_URL, connect_timeout=3, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        service_missing(f"Redis at {REDIS_URL}", str(exc))
    yield REDIS_URL
    for key in client.scan_iter(f"gpuhours-test-{RUN_ID}*"):
        client.delete(key)
    client.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_kind(request) -> str:
    return request.param


@pytest.fixture
def make_store(db_kind, tmp_path, request) -> Iterator[Callable[[], Engine]]:
    """Makes a fresh, migrated store of this test's kind: a SQLite file or a PostgreSQL schema."""
    engines: list[Engine] = []
    schemas: list[str] = []
    database = request.getfixturevalue("postgres_database") if db_kind == "postgresql" else None

    def make() -> Engine:
        n = len(engines)
        if database is None:
            url = f"sqlite:///{tmp_path}/store{n}.db"
        else:
            schema = f"s_{uuid.uuid4().hex[:12]}"
            with psycopg.connect(database, autocommit=True) as conn:
                conn.execute(f'CREATE SCHEMA "{schema}"')
            schemas.append(schema)
            url = f"{database}?options=-csearch_path%3D{schema}"
        engine = make_engine(url)
        migrate(engine)
        engines.append(engine)
        return engine

    yield make
    for engine in engines:
        engine.dispose()
    if database is not None and schemas:
        with psycopg.connect(database, autocommit=True) as conn:
            for schema in schemas:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def chain_logs(market) -> list[dict[str, Any]]:
    """Every log of the indexed contracts (the lending pools too) since the deployment, from the node."""
    addresses = [market.deployment.address(n) for n in INDEXED_CONTRACTS]
    addresses += market.deployment.pool_addresses().values()
    flt = {"fromBlock": hex(market.deployment.deploy_block), "toBlock": "latest", "address": addresses}
    return market.w3.provider.make_request("eth_getLogs", [flt])["result"]


def store_url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def indexer_settings(engine: Engine, **overrides: Any) -> TaskSettings:
    """Settings for an indexer, or the tasks that run one, on this test's store."""
    values: dict[str, Any] = {
        "db_url": store_url(engine),
        "redis_url": None,
        "redis_namespace": f"gpuhours-test-{RUN_ID}",
        "indexer_confirmations": 0,
        "indexer_backoff": 0.01,
        "indexer_max_backoff": 0.05,
        "indexer_rpc_timeout": 10.0,
        "indexer_poll_interval": 0.05,
        "indexer_lock_ttl": 30.0,
    }
    values.update(overrides)
    return TaskSettings(**values)


def new_indexer(
    engine: Engine, chain, deployments_dir, *, rpc_url: str | None = None, hook=None, **overrides: Any
) -> Indexer:
    settings = indexer_settings(engine, **overrides)
    return Indexer.from_settings(
        settings, engine=engine, rpc_url=rpc_url or chain.url, deployments_dir=deployments_dir, hook=hook
    )


def index_all(engine: Engine, chain, deployments_dir, **overrides: Any):
    indexer = new_indexer(engine, chain, deployments_dir, **overrides)
    try:
        indexer.initialize()
        return indexer.sync()
    finally:
        indexer.close()


# The price index is derived from the fills when a batch with fills lands, at that batch's time: two
# runs that batched the same chain differently hold the same fills but may differ there (its own test:
# tests/backend/tasks/test_jobs.py).
_SKIP_TABLES = {"indexer_lock", "price_index"}
_SKIP_COLUMNS = {"raw_event": {"id"}, "journal": {"id"}, "checkpoint": {"updated_at"}}


def dump(engine: Engine) -> dict[str, list[tuple]]:
    """Every table's rows (surrogate ids and wall-clock times left out), sorted: equal dumps mean
    equal stores."""
    out = {}
    with engine.connect() as conn:
        for table in SQLModel.metadata.sorted_tables:
            if table.name in _SKIP_TABLES:
                continue
            columns = [c for c in table.columns if c.name not in _SKIP_COLUMNS.get(table.name, ())]
            rows = [
                tuple(json.dumps(v, sort_keys=True) if isinstance(v, (dict, list)) else v for v in row)
                for row in conn.execute(select(*columns))
            ]
            out[table.name] = sorted(rows, key=repr)
    return out


def assert_same_store(a: Engine, b: Engine) -> None:
    left, right = dump(a), dump(b)
    for name in left:
        assert left[name] == right[name], f"table {name} differs"
