"""The event feed on its own: what it remembers, what it hands out, and a store that fails a look."""

from __future__ import annotations

from dataclasses import dataclass

import anyio
import pytest
from sqlalchemy.exc import OperationalError

from backend.api.event_feed import EventFeed


@dataclass(frozen=True)
class Row:
    id: int
    block: str = "a"  # which chain of blocks it came from: a replacement after a reorg differs


class Store:
    """Events with ids 1..head; `fail` looks raise as a lost database connection would."""

    def __init__(self, head: int = 0):
        self.rows = [Row(i) for i in range(1, head + 1)]
        self.fail = 0
        self.looks = 0

    @property
    def head(self) -> int:
        return self.rows[-1].id if self.rows else 0

    @head.setter
    def head(self, head: int) -> None:
        self.rows += [Row(i) for i in range(self.head + 1, head + 1)]

    def read_last(self) -> Row | None:
        return self.rows[-1] if self.rows else None

    def read_after(self, after: int, limit: int) -> list[Row]:
        self.looks += 1
        if self.fail:
            self.fail -= 1
            raise OperationalError("SELECT", {}, Exception("connection lost"))
        return [r for r in self.rows if r.id > after][:limit]


async def until(condition, seconds: float = 5.0) -> None:
    with anyio.fail_after(seconds):
        while not condition():  # noqa: ASYNC110 — polls a condition that no event signals
            await anyio.sleep(0.005)


@pytest.mark.anyio
async def test_the_feed_remembers_new_rows_and_hands_out_what_it_holds():
    store = Store(head=5)
    feed = EventFeed(store.read_last, store.read_after, poll=0.01, batch=2, keep=4)
    assert feed.after(5, 10) is None  # not started: the stream reads the store itself
    async with feed.open():
        await until(lambda: feed.head == 5)
        assert feed.after(5, 10) == [] and feed.after(4, 10) is None  # it holds what came after it started
        store.head = 8  # three new rows, read two at a time
        await until(lambda: feed.head == 8)
        assert feed.after(5, 10) == [Row(6), Row(7), Row(8)] and feed.after(6, 1) == [Row(7)]
        store.head = 11  # past what it keeps: the oldest go
        await until(lambda: feed.head == 11)
        assert feed.after(7, 10) == [Row(8), Row(9), Row(10), Row(11)]
        assert feed.after(6, 10) is None
    looks = store.looks
    await anyio.sleep(0.05)
    assert store.looks == looks  # no stream open: no looks


@pytest.mark.anyio
async def test_a_store_that_fails_a_look_is_looked_at_again_and_waiting_streams_wake():
    store = Store(head=1)
    feed = EventFeed(store.read_last, store.read_after, poll=0.01, batch=10)
    async with feed.open():
        await until(lambda: feed.head == 1)
        store.fail, store.head = 2, 3
        with anyio.fail_after(5):
            while not feed.after(1, 10):
                with anyio.move_on_after(1.0):
                    await feed.changed()
        assert feed.after(1, 10) == [Row(2), Row(3)] and store.fail == 0


@pytest.mark.anyio
async def test_a_rollback_is_forgotten_and_the_replacements_arrive_even_under_reused_ids():
    """SQLite gives a deleted row's id to the next insert: the feed must not skip the replacements,
    nor hand the undone events to a stream that starts after the rollback."""
    store = Store(head=3)
    feed = EventFeed(store.read_last, store.read_after, poll=0.01, batch=10)
    async with feed.open():
        await until(lambda: feed.head == 3)
        store.head = 6
        await until(lambda: feed.head == 6)
        store.rows = [*store.rows[:4], Row(5, "b"), Row(6, "b"), Row(7, "b")]  # blocks after event 4 undone
        await until(lambda: feed.head == 7)
        assert feed.after(4, 10) is None  # what it held from before is gone: streams read the store
        store.head = 8
        await until(lambda: feed.head == 8)
        assert feed.after(7, 10) == [Row(8)]


@pytest.fixture
def anyio_backend():
    return "asyncio"
