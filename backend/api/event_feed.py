"""One reader of newly indexed events per API process and chain, shared by every open event stream.

A stream that looked for new rows itself, every `api_stream_poll` seconds, made a hundred idle clients
a thousand queries a second. The feed looks once for all of them, keeps the newest rows in memory and
wakes the streams waiting on it. A stream further behind than the feed remembers (a client resuming
from an old Last-Event-ID) reads the store itself until it has caught up. The feed runs only while a
stream is open, and a store that fails a look is logged and looked at again; it never ends a stream.
"""

from __future__ import annotations

import asyncio
import logging
from bisect import bisect_right
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
from sqlalchemy.exc import SQLAlchemyError

log = logging.getLogger(__name__)

KEEP = 10_000  # rows remembered; a stream further behind reads the store


class EventFeed:
    """`read_last()` is the newest row (None for none); `read_after(id, limit)` the next rows after an id,
    in id order (both blocking, run in a worker thread). Rows need an `id` and compare equal only when
    they are the same event."""

    def __init__(
        self,
        read_last: Callable[[], Any],
        read_after: Callable[[int, int], list[Any]],
        *,
        poll: float,
        batch: int,
        keep: int = KEEP,
    ):
        self._read_last = read_last
        self._read_after = read_after
        self.poll = poll
        self.batch = batch
        self.keep = keep
        self.head: int | None = None  # the feed holds every row with base < id <= head
        self.base: int | None = None
        self._last: Any = None  # the row at head, when there is one
        self._rows: list[Any] = []
        self._ids: list[int] = []
        self._changed = anyio.Event()
        self._streams = 0
        self._task: asyncio.Task[None] | None = None

    @asynccontextmanager
    async def open(self) -> AsyncIterator[EventFeed]:
        """A stream's use of the feed; the feed looks for rows while at least one is open."""
        self._streams += 1
        loop = asyncio.get_running_loop()
        if self._task is None or self._task.done() or self._task.get_loop() is not loop:
            self._task = loop.create_task(self._run())
        try:
            yield self
        finally:
            self._streams -= 1

    def after(self, cursor: int, limit: int) -> list[Any] | None:
        """Up to `limit` rows with an id above `cursor`, or None when the feed does not hold them all."""
        if self.base is None or cursor < self.base:
            return None
        i = bisect_right(self._ids, cursor)
        return self._rows[i : i + limit]

    async def changed(self) -> None:
        """Until the feed has new rows (callers bound the wait with a cancel scope)."""
        await self._changed.wait()

    async def _run(self) -> None:
        try:
            while self._streams:
                try:
                    await self._look()
                except SQLAlchemyError as exc:
                    log.warning("event feed: reading the store failed, looking again: %s", exc)
                except Exception:  # a bug here must not leave every open stream waiting for nothing
                    log.exception("event feed: a look failed unexpectedly, looking again")
                await anyio.sleep(self.poll)
        finally:
            if self._task is asyncio.current_task():
                self._task = None

    async def _look(self) -> None:
        if self.head is None:
            await self._start()
            return
        while True:
            # Read from the row at head on: it must still be there. A reorg's rollback deletes the
            # undone blocks' events, and SQLite hands their ids to the replacements.
            after = self.head - 1 if self._last is not None else self.head
            rows = await anyio.to_thread.run_sync(self._read_after, after, self.batch + 1)
            if self._last is not None:
                if not rows or rows[0] != self._last:
                    log.info(
                        "event feed: event %d was rolled back; starting again from the store's head",
                        self.head,
                    )
                    await self._start()
                    return
                rows = rows[1:]
            if not rows:
                return
            self._rows.extend(rows)
            self._ids.extend(row.id for row in rows)
            self.head, self._last = self._ids[-1], rows[-1]
            if len(self._rows) > self.keep:
                drop = len(self._rows) - self.keep
                self.base = self._ids[drop - 1]
                del self._rows[:drop], self._ids[:drop]
            changed, self._changed = self._changed, anyio.Event()
            changed.set()
            if len(rows) < self.batch:
                return

    async def _start(self) -> None:
        """Remember nothing, from the store's newest row on."""
        last = await anyio.to_thread.run_sync(self._read_last)
        self._rows.clear()
        self._ids.clear()
        self._last = last
        self.head = self.base = 0 if last is None else last.id
