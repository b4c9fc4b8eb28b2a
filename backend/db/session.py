"""Engines, sessions and migrations for settings.db_url (SQLite by default, PostgreSQL in production)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlmodel import Session

from backend.config import StoreSettings

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def normalize_url(url: str) -> str:
    """postgres:// and postgresql:// mean psycopg 3, the driver installed with gpuhours."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(url: str, *, echo: bool = False, **kwargs: Any) -> Engine:
    """An engine for `url`; a SQLite file's folder is created, and SQLite runs in WAL mode so the API
    can read while the indexer writes."""
    url = normalize_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        kwargs.setdefault("connect_args", {}).setdefault("check_same_thread", False)
        engine = create_engine(url, echo=echo, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    engine = create_engine(url, echo=echo, **kwargs)
    event.listen(engine, "connect", _postgres_settings)
    return engine


def _postgres_settings(dbapi_connection: Any, _record: Any) -> None:
    # The planner's cost estimates for the market's correlated lookups cross jit_above_cost: compiling
    # then takes seconds where the plan runs in milliseconds. Nothing here is a long analytic query.
    with dbapi_connection.cursor() as cursor:
        cursor.execute("SET jit = off")
    dbapi_connection.commit()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # pysqlite opens a transaction only at the first write, so reads before it would see another
    # snapshot than the write; SQLAlchemy's BEGIN below makes a transaction start where it says.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


#: Execution option naming how a SQLite transaction begins: DEFERRED (the default) or IMMEDIATE.
SQLITE_BEGIN = "gpuhours_sqlite_begin"


def _sqlite_begin(connection: Connection) -> None:
    connection.exec_driver_sql(f"BEGIN {connection.get_execution_options().get(SQLITE_BEGIN, 'DEFERRED')}")


@contextmanager
def begin_write(engine: Engine) -> Iterator[Connection]:
    """`engine.begin()` for a transaction that writes: on SQLite it begins IMMEDIATE.

    A deferred transaction that reads first holds a snapshot; once another connection commits a write,
    SQLite cannot turn that snapshot into a write and answers "database is locked" at once, whatever
    the busy timeout (SQLITE_BUSY_SNAPSHOT). Taking the write lock at BEGIN instead waits for the other
    writer under the busy timeout, and then reads what it wrote. Reads stay deferred, so the API reads
    while the indexer writes. PostgreSQL ignores the option."""
    with engine.connect() as connection:
        connection.execution_options(**{SQLITE_BEGIN: "IMMEDIATE"})
        with connection.begin():
            yield connection


def engine_from_settings(settings: StoreSettings, *, connections: int | None = None) -> Engine:
    """The store's engine; with `connections`, a pool of exactly that many, kept open and reused
    (no overflow connections opened and closed under load)."""
    pool: dict[str, Any] = {} if connections is None else {"pool_size": connections, "max_overflow": 0}
    return make_engine(settings.db_url, echo=settings.db_echo, **pool)


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision` with the Alembic migrations, in one transaction.

    Processes starting together migrate once: on PostgreSQL the first takes a transaction-scoped
    advisory lock (per schema) and the others wait for its commit, then find the schema at head; on
    SQLite the write transaction begins IMMEDIATE, which serialises them the same way."""
    config = alembic_config()
    with begin_write(engine) as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(
                text("SELECT pg_advisory_xact_lock(hashtext('gpuhours-migrate:' || current_schema()))")
            )
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def get_session(engine: Engine) -> Iterator[Session]:
    """A session per request (FastAPI: `SessionDep = Annotated[Session, Depends(...)]`)."""
    with Session(engine) as session:
        yield session
