"""The production layout under faults: deployments/Procfile's processes (the indexer, a Celery worker and
beat, `gpuhours serve --workers 2`) on a PostgreSQL cluster and a Redis server of this module's own, the
chain behind an RPC proxy. Each fault in turn: a supervisor's restart at most (as systemd would do), no
person; afterwards every process is in its configured role and the store equals a fresh index of the
same chain (nothing lost, nothing doubled), and the logs say what happened."""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, text

from backend.chain.anvil import Anvil, free_port
from backend.chain.client import Market
from backend.chain.dev_accounts import dev_account
from backend.db.models import EVENT_TABLES, STATE_TABLES, Checkpoint, RawEvent, table_of
from backend.db.session import make_engine, migrate
from tests.backend.conftest import dump, index_all, service_missing
from tests.backend.layout.processes import Layout, cmdline, descendants, outliving
from tests.backend.layout.services import OwnPostgres, OwnRedis, missing
from tests.backend.market_round import sell_hours
from tests.backend.rpc_proxy import FaultyProxy

COMPARED = {table_of(m).name for m in (*STATE_TABLES, *EVENT_TABLES, RawEvent, Checkpoint)}


@dataclass
class Site:
    layout: Layout
    market: Market
    chain: Anvil
    deployments_dir: Path
    postgres: OwnPostgres
    redis: OwnRedis
    proxy: FaultyProxy
    api: str
    engine: Engine
    fresh_stores: int = 0
    trades: int = 0

    def trade(self, units: int = 2) -> None:
        """A node registered, a capacity opened and `units` of it bought: a dozen events."""
        p, r = dev_account(1, self.market.chain_id), dev_account(3, self.market.chain_id)
        self.trades += 1
        sell_hours(self.market, p, r, units, 1_500_000, gpu=f"GPU-layout-{self.trades}")

    def indexed(self) -> int | None:
        try:
            return httpx.get(f"{self.api}/ready", timeout=5).json()["checks"].get("indexed")
        except (httpx.HTTPError, ValueError, KeyError):
            return None

    def wait_indexed(self, timeout: float = 60) -> float:
        """Seconds until the API shows the chain's head as indexed."""
        head, started = self.market.w3.eth.block_number, time.monotonic()
        while (self.indexed() or -1) < head:
            assert time.monotonic() - started < timeout, self.logs()
            time.sleep(0.1)
        return time.monotonic() - started

    def assert_store_equals_a_fresh_index(self) -> None:
        self.wait_indexed()
        self.fresh_stores += 1
        fresh = make_engine(self.postgres.database(f"fresh_{self.fresh_stores}"))
        try:
            migrate(fresh)
            index_all(fresh, self.chain, self.deployments_dir)
            ours, theirs = dump(self.engine), dump(fresh)
            for name in sorted(COMPARED):
                assert ours[name] == theirs[name], f"table {name} differs from a fresh index"
            assert ours["raw_event"], "nothing indexed"
        finally:
            fresh.dispose()

    def assert_roles(self) -> None:
        for name in ("indexer", "worker", "beat", "api"):
            assert self.layout.alive(name), f"{name} exited:\n{self.layout.log(name)[-3000:]}"
        assert "role indexer" in self.layout.log("indexer")
        assert "role worker" in self.layout.log("worker")
        assert "role beat" in self.layout.log("beat")
        assert "role api: GPUHOURS_REDIS_URL is set" in self.layout.log("api")
        health = httpx.get(f"{self.api}/health", timeout=10).json()
        assert health == {"status": "ok", "role": "api", "chain": "ok"}, health

    def logs(self) -> str:
        return "\n".join(f"== {n}\n{self.layout.log(n)[-2000:]}" for n in self.layout.commands)


@pytest.fixture(scope="module")
def site(session_market, chain, deployments_dir, tmp_path_factory) -> Iterator[Site]:
    why = missing()
    if why:
        service_missing("a PostgreSQL cluster and Redis server of the fault suite's own", why)
    snapshot = session_market.w3.provider.make_request("evm_snapshot", [])["result"]
    postgres, redis = OwnPostgres(), OwnRedis()
    postgres.start()
    redis.start()
    db_url = postgres.database("gpuhours")
    api_port = free_port()
    logs = tmp_path_factory.mktemp("layout")
    proxy = FaultyProxy(chain.url).__enter__()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GPUHOURS_")}
    env |= {
        "PATH": f"{Path(sys.executable).parent}:{env.get('PATH', '')}",
        "GPUHOURS_DB_URL": db_url,
        "GPUHOURS_REDIS_URL": redis.url,
        "GPUHOURS_RPC_URL": proxy.url,
        "GPUHOURS_DEPLOYMENTS_DIR": str(deployments_dir),
        "GPUHOURS_API_HOST": "127.0.0.1",
        "GPUHOURS_API_PORT": str(api_port),
        "GPUHOURS_API_WORKERS": "2",
        "GPUHOURS_WORKER_CONCURRENCY": "2",
        "GPUHOURS_BEAT_SCHEDULE": str(logs / "beat-schedule"),
        "GPUHOURS_INDEXER_BACKOFF": "0.05",
        "GPUHOURS_INDEXER_MAX_BACKOFF": "0.5",
        "GPUHOURS_INDEXER_RPC_TIMEOUT": "5",
        # Keepers would send transactions of their own between a head and the fresh index compared with it.
        "GPUHOURS_KEEPER_ENABLED": "false",
        "GPUHOURS_LENDING_KEEPER_ENABLED": "false",
    }
    layout = Layout(env, logs)
    engine = make_engine(db_url)
    site = Site(
        layout,
        session_market,
        chain,
        deployments_dir,
        postgres,
        redis,
        proxy,
        f"http://127.0.0.1:{api_port}",
        engine,
    )
    try:
        layout.start()  # every process at once, on a database nobody has migrated
        yield site
    finally:
        layout.stop_all()
        engine.dispose()
        proxy.__exit__(None, None, None)
        redis.stop()
        postgres.remove()
        session_market.w3.provider.make_request("evm_revert", [snapshot])


def test_every_process_starts_at_once_on_a_fresh_database(site):
    site.trade()
    site.wait_indexed(timeout=90)
    with site.engine.connect() as conn:  # migrated once
        assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar_one() == 1
    site.assert_roles()
    site.assert_store_equals_a_fresh_index()


def test_the_indexer_killed_mid_batch(site):
    mark = len(site.layout.log("worker"))
    for _ in range(3):
        site.trade()
    site.layout.signal("indexer", signal.SIGKILL)  # whatever it was doing, mid-batch or between
    site.layout.procs["indexer"].wait(10)
    # Beat's index tick is the fallback: the worker takes the lock within its lifetime (5 s) and indexes.
    site.trade()
    assert site.wait_indexed(timeout=30) < 30
    assert "gpuhours.index" in site.layout.since("worker", mark)
    site.layout.start("indexer")  # its supervisor restarts it; it waits for the lock between ticks
    site.layout.wait_log("indexer", "role indexer", after=0)
    site.trade()
    site.assert_store_equals_a_fresh_index()
    site.assert_roles()


def test_a_worker_process_killed_mid_task(site):
    pool = [p for p in descendants(site.layout.pid("worker")) if "celery" in cmdline(p)]
    assert len(pool) >= 3, pool  # the main process and its two pool processes
    mark = len(site.layout.log("worker"))
    victim = max(pool)
    os.kill(victim, signal.SIGKILL)
    site.trade()
    site.layout.wait_log("worker", "exited with 'signal 9 (SIGKILL)'", after=mark, timeout=30)
    deadline = time.monotonic() + 30
    while len([p for p in descendants(site.layout.pid("worker")) if "celery" in cmdline(p)]) < len(pool):
        assert time.monotonic() < deadline, "the worker did not replace its pool process"
        time.sleep(0.2)
    site.assert_store_equals_a_fresh_index()
    site.assert_roles()


def test_redis_restarted(site):
    mark = len(site.layout.log("indexer"))
    site.redis.stop()
    site.trade()  # on the chain while Redis is away
    assert httpx.get(f"{site.api}/capacities", timeout=10).status_code == 200  # reads need no Redis
    time.sleep(8)  # longer than the writer lock lives: the indexer loses it
    site.redis.start()  # empty: a restarted cache keeps nothing
    site.trade()
    site.wait_indexed(timeout=60)
    assert "waiting to take the writer lock again" in site.layout.since("indexer", mark)
    site.assert_store_equals_a_fresh_index()
    site.assert_roles()


def test_the_rpc_down_for_30_seconds(site):
    site.proxy.faults, site.proxy.fault_every = ("reset",), 1  # every call dropped unanswered
    down = time.monotonic()
    site.trade()  # straight to the chain: the layout cannot see it
    approve = {"owner": dev_account(3, site.market.chain_id).address, "spender": "exchange", "amount": 1}
    refused = httpx.post(f"{site.api}/tx/approve", json=approve, timeout=60)
    assert refused.status_code == 503 and refused.headers["retry-after"], refused.text
    assert refused.json()["error"]["code"] == "chain_unreachable"
    assert httpx.get(f"{site.api}/capacities", timeout=10).status_code == 200
    health = httpx.get(f"{site.api}/health", timeout=30).json()
    assert health["status"] == "degraded", health
    time.sleep(max(0.0, 30 - (time.monotonic() - down)))
    site.proxy.fault_every = 0  # back
    assert site.wait_indexed(timeout=60) < 60
    assert "indexing paused" in site.layout.log("indexer")
    site.assert_store_equals_a_fresh_index()
    site.assert_roles()


def test_postgres_restarted(site):
    site.postgres.stop()
    site.trade()
    refused = httpx.get(f"{site.api}/capacities", timeout=30)
    assert refused.status_code == 503, refused.text  # said, not a 500
    time.sleep(3)
    site.postgres.start()
    site.trade()
    assert site.wait_indexed(timeout=60) < 60
    assert httpx.get(f"{site.api}/capacities", timeout=10).status_code == 200
    site.assert_store_equals_a_fresh_index()
    site.assert_roles()


def test_an_api_process_killed(site):
    workers = [p for p in descendants(site.layout.pid("api")) if "spawn_main" in cmdline(p)]
    assert len(workers) == 2, workers
    mark = len(site.layout.log("api"))
    os.kill(workers[0], signal.SIGKILL)
    answered = [httpx.get(f"{site.api}/capacities", timeout=10).status_code for _ in range(50)]
    assert answered == [200] * 50
    site.layout.wait_log("api", "died", after=mark, timeout=30)
    deadline = time.monotonic() + 30
    while len([p for p in descendants(site.layout.pid("api")) if "spawn_main" in cmdline(p)]) < 2:
        assert time.monotonic() < deadline, site.layout.log("api")[-3000:]
        time.sleep(0.2)
    site.trade()
    site.assert_store_equals_a_fresh_index()
    site.assert_roles()


def test_every_process_stops_on_sigterm(site):
    for name in site.layout.commands:
        everyone = descendants(site.layout.pid(name))
        assert site.layout.stop(name, timeout=30) is not None
        assert outliving(everyone) == [], f"{name} left a process running"
