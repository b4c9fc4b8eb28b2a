"""Whole responses of the market's reads (`GET /capacities…`, `/prices…`, `/orders…`, `/nodes…`), kept
per store version.

They change only when the indexer commits a batch (its checkpoint moves, or a reorg moves it back), when
a posted order changes (its `updated_at`), when the price-index job writes, when a provider describes
a node or the SLA watchdog checks one (their `updated_at`, `checked_at`), or when time passes (orders
expire, windows open, fills leave the 24 h window): the key is the request with those, the time to
the second (reads are evaluated at the market's clock, the later of the wall clock and the indexed
head's time, as the next block will be: an ETag lives until the next indexed block or the next second,
whichever comes first). The version is
one indexed query, asked at most every VERSION_TTL seconds whatever the load, so an answer is never
more than that behind the store; a hit skips the market's SQL. A key is computed by one request at a
time: those asking for it meanwhile wait and replay its answer (at each second's turn, 64 clients of
one read used to compute it 64 times at once); while the answer of a new second is computed for an
unchanged store, the previous second's is served (a client may see the market's clock up to a second
late, never a store older than VERSION_TTL). The cache stands in front of admission (admission.py):
a hit is answered without waiting for a slot, only a miss takes one. The version is also the response's
ETag, so a client polling the market gets 304 Not Modified until something changed. Every answer
says which indexed block it is as of, and how old that block is (X-Indexed-Head, X-Indexed-Head-Age),
so a client can tell stale from fresh while the chain does not answer. Several API
processes keep caches of their own and agree through the store.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from typing import Any

import anyio
from sqlalchemy import Engine, func, select, true
from sqlalchemy.exc import OperationalError

from backend.db.models import Block, Checkpoint, NodeHealth, NodeMetadata, PostedOrder, PriceIndex, table_of

CACHED_PREFIXES = ("/capacities", "/prices", "/orders", "/nodes")
MAX_ENTRIES = 4096
VERSION_TTL = 0.02  # seconds; far inside the head latency the market promises (250 ms)

cp = table_of(Checkpoint)
blk = table_of(Block)
so = table_of(PostedOrder)
pidx = table_of(PriceIndex)
meta = table_of(NodeMetadata)
health = table_of(NodeHealth)

Message = dict[str, Any]
Key = tuple[Any, ...]


_orders = select(func.max(so.c.updated_at).label("changed")).subquery()
_prices = select(func.max(pidx.c.updated_at).label("priced")).subquery()
_meta = select(func.max(meta.c.updated_at).label("described")).subquery()
_health = select(func.max(health.c.checked_at).label("checked")).subquery()
#: One round trip: the latest change of a posted order, of the price index, of a node's metadata and
#: of the SLA watchdog's verdicts, beside every chain's checkpoint (if any) and its block's time.
VERSION = (
    select(
        _orders.c.changed,
        _prices.c.priced,
        _meta.c.described,
        _health.c.checked,
        cp.c.chain_id,
        cp.c.block_number,
        cp.c.block_hash,
        blk.c.timestamp,
    )
    .select_from(
        _orders.join(_prices, true())
        .join(_meta, true())
        .join(_health, true())
        .outerjoin(cp, true())
        .outerjoin(blk, (blk.c.chain_id == cp.c.chain_id) & (blk.c.number == cp.c.block_number))
    )
    .order_by(cp.c.chain_id)
)


def store_version(engine: Engine) -> tuple[Any, ...]:
    with engine.connect() as conn:
        return tuple(tuple(row) for row in conn.execute(VERSION))


class ReadCache:
    """Plain ASGI middleware in front of the app (see the module docstring)."""

    def __init__(self, app: Any, engine: Engine, max_entries: int = MAX_ENTRIES):
        self.app = app
        self.engine = engine
        self.max_entries = max_entries
        self.version: tuple[Any, ...] = ()
        self.version_read = -VERSION_TTL  # monotonic time of the last read
        self.version_reading: anyio.Event | None = None  # set when the read in progress ends
        #: key -> (the response's ASGI messages, the route that answered it, for the metrics' labels)
        self.entries: OrderedDict[Key, tuple[list[Message], Any]] = OrderedDict()
        #: key -> set when the one request computing it has answered (the others wait, then replay it)
        self.computing: dict[Key, anyio.Event] = {}

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "GET"
            or not scope["path"].startswith(CACHED_PREFIXES)
        ):
            await self.app(scope, receive, send)
            return
        try:
            await self._refresh_version()
        except OperationalError:  # the store is away: uncached, the route says so (503)
            await self.app(scope, receive, send)
            return
        send = _with_head(send, self.version)
        key = (scope["path"], scope["query_string"], self.version, int(time.time()))
        etag = '"' + hashlib.blake2b(repr(key).encode(), digest_size=12).hexdigest() + '"'
        if _header(scope, b"if-none-match") == etag.encode():
            await send({"type": "http.response.start", "status": 304, "headers": [(b"etag", etag.encode())]})
            await send({"type": "http.response.body", "body": b""})
            return
        hit_key = key
        hit = self.entries.get(key)
        waited = hit is None and key in self.computing
        if waited:
            # Another request is computing this answer. If only the clock's second moved since the
            # last one (the same store version), that one is served meanwhile; else wait and replay.
            hit_key = (*key[:3], key[3] - 1)
            hit = self.entries.get(hit_key)
            if hit is None:
                await self.computing[key].wait()
                hit_key, hit = key, self.entries.get(key)
        if hit is not None:
            self.entries.move_to_end(hit_key)
            messages, scope["route"] = hit
            for message in messages:
                await send(message)
            return
        if waited:  # that answer was not kept (not a 200, or its client left): this request's own
            await self._compute(scope, receive, send, key, etag)
            return
        done = self.computing[key] = anyio.Event()
        try:
            await self._compute(scope, receive, send, key, etag)
        finally:
            del self.computing[key]
            done.set()

    async def _refresh_version(self) -> None:
        """Read the store's version if it is older than VERSION_TTL: one read at a time (on one of the
        connections admission.RESERVED keeps), the requests arriving meanwhile wait for it."""
        while time.monotonic() - self.version_read >= VERSION_TTL:
            if self.version_reading is not None:
                await self.version_reading.wait()
                continue
            reading = self.version_reading = anyio.Event()
            asked = time.monotonic()
            try:
                self.version = await anyio.to_thread.run_sync(store_version, self.engine)
                self.version_read = asked
            finally:
                self.version_reading = None
                reading.set()

    async def _compute(self, scope: dict[str, Any], receive: Any, send: Any, key: Key, etag: str) -> None:
        messages: list[Message] = []

        async def keep(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), (b"etag", etag.encode())]}
            messages.append(message)
            await send(message)

        await self.app(scope, receive, keep)
        if messages and messages[0].get("status") == 200:
            self.entries[key] = (messages, scope.get("route"))
            if len(self.entries) > self.max_entries:
                self.entries.popitem(last=False)


def _with_head(send: Any, version: tuple[Any, ...]) -> Any:
    """`send` adding X-Indexed-Head (the indexed block the answer is as of) and X-Indexed-Head-Age
    (seconds since that block's time, when the store has it) to the response's headers: how stale a
    read may be, above all while the chain does not answer. Only when the store indexes one chain."""
    if len(version) != 1 or version[0][-3] is None:
        return send
    number, timestamp = version[0][-3], version[0][-1]
    extra = [(b"x-indexed-head", str(number).encode())]
    if timestamp is not None:
        extra.append((b"x-indexed-head-age", str(max(0, int(time.time()) - int(timestamp))).encode()))

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), *extra]}
        await send(message)

    return sending


def _header(scope: dict[str, Any], name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return value
    return None
