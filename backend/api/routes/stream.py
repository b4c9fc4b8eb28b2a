"""The live stream: indexed chain events as Server-Sent Events.

Each look reads the next rows of `raw_event` after the last one seen, by id (its primary key), in a
short connection of its own, and filters them here: a rare filter never makes a look scan the rest of
the table, and the cursor moves past rows that do not match. The indexer is the only writer and
commits a batch's events together, so ids become visible in increasing order. New rows come from the
process's one EventFeed per chain (event_feed.py); a stream reads the store itself only to catch up.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Annotated, Any

import anyio
import anyio.lowlevel
from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.sse import format_sse_event
from sqlalchemy import Engine, select
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from backend.api.deps import ChainDep, ChainIdDep, EngineDep, SettingsDep
from backend.api.errors import ERROR_RESPONSES, ApiError, documented
from backend.api.event_feed import EventFeed
from backend.api.schemas.events import EXAMPLE, StreamEvent
from backend.api.schemas.types import INT64_MAX, BigIntQuery
from backend.chain.deployments import POOL_CONTRACT
from backend.db.models import RawEvent, table_of

router = APIRouter(tags=["events"])

raw = table_of(RawEvent)

#: Seconds without an event after which a comment line keeps proxies from closing the connection.
HEARTBEAT_SECONDS = 15.0
#: Longest a waiting stream goes without asking whether its client is still there.
DISCONNECT_CHECK_SECONDS = 1.0

_WIRE_EXAMPLE = (
    f"id: {EXAMPLE['id']}\nevent: {EXAMPLE['contract']}.{EXAMPLE['event']}\n"
    f"data: {json.dumps(EXAMPLE)}\n\n: heartbeat\n\n"
)


_ITEM_SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "string", "description": "the event's id"},
        "event": {"type": "string", "description": "<Contract>.<Event>"},
        "data": {
            "type": "string",
            "contentMediaType": "application/json",
            "contentSchema": StreamEvent.model_json_schema(),
        },
    },
}


def known_names(request: Request, chain: ChainDep) -> None:
    """A contract or event filter naming nothing the indexer stores is a 400, not a silent stream."""
    try:
        market = chain.market
    except ApiError:
        return  # the chain is down: the stream serves the store, filters as given
    contracts: list[tuple[str, Any]] = [
        ("GpuHours", market.hours),
        ("Exchange", market.exchange),
        ("Escrow", market.escrow),
        ("AttestationOracle", market.oracle),
        ("Settlement", market.settlement),
        *((POOL_CONTRACT, pool) for pool in market.pools.values()),
    ]
    names = {name for name, _ in contracts}
    events = {e["name"] for _, c in contracts for e in c.abi if e.get("type") == "event"}
    for param, known in (("contract", names), ("event", events)):
        unknown = sorted((_names(request.query_params.get(param)) or frozenset()) - known)
        if unknown:
            raise ApiError(
                400,
                "unknown_name",
                f"{param}: no such name {', '.join(unknown)}; known: {', '.join(sorted(known))}",
            )


def _names(value: str | None) -> frozenset[str] | None:
    return frozenset(v.strip() for v in value.split(",") if v.strip()) if value else None


def _touches_capacity(args: dict[str, Any], capacity_id: int) -> bool:
    if args.get("capacityId") == capacity_id or args.get("id") == capacity_id:
        return True
    ids = args.get("ids")
    return isinstance(ids, list) and capacity_id in ids


def _event(row: Any) -> StreamEvent:
    return StreamEvent(
        id=row.id,
        contract=row.contract,
        event=row.event,
        block=row.block_number,
        block_hash=row.block_hash,
        time=row.block_time,
        tx=row.tx_hash,
        log_index=row.log_index,
        address=row.address,
        args=row.args,
    )


def _last(engine: Engine, chain_id: int) -> Any:
    """The chain's newest indexed event, or None."""
    with engine.connect() as conn:
        newest = select(raw).where(raw.c.chain_id == chain_id).order_by(raw.c.id.desc()).limit(1)
        return conn.execute(newest).first()


def _look(engine: Engine, chain_id: int, after: int, batch: int) -> list[Any]:
    with engine.connect() as conn:
        return list(
            conn.execute(
                select(raw)
                .where(raw.c.chain_id == chain_id, raw.c.id > after)
                .order_by(raw.c.id)
                .limit(batch)
            )
        )


def _feed(request: Request, engine: Engine, chain_id: int, poll: float, batch: int) -> EventFeed:
    feeds: dict[int, EventFeed] = request.app.state.event_feeds
    if chain_id not in feeds:
        feeds[chain_id] = EventFeed(
            lambda: _last(engine, chain_id),
            lambda after, limit: _look(engine, chain_id, after, limit),
            poll=poll,
            batch=batch,
        )
    return feeds[chain_id]


class EventStream(StreamingResponse):
    """A text/event-stream of the messages a generator yields, which it closes however the response ends.

    Not FastAPI's EventSourceResponse for a generator endpoint: that passes events through memory streams
    to a keep-alive task, and a client that left while events were on their way made the task send into
    a closed stream: a BrokenResourceError traceback logged for every client that merely went. Here the
    response pulls the generator itself; a client that leaves cancels the send, and the generator, held
    at a `yield`, is closed at once (the feed stops looking when no stream is left), not whenever it is
    collected. The stream's own heartbeat keeps proxies from closing an idle connection.

    The class names no media type, so that FastAPI documents the route's 200 as the route states it (an
    SSE `itemSchema`), without a `schema` that OpenAPI 3.2 would read as the whole stream's."""

    def __init__(self, messages: AsyncGenerator[bytes], status_code: int = 200):
        super().__init__(
            messages,
            status_code,
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},  # nor buffered by nginx
        )
        self._messages = messages

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async with aclosing(self._messages):
            await super().__call__(scope, receive, send)


@router.get(
    "/events/stream",
    response_class=EventStream,
    dependencies=[Depends(known_names)],
    summary="Indexed chain events, live (Server-Sent Events)",
    description=(
        "Each event: `id:` the store's event id, `event:` `<Contract>.<Event>`, `data:` a JSON object "
        "(StreamEvent: block, tx, log index, time, decoded args). Without `since` or `Last-Event-ID` the "
        "stream starts at the newest indexed event; a client that reconnects sends `Last-Event-ID` and "
        "gets every event after it, filters applied. A comment line is sent after "
        f"{HEARTBEAT_SECONDS:.0f} s without events. Events of blocks undone by a reorg are not "
        "retracted: their replacements arrive as new events."
    ),
    responses={
        200: {
            "description": "an endless text/event-stream",
            "content": {"text/event-stream": {"itemSchema": _ITEM_SCHEMA, "example": _WIRE_EXAMPLE}},
        },
        # JSON, although the route's own media type is the event stream.
        **documented(
            {
                400: "unknown_name: a `contract` or `event` filter names nothing the index holds",
                422: ERROR_RESPONSES[422]["description"],
            }
        ),
    },
)
async def stream_events(
    request: Request,
    engine: EngineDep,
    chain_id: ChainIdDep,
    settings: SettingsDep,
    since: Annotated[
        BigIntQuery, Query(description="send events with an id above this; 0: from the first")
    ] = None,
    contract: Annotated[
        str | None,
        Query(
            description="contract names, comma-separated: GpuHours, Exchange, "
            "Escrow, AttestationOracle, Settlement"
        ),
    ] = None,
    event: Annotated[str | None, Query(description="event names, comma-separated: OrderFilled, ...")] = None,
    capacity_id: Annotated[
        BigIntQuery,
        Query(description="events naming this capacity (capacityId, or an ERC-1155 transfer of it)"),
    ] = None,
    last_event_id: Annotated[
        int | None,
        Header(ge=0, le=INT64_MAX, description="the id of the last event received; wins over `since`"),
    ] = None,
) -> EventStream:
    contracts, events = _names(contract), _names(event)
    if last_event_id is not None:
        cursor = last_event_id
    elif since is not None:
        cursor = since
    else:
        newest = await anyio.to_thread.run_sync(_last, engine, chain_id)
        cursor = 0 if newest is None else newest.id
    batch = settings.api_page_max
    feed = _feed(request, engine, chain_id, settings.api_stream_poll, batch)

    async def messages() -> AsyncGenerator[bytes]:
        nonlocal cursor
        quiet_since = time.monotonic()
        async with feed.open():
            while not await request.is_disconnected():
                rows = feed.after(cursor, batch)
                if rows is None:  # further back than the feed remembers
                    rows = await anyio.to_thread.run_sync(_look, engine, chain_id, cursor, batch)
                for row in rows:
                    cursor = row.id
                    if contracts is not None and row.contract not in contracts:
                        continue
                    if events is not None and row.event not in events:
                        continue
                    if capacity_id is not None and not _touches_capacity(row.args, capacity_id):
                        continue
                    quiet_since = time.monotonic()
                    yield format_sse_event(
                        id=str(row.id),
                        event=f"{row.contract}.{row.event}",
                        data_str=_event(row).model_dump_json(),
                    )
                    # Sending does not wait while the socket takes it: without a checkpoint, a batch
                    # went out whole, to a client already gone (asyncio warning of each write).
                    await anyio.lowlevel.checkpoint()
                quiet = time.monotonic() - quiet_since
                if quiet >= HEARTBEAT_SECONDS:
                    quiet_since, quiet = time.monotonic(), 0.0
                    yield format_sse_event(comment="heartbeat")
                if len(rows) < batch:
                    # Woken by new rows; at the latest when a heartbeat is due, or to see whether the client
                    # left.
                    with anyio.move_on_after(min(HEARTBEAT_SECONDS - quiet, DISCONNECT_CHECK_SECONDS)):
                        await feed.changed()

    return EventStream(messages())
