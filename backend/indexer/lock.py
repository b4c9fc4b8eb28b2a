"""One writer per chain and store: a Redis lock when GPUHOURS_REDIS_URL is set, a database lock otherwise.

The lock is chosen by the settings, never by what answers: with Redis configured and down, no writer
runs until it answers again (two writers under two different locks would both write).

- Redis: redis-py's Lock (SET NX PX with a token) that expires after settings.indexer_lock_ttl.
- PostgreSQL: a session advisory lock on a connection held for as long as the writer runs; it goes
  away with the connection, so a crashed writer never leaves it behind.
- SQLite (and any other database): a row in `indexer_lock` with an owner and an expiry after
  settings.indexer_lock_ttl.

A `Heartbeat` thread renews the lock every third of its lifetime, whatever the writer is doing (a long
batch, RPC retries), so the lifetime can be short: a crashed writer's successor takes over within it.

The lock is the first line; the second is the checkpoint itself, which every batch and rollback moves
with a compare-and-set (run.py, reorg.py), so a writer that lost its lock cannot commit over another.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import socket
import threading
import time
import uuid
from typing import Protocol, Self

import redis
from redis.exceptions import LockError, RedisError
from sqlalchemy import Connection, Engine, delete, insert, select, text, update
from sqlalchemy.exc import IntegrityError

from backend.config import IndexerSettings, StoreSettings
from backend.db.models import IndexerLock, table_of
from backend.db.session import begin_write

log = logging.getLogger(__name__)


class LockHeld(RuntimeError):
    """Another writer holds the lock."""


class LockLost(RuntimeError):
    """This writer's lock expired or its connection went away; it must stop writing."""


def new_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class WriterLock(Protocol):
    kind: str
    name: str
    owner: str

    def acquire(self) -> bool: ...

    def renew(self, conn: Connection | None = None) -> None: ...

    def release(self) -> None: ...

    def holder(self) -> str | None: ...


class RedisLock:
    kind = "redis"

    def __init__(self, client: redis.Redis, name: str, ttl: float, owner: str):
        self.client, self.name, self.ttl, self.owner = client, name, ttl, owner
        self._lock = client.lock(name, timeout=ttl, blocking=False, thread_local=False)

    def acquire(self) -> bool:
        try:
            return bool(self._lock.acquire(blocking=False, token=self.owner))
        except RedisError as exc:
            # The configured lock cannot be taken: no writer, rather than a writer under another lock.
            log.warning("Redis lock %s: %s; no writer until Redis answers", self.name, exc)
            return False

    def renew(self, conn: Connection | None = None) -> None:
        try:
            self._lock.extend(self.ttl, replace_ttl=True)
        except (LockError, RedisError) as exc:
            raise LockLost(f"lost the Redis lock {self.name}: {exc}") from None

    def release(self) -> None:
        with contextlib.suppress(LockError, RedisError):
            self._lock.release()

    def holder(self) -> str | None:
        try:
            value = self.client.get(self.name)
        except RedisError as exc:
            return f"unknown: Redis does not answer ({exc})"
        return value.decode() if isinstance(value, bytes) else value


class PostgresLock:
    """pg_try_advisory_lock on a dedicated connection, keyed by database, schema and lock name."""

    kind = "postgresql"

    def __init__(self, engine: Engine, name: str, owner: str):
        self.engine, self.name, self.owner = engine, name, owner
        self._conn: Connection | None = None
        self._key: int | None = None
        self._using = threading.Lock()  # the heartbeat and the writer share one connection

    def _key_for(self, conn: Connection) -> int:
        where = conn.execute(text("SELECT current_database() || '/' || current_schema()")).scalar_one()
        digest = hashlib.blake2b(f"{where}/{self.name}".encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big", signed=True)

    def acquire(self) -> bool:
        conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        key = self._key_for(conn)
        if conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar_one():
            self._conn, self._key = conn, key
            return True
        conn.close()
        return False

    def renew(self, conn: Connection | None = None) -> None:
        with self._using:
            if self._conn is None:
                raise LockLost(f"the advisory lock {self.name} is not held")
            try:
                self._conn.execute(text("SELECT 1"))
            except Exception as exc:  # noqa: BLE001 — whatever the error, the connection and its lock are gone
                self._conn = None
                raise LockLost(
                    f"lost the PostgreSQL advisory lock {self.name}: {exc.__class__.__name__}"
                ) from None

    def release(self) -> None:
        with self._using:
            if self._conn is None:
                return
            try:
                self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self._key})
            except Exception:  # noqa: BLE001, S110 — best effort: invalidating the connection unlocks too
                pass
            finally:
                self._conn.invalidate()  # never hand a connection that may hold the lock back to the pool
                self._conn.close()
                self._conn = None

    def holder(self) -> str | None:
        return "another PostgreSQL session"


class RowLock:
    """A lock row with an owner and an expiry; taken and renewed by conditional UPDATE/INSERT."""

    kind = "database"

    def __init__(self, engine: Engine, name: str, ttl: float, owner: str):
        self.engine, self.name, self.ttl, self.owner = engine, name, ttl, owner
        self.table = table_of(IndexerLock)

    def acquire(self) -> bool:
        now = time.time()
        t = self.table
        try:
            with begin_write(self.engine) as conn:
                taken = conn.execute(
                    update(t)
                    .where(t.c.name == self.name, (t.c.owner == self.owner) | (t.c.expires_at < now))
                    .values(owner=self.owner, expires_at=now + self.ttl)
                ).rowcount
                if taken == 1:
                    return True
                exists = conn.execute(select(t.c.name).where(t.c.name == self.name)).first()
                if exists is not None:
                    return False
                conn.execute(insert(t).values(name=self.name, owner=self.owner, expires_at=now + self.ttl))
                return True
        except IntegrityError:  # another writer inserted the row first
            return False

    def renew(self, conn: Connection | None = None) -> None:
        """Extend the expiry; inside the caller's transaction when `conn` is given, so the batch it
        commits and the proof that this writer still held the lock are one."""
        t = self.table
        stmt = (
            update(t)
            .where(t.c.name == self.name, t.c.owner == self.owner)
            .values(expires_at=time.time() + self.ttl)
        )
        if conn is not None:
            renewed = conn.execute(stmt).rowcount
        else:
            with begin_write(self.engine) as own:
                renewed = own.execute(stmt).rowcount
        if renewed != 1:
            raise LockLost(f"lost the database lock {self.name}: it expired and another writer took it")

    def release(self) -> None:
        t = self.table
        with begin_write(self.engine) as conn:
            conn.execute(delete(t).where(t.c.name == self.name, t.c.owner == self.owner))

    def holder(self) -> str | None:
        t = self.table
        with self.engine.connect() as conn:
            row = conn.execute(select(t.c.owner, t.c.expires_at).where(t.c.name == self.name)).first()
        if row is None:
            return None
        return f"{row.owner} (until {time.strftime('%H:%M:%S', time.localtime(row.expires_at))})"


class Heartbeat:
    """Renews a held lock every `interval` seconds from its own thread until stopped. A failed renewal
    is kept and raised by `check()`, which the writer calls before each tick; the writer's own
    in-transaction renewals (RowLock) still prove each commit."""

    def __init__(self, lock: WriterLock, interval: float):
        self.lock, self.interval = lock, interval
        self.lost: LockLost | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"lock-heartbeat:{lock.name}", daemon=True)

    def _beat(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.lock.renew()
            except LockLost as exc:
                self.lost = exc
                return
            except Exception as exc:  # noqa: BLE001 — a store or Redis hiccup: the next beat tries again
                log.warning("could not renew the writer lock %s: %s", self.lock.name, exc)

    def check(self) -> None:
        if self.lost is not None:
            raise self.lost

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def redis_client(settings: StoreSettings) -> redis.Redis | None:
    """A client for settings.redis_url when it is set (answering or not), else None."""
    if not settings.redis_url:
        return None
    return redis.Redis.from_url(settings.redis_url, socket_connect_timeout=1.0, socket_timeout=5.0)


def writer_lock(
    settings: IndexerSettings, engine: Engine, chain_id: int, owner: str | None = None
) -> WriterLock:
    """The lock that admits one indexer per chain and store."""
    owner = owner or new_owner()
    client = redis_client(settings)
    if client is not None:
        url = engine.url
        store = f"{url.get_backend_name()}:{url.host or ''}:{url.port or ''}/{url.database or ''}"
        schema = str(url.query.get("options", ""))  # a search_path in the URL names another store
        digest = hashlib.blake2b(f"{store}|{schema}".encode(), digest_size=6).hexdigest()
        name = f"{settings.redis_namespace}:indexer:{chain_id}:{digest}"
        return RedisLock(client, name, settings.indexer_lock_ttl, owner)
    if engine.dialect.name == "postgresql":
        return PostgresLock(engine, f"gpuhours-indexer:{chain_id}", owner)
    return RowLock(engine, f"indexer:{chain_id}", settings.indexer_lock_ttl, owner)
