"""Admission: at most `api_db_concurrency` requests of a process use the store at once.

A synchronous route hops between threads (its dependencies, the route, the validation of its
response), and its session holds a pooled connection across those hops. With more requests in
flight than connections, every thread could be waiting for a connection held by a request that
waits for a thread: the API stopped for the pool's 30 s timeout at 64 concurrent clients. Admitting
no more requests than the pool has connections for (and keeping that many threads) rules the cycle
out; the rest wait here, holding nothing, in arrival order.

Event streams are long-lived and use the store only in short reads of their own, so they are not
admitted here: RESERVED connections and threads beyond the admitted requests serve them, the event
feed's one reader, and the response cache's version read.
"""

from __future__ import annotations

from typing import Any

import anyio

#: Connections (and threads) beyond the admitted requests.
RESERVED = 4
#: Paths that are never admitted: they stream for as long as the client stays.
STREAMS = ("/events/stream",)


def pool_size(concurrency: int) -> int:
    """The store connections (and worker threads) an API process keeps for `concurrency`."""
    return concurrency + RESERVED


class Admission:
    """Plain ASGI middleware (see the module docstring)."""

    def __init__(self, app: Any, limit: int):
        self.app = app
        self.slots = anyio.Semaphore(limit)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] in STREAMS:
            await self.app(scope, receive, send)
            return
        async with self.slots:
            await self.app(scope, receive, send)
