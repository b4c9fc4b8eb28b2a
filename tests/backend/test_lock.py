"""One writer at a time: Redis lock, PostgreSQL advisory lock, SQLite lock row; and the checkpoint
compare-and-set that stops a writer without the lock."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import text, update

from backend.db.models import IndexerLock, table_of
from backend.indexer.lock import LockHeld, LockLost, PostgresLock, RedisLock, writer_lock
from backend.indexer.reorg import ConcurrentWriter
from tests.backend.conftest import assert_same_store, index_all, indexer_settings, new_indexer


@pytest.fixture(params=["database", "redis"])
def lock_settings(request, make_store):
    """Indexer settings overrides for the lock kind, and the store they share."""
    engine = make_store()
    overrides = {"redis_url": request.getfixturevalue("redis_url")} if request.param == "redis" else {}
    return request.param, engine, overrides


def test_the_lock_kind_follows_the_environment(lock_settings, db_kind):
    kind, engine, overrides = lock_settings
    lock = writer_lock(indexer_settings(engine, **overrides), engine, 31337)
    expected = "redis" if kind == "redis" else ("postgresql" if db_kind == "postgresql" else "database")
    assert lock.kind == expected


def test_with_redis_configured_and_down_no_writer_runs(make_store, chain, deployments_dir):
    """Not the database lock instead: a writer holding the Redis lock may still be writing."""
    engine = make_store()
    settings = indexer_settings(engine, redis_url="redis://127.0.0.1:1/0")
    lock = writer_lock(settings, engine, 31337)
    assert lock.kind == "redis"
    assert not lock.acquire()
    with pytest.raises(LockHeld, match="Redis does not answer"):
        new_indexer(engine, chain, deployments_dir, redis_url="redis://127.0.0.1:1/0").run(once=True)


def test_a_second_writer_is_refused_while_the_first_runs(
    market, lock_settings, chain, deployments_dir, accounts
):
    _, engine, overrides = lock_settings
    first = new_indexer(engine, chain, deployments_dir, **overrides)
    stop, ticking = threading.Event(), threading.Event()
    runner = threading.Thread(target=first.run, kwargs={"stop": stop, "on_tick": lambda r: ticking.set()})
    runner.start()
    try:
        assert ticking.wait(30)
        second = new_indexer(engine, chain, deployments_dir, **overrides)
        with pytest.raises(LockHeld, match="another indexer"):
            second.run(once=True)
        # The first keeps indexing new blocks meanwhile.
        market.register_node(accounts[1], "H100", 8, 80, "eu-west", "NVLink", ["a"])
        head = market.w3.eth.block_number
        deadline = time.monotonic() + 30
        while first.checkpoint()[0] < head and time.monotonic() < deadline:
            time.sleep(0.02)
        assert first.checkpoint()[0] == head
    finally:
        stop.set()
        runner.join(30)
    summary = second.run(once=True)  # free now
    assert summary.checkpoint == market.w3.eth.block_number
    first.close()
    second.close()


def test_an_idle_writer_keeps_its_lock(market, lock_settings, chain, deployments_dir, accounts):
    """At the head with nothing to do for several lock lifetimes, the writer still holds the lock.
    The lifetime is short but not shorter than one busy tick on a loaded machine (0.3 s was: a tick
    that indexed a block under a full test run took longer, and the lock lapsed mid-tick)."""
    _, engine, overrides = lock_settings
    writer = new_indexer(engine, chain, deployments_dir, indexer_lock_ttl=1.5, **overrides)
    failure: list[BaseException] = []
    stop = threading.Event()

    def run() -> None:
        try:
            writer.run(stop=stop)
        except BaseException as exc:  # noqa: BLE001  (reported below)
            failure.append(exc)

    runner = threading.Thread(target=run)
    runner.start()
    try:
        time.sleep(4.0)
        other = new_indexer(engine, chain, deployments_dir, indexer_lock_ttl=1.5, **overrides)
        with pytest.raises(LockHeld):
            other.run(once=True)
        other.close()
        market.register_node(accounts[1], "H100", 8, 80, "eu-west", "NVLink", ["a"])
        head = market.w3.eth.block_number
        deadline = time.monotonic() + 30
        while writer.checkpoint()[0] < head and time.monotonic() < deadline and not failure:
            time.sleep(0.02)
        assert not failure and writer.checkpoint()[0] == head
    finally:
        stop.set()
        runner.join(30)
        writer.close()
    assert not failure


def _run_in_thread(writer, stop: threading.Event) -> tuple[threading.Thread, list[BaseException]]:
    failure: list[BaseException] = []

    def run() -> None:
        try:
            writer.run(stop=stop)
        except BaseException as exc:  # noqa: BLE001  (reported by the caller)
            failure.append(exc)

    runner = threading.Thread(target=run)
    runner.start()
    return runner, failure


def test_a_writer_stalled_for_several_lock_lifetimes_keeps_its_lock(
    market, lock_settings, chain, deployments_dir, accounts
):
    """A fetch that hangs (RPC retries, a slow node) for three lifetimes of the lock: the heartbeat keeps
    it, so a second writer is refused throughout, and the stalled writer goes on to index the block."""
    _, engine, overrides = lock_settings
    writer = new_indexer(engine, chain, deployments_dir, indexer_lock_ttl=1.0, **overrides)
    index_all(engine, chain, deployments_dir)
    fetch, stalled = writer.fetcher.fetch, threading.Event()

    def slow_fetch(start, stop):
        stalled.set()
        time.sleep(3.0)
        return fetch(start, stop)

    writer.fetcher.fetch = slow_fetch
    stop = threading.Event()
    runner, failure = _run_in_thread(writer, stop)
    try:
        market.register_node(accounts[1], "H100", 8, 80, "eu-west", "NVLink", ["a"])
        head = market.w3.eth.block_number
        assert stalled.wait(30)
        for _ in range(5):  # across the stall, well past the lock's lifetime
            other = new_indexer(engine, chain, deployments_dir, indexer_lock_ttl=1.0, **overrides)
            with pytest.raises(LockHeld):
                other.run(once=True)
            other.close()
            time.sleep(0.5)
        deadline = time.monotonic() + 30
        while writer.checkpoint()[0] < head and time.monotonic() < deadline and not failure:
            time.sleep(0.02)
        assert not failure and writer.checkpoint()[0] == head
    finally:
        stop.set()
        runner.join(30)
        writer.close()
    assert not failure


def test_a_writer_whose_lock_is_taken_stops_within_a_heartbeat(lock_settings, chain, deployments_dir):
    """The lock goes (Redis key or lock row taken by another owner, the advisory lock's connection
    killed): the writer, idle at the head, stops with LockLost instead of writing on."""
    _, engine, overrides = lock_settings
    index_all(engine, chain, deployments_dir)
    writer = new_indexer(engine, chain, deployments_dir, indexer_lock_ttl=0.6, **overrides)
    stop = threading.Event()
    runner, failure = _run_in_thread(writer, stop)
    try:
        deadline = time.monotonic() + 30
        while writer.lock is None and time.monotonic() < deadline:
            time.sleep(0.02)
        held = writer.lock
        assert held is not None
        time.sleep(0.3)
        if isinstance(held, RedisLock):
            held.client.set(held.name, "thief")
        elif isinstance(held, PostgresLock):
            with engine.connect() as conn:
                pid = conn.execute(
                    text("SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted LIMIT 1")
                ).scalar_one()
                conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        else:
            t = table_of(IndexerLock)
            with engine.begin() as conn:
                conn.execute(update(t).where(t.c.name == held.name).values(owner="thief"))
        runner.join(10)
        assert not runner.is_alive()
        assert len(failure) == 1 and isinstance(failure[0], LockLost), failure
    finally:
        stop.set()
        runner.join(30)
        writer.close()


def test_a_waiting_writer_takes_over_when_the_first_stops(market, lock_settings, chain, deployments_dir):
    _, engine, overrides = lock_settings
    first = new_indexer(engine, chain, deployments_dir, **overrides)
    lock = writer_lock(first.settings, engine, first.chain_id)
    assert lock.acquire()
    second = new_indexer(engine, chain, deployments_dir, **overrides)
    result: dict = {}
    waiter = threading.Thread(target=lambda: result.update(s=second.run(once=True, wait_for_lock=True)))
    waiter.start()
    time.sleep(0.3)
    assert waiter.is_alive()  # still waiting for the lock
    lock.release()
    waiter.join(30)
    assert result["s"].checkpoint == market.w3.eth.block_number
    first.close()
    second.close()


def test_an_expired_lock_is_taken_over_and_its_old_holder_stops(lock_settings, db_kind):
    _, engine, overrides = lock_settings
    settings = indexer_settings(engine, indexer_lock_ttl=0.3, **overrides)
    old, new = writer_lock(settings, engine, 31337), writer_lock(settings, engine, 31337)
    assert old.acquire()
    assert not new.acquire()
    if old.kind == "postgresql":
        old._conn.invalidate()  # the writer's connection dies, and its advisory lock with it
    else:
        time.sleep(0.5)  # the writer stalled past its TTL
    deadline = time.monotonic() + 10  # PostgreSQL frees the lock once it notices the connection is gone
    acquired = new.acquire()
    while not acquired and time.monotonic() < deadline:
        time.sleep(0.05)
        acquired = new.acquire()
    assert acquired
    with pytest.raises(LockLost):
        old.renew()
    new.renew()
    new.release()


def test_a_writer_without_the_lock_cannot_commit_over_another(
    market, make_store, chain, deployments_dir, accounts
):
    """Two writers that bypass the lock fetch the same range; the second to commit finds the checkpoint
    moved and writes nothing."""
    engine = make_store()
    index_all(engine, chain, deployments_dir)
    for i in range(2):
        market.register_node(accounts[1], f"H100-{i}", 8, 80, "eu-west", "NVLink", [str(i)])
    other = new_indexer(engine, chain, deployments_dir)
    slow = new_indexer(engine, chain, deployments_dir)
    fetch = slow.fetcher.fetch

    def the_other_writer_commits_first(start, stop):
        assert other.tick().action == "indexed"
        return fetch(start, stop)

    slow.fetcher.fetch = the_other_writer_commits_first
    with pytest.raises(ConcurrentWriter, match="another indexer"):
        slow.tick()
    slow.close()
    other.close()
    fresh = make_store()
    index_all(fresh, chain, deployments_dir)
    assert_same_store(engine, fresh)
