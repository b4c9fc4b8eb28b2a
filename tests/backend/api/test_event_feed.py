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


class Store:
    """Rows with ids 1..head; `fail` looks raise as a lost database connection would."""

    def __init__(self, head: int = 0):
        self.head = head
        self.fail = 0
        self.looks = 0

    def read_head(self) -> int:
        return self.head

    def read_after(self, after: int, limit: int) -> list[Row]:
        self.looks += 1
        if self.fail:
            self.fail -= 1
            raise OperationalError("SELECT", {}, Exception("connection lost"))
        return [Row(i) for i in range(after + 1, min(self.head, after + limit) + 1)]


async def until(condition, seconds: float = 5.0) -> None:
    with anyio.fail_after(seconds):
        while not condition():
            await anyio.sleep(0.005)


@pytest.mark.anyio
async def test_the_feed_remembers_new_rows_and_hands_out_what_it_holds():
    store = Store(head=5)
    feed = EventFeed(store.read_head, store.read_after, poll=0.01, batch=2, keep=4)
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
    feed = EventFeed(store.read_head, store.read_after, poll=0.01, batch=10)
    async with feed.open():
        await until(lambda: feed.head == 1)
        store.fail, store.head = 2, 3
        with anyio.fail_after(5):
            while not feed.after(1, 10):
                await feed.wait(1.0)
        assert feed.after(1, 10) == [Row(2), Row(3)] and store.fail == 0


@pytest.fixture
def anyio_backend():
    return "asyncio"
