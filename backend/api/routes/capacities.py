"""Capacities: the market's list with filters, sort and pages; one capacity in full; its order book.

Best prices come from the posted orders that can still be filled (order_state.OPEN_ORDERS), each a
correlated lookup along the book index (chain, capacity, status, kind, price) that stops at the first
live order, so a page costs a few index probes per capacity however deep the books are."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    Select,
    String,
    and_,
    bindparam,
    case,
    exists,
    func,
    select,
)

from backend.api.deps import ChainIdDep, SessionDep, SettingsDep
from backend.api.errors import documented, not_found
from backend.api.reads import (
    checked_address,
    epochs_attested,
    least,
    page_bounds,
    reliability_bps,
)
from backend.api.schemas.capacities import (
    BookingsSummary,
    BookLevel,
    BookOrder,
    BookSide,
    CapacityDetail,
    CapacityPage,
    CapacityPublic,
    EscrowFundsPublic,
    OrderBook,
)
from backend.api.schemas.nodes import NodeSummary
from backend.api.schemas.types import (
    INT64_MAX,
    PAGE_MAX,
    UINT256_MAX,
    AddressQuery,
    BigIntQuery,
    IdPath,
    Limit,
    Offset,
)
from backend.chain.protocol import HOUR, CapacityStatusName, CloseReasonName
from backend.db.models import Booking, Capacity, EscrowFunds, Node, table_of
from backend.market.order_state import OPEN_ORDERS, so
from backend.market.templates import CHAIN_ID, market_now

router = APIRouter(prefix="/capacities", tags=["capacities"])

cap = table_of(Capacity)
node = table_of(Node)
bk = table_of(Booking)
funds = table_of(EscrowFunds)

ASK_KINDS = ("primary_sell", "sell")
NO_CAPACITY = documented({404: "not_found: no such capacity"})


class SortKey(StrEnum):
    start = "start"
    price = "price"
    reliability = "reliability"
    gpus = "gpus"


class SortOrder(StrEnum):
    asc = "asc"
    desc = "desc"


class StatusFilter(StrEnum):
    active = CapacityStatusName.ACTIVE.value
    cancelled = CapacityStatusName.CANCELLED.value
    closed = CapacityStatusName.CLOSED.value
    any = "any"


def _best(kind: str, descending: bool) -> ColumnElement[Any]:
    """The best live price of one order kind on the capacity, as a correlated scalar subquery."""
    price = so.c.price.desc() if descending else so.c.price.asc()
    return (
        OPEN_ORDERS.with_only_columns(so.c.price)
        .where(so.c.capacity_id == cap.c.capacity_id, so.c.kind == kind)
        .order_by(price)
        .limit(1)
        .scalar_subquery()
    )


# One lookup per kind keeps each on the book index in price order; an IN over both would sort.
BEST_ASK = least(_best("primary_sell", False), _best("sell", False), type_=so.c.price.type)
BEST_BID = _best("buy", True)

#: Templates over CHAIN_ID and NOW (market/templates.py): capacities with their node, best prices and
#: the node's reliability, one row each; the filters on price and reliability, over their own parameters.
CAPACITIES = (
    select(
        cap,
        node.c.owner.label("node_owner"),
        node.c.gpu_model,
        node.c.gpu_count,
        node.c.vram_gb,
        node.c.region,
        node.c.interconnect,
        BEST_ASK.label("best_ask"),
        BEST_BID.label("best_bid"),
        reliability_bps(CHAIN_ID, cap.c.node_id).label("reliability_bps"),
        epochs_attested(CHAIN_ID, cap.c.node_id).label("epochs_attested"),
    )
    .select_from(cap.join(node, and_(node.c.chain_id == cap.c.chain_id, node.c.node_id == cap.c.node_id)))
    .where(cap.c.chain_id == CHAIN_ID)
)
ASK_AT_MOST = exists(
    OPEN_ORDERS.with_only_columns(so.c.order_hash).where(
        so.c.capacity_id == cap.c.capacity_id,
        so.c.kind.in_(ASK_KINDS),
        so.c.price <= bindparam("max_price", type_=so.c.price.type),
    )
)
RELIABILITY_AT_LEAST = reliability_bps(CHAIN_ID, cap.c.node_id) >= bindparam(
    "min_reliability", type_=BigInteger
)


def capacity_fields(row: Any) -> dict[str, Any]:
    m = row._mapping
    return {
        **{
            k: m[k]
            for k in (
                "capacity_id",
                "node_id",
                "provider",
                "start",
                "end",
                "status",
                "close_reason",
                "supply_cap",
                "minted",
                "supply",
                "activated",
                "bond",
                "unit_backing",
                "created_block",
                "created_time",
                "best_ask",
                "best_bid",
                "reliability_bps",
                "epochs_attested",
            )
        },
        "hours": (m["end"] - m["start"]) // HOUR,
        "units_available": m["supply_cap"] - m["minted"],
        "node": NodeSummary(
            node_id=m["node_id"],
            owner=m["node_owner"],
            gpu_model=m["gpu_model"],
            gpu_count=m["gpu_count"],
            vram_gb=m["vram_gb"],
            region=m["region"],
            interconnect=m["interconnect"],
        ),
    }


@router.get("", response_model=CapacityPage, summary="Capacities, filtered, sorted and paged")
def list_capacities(
    db: SessionDep,
    chain_id: ChainIdDep,
    settings: SettingsDep,
    gpu_model: Annotated[str | None, Query(description="the node's GPU model, exactly")] = None,
    region: Annotated[str | None, Query(description="the node's region, exactly")] = None,
    interconnect: Annotated[str | None, Query(description="NVLink, PCIe, InfiniBand, ...")] = None,
    min_gpus: Annotated[
        int | None, Query(ge=1, le=INT64_MAX, description="nodes with at least this many GPUs")
    ] = None,
    window_start_after: Annotated[BigIntQuery, Query(description="windows starting at or after")] = None,
    window_end_before: Annotated[BigIntQuery, Query(description="windows ending at or before")] = None,
    available_at: Annotated[BigIntQuery, Query(description="windows covering this time")] = None,
    status: Annotated[StatusFilter, Query(description="`any` for every status")] = StatusFilter.active,
    max_price: Annotated[
        int | None,
        Query(
            ge=0, le=UINT256_MAX, description="an open ask at or below this price per GPU-hour, base units"
        ),
    ] = None,
    min_reliability: Annotated[
        int | None, Query(ge=0, le=10_000, description="node reliability, bps")
    ] = None,
    provider: Annotated[AddressQuery, Query(description="the provider's address")] = None,
    sort: Annotated[
        SortKey, Query(description="start of the window, best ask, node reliability or GPUs")
    ] = SortKey.start,
    order: SortOrder = SortOrder.asc,
    limit: Limit = None,
    offset: Offset = 0,
) -> CapacityPage:
    limit, offset = page_bounds(settings, limit, offset)
    conn = db.connection()
    params: dict[str, Any] = {"chain_id": chain_id, "now": market_now(conn, chain_id)}
    query = CAPACITIES
    if status is not StatusFilter.any:
        query = query.where(cap.c.status == status.value)
    for column, value in (
        (node.c.gpu_model, gpu_model),
        (node.c.region, region),
        (node.c.interconnect, interconnect),
    ):
        if value is not None:
            query = query.where(column == value)
    if min_gpus is not None:
        query = query.where(node.c.gpu_count >= min_gpus)
    if window_start_after is not None:
        query = query.where(cap.c.start >= window_start_after)
    if window_end_before is not None:
        query = query.where(cap.c.end <= window_end_before)
    if available_at is not None:
        query = query.where(cap.c.start <= available_at, cap.c.end > available_at)
    if provider is not None:
        query = query.where(cap.c.provider == checked_address(provider, "provider"))
    if max_price is not None:
        query = query.where(ASK_AT_MOST)
        params["max_price"] = max_price
    if min_reliability is not None:
        query = query.where(RELIABILITY_AT_LEAST)
        params["min_reliability"] = min_reliability

    total = conn.execute(
        select(func.count()).select_from(query.with_only_columns(cap.c.capacity_id).subquery()), params
    ).scalar_one()
    key: ColumnElement[Any] = {
        SortKey.start: cap.c.start,
        SortKey.price: query.selected_columns.best_ask,
        SortKey.reliability: query.selected_columns.reliability_bps,
        SortKey.gpus: node.c.gpu_count,
    }[sort]
    direction = (lambda c: c.desc()) if order is SortOrder.desc else (lambda c: c.asc())
    # Capacities without an ask sort last either way; the id keeps pages stable.
    query = (
        query.order_by(direction(key).nulls_last(), direction(cap.c.capacity_id)).limit(limit).offset(offset)
    )
    items = [CapacityPublic(**capacity_fields(row)) for row in conn.execute(query, params)]
    return CapacityPage(items=items, total=total, limit=limit, offset=offset)


def _get_capacity(conn: Connection, chain_id: int, now: int, capacity_id: int) -> Any:
    row = conn.execute(
        CAPACITIES.where(cap.c.capacity_id == capacity_id), {"chain_id": chain_id, "now": now}
    ).first()
    if row is None:
        raise not_found("capacity", capacity_id)
    return row


@router.get(
    "/{capacity_id}",
    response_model=CapacityDetail,
    summary="One capacity: escrow, bookings, outcome",
    responses=NO_CAPACITY,
)
def get_capacity(db: SessionDep, chain_id: ChainIdDep, capacity_id: IdPath) -> CapacityDetail:
    conn = db.connection()
    now = market_now(conn, chain_id)
    row = _get_capacity(conn, chain_id, now, capacity_id)
    m = row._mapping
    escrow = conn.execute(
        select(funds).where(funds.c.chain_id == chain_id, funds.c.capacity_id == capacity_id)
    ).first()
    settled = bk.c.delivered_hours.is_not(None)

    def settled_sum(column: Any) -> ColumnElement[Any]:
        return func.coalesce(func.sum(case((settled, column), else_=0)), 0)

    by_reason = conn.execute(
        select(
            bk.c.close_reason,
            func.count().label("n"),
            func.sum(bk.c.gpus * bk.c.hours).label("gpu_hours"),
            func.sum(case((settled, 1), else_=0)).label("settled"),
            settled_sum(bk.c.delivered_hours).label("delivered"),
            settled_sum(bk.c.failed_hours).label("failed"),
            settled_sum(bk.c.paid).label("paid"),
            settled_sum(bk.c.refunded).label("refunded"),
            settled_sum(bk.c.slashed).label("slashed"),
        )
        .where(bk.c.chain_id == chain_id, bk.c.capacity_id == capacity_id)
        .group_by(bk.c.close_reason)
    ).all()
    bookings = BookingsSummary(
        count=sum(r.n for r in by_reason),
        open=sum(r.n for r in by_reason if r.close_reason == CloseReasonName.NONE),
        gpu_hours=sum(int(r.gpu_hours) for r in by_reason),
        by_close_reason={r.close_reason: r.n for r in by_reason},
        settled=sum(int(r.settled) for r in by_reason),
        delivered_hours=sum(int(r.delivered) for r in by_reason),
        failed_hours=sum(int(r.failed) for r in by_reason),
        paid=sum(int(r.paid) for r in by_reason),
        refunded=sum(int(r.refunded) for r in by_reason),
        slashed=sum(int(r.slashed) for r in by_reason),
    )
    return CapacityDetail(
        **capacity_fields(row),
        redeemed=m["redeemed"],
        expired=m["expired"],
        units_sold_at_cancel=m["units_sold_at_cancel"],
        closed_block=m["closed_block"],
        delivered_hours=m["delivered_hours"],
        failed_hours=m["failed_hours"],
        escrow=EscrowFundsPublic(**{k: escrow._mapping[k] for k in EscrowFundsPublic.model_fields})
        if escrow is not None
        else None,
        bookings=bookings,
    )


def _book_statements(descending: bool) -> tuple[Select, Select]:
    """(price levels, orders) of one kind of one capacity, best first, `depth` of each."""
    base = OPEN_ORDERS.where(
        so.c.capacity_id == bindparam("capacity_id", type_=BigInteger),
        so.c.kind == bindparam("kind", type_=String),
    )
    price = so.c.price.desc() if descending else so.c.price.asc()
    depth = bindparam("depth", type_=BigInteger)
    levels = (
        base.with_only_columns(so.c.price, func.sum(base.selected_columns.remaining), func.count())
        .group_by(so.c.price)
        .order_by(price)
        .limit(depth)
    )
    return levels, base.order_by(price, so.c.posted_at, so.c.order_hash).limit(depth)


#: Bids are read best (highest) first, asks lowest first.
BOOK = {descending: _book_statements(descending) for descending in (False, True)}


def _book_side(
    conn: Connection,
    chain_id: int,
    now: int,
    capacity_id: int,
    kinds: tuple[str, ...],
    descending: bool,
    depth: int,
) -> BookSide:
    """The best `depth` levels and orders of one side. Each kind is read along the book index in price
    order and cut at `depth`; the best `depth` of the union lie within the best `depth` of each."""
    levels: dict[int, list[int]] = {}
    orders: list[Any] = []
    by_level, by_order = BOOK[descending]
    for kind in kinds:
        params = {"chain_id": chain_id, "now": now, "capacity_id": capacity_id, "kind": kind, "depth": depth}
        for p, remaining, n in conn.execute(by_level, params):
            level = levels.setdefault(int(p), [0, 0])
            level[0] += int(remaining)
            level[1] += n
        orders.extend(conn.execute(by_order, params))
    best = sorted(levels, reverse=descending)[:depth]
    sign = -1 if descending else 1
    orders.sort(key=lambda r: (sign * int(r.price), r.posted_at, r.order_hash))
    return BookSide(
        levels=[BookLevel(price=p, remaining=levels[p][0], orders=levels[p][1]) for p in best],
        orders=[
            BookOrder(
                order_hash=r.order_hash,
                maker=r.maker,
                kind=r.kind,
                price=r.price,
                amount=r.amount,
                remaining=int(r.remaining),
                expiry=r.expiry,
            )
            for r in orders[:depth]
        ],
    )


@router.get(
    "/{capacity_id}/book",
    response_model=OrderBook,
    summary="The order book of a capacity",
    responses=NO_CAPACITY,
)
def get_book(
    db: SessionDep,
    chain_id: ChainIdDep,
    settings: SettingsDep,
    capacity_id: IdPath,
    depth: Annotated[
        int,
        Query(
            ge=1,
            description="price levels and orders per side; at most the server's page maximum",
            json_schema_extra={PAGE_MAX: True},
        ),
    ] = 20,
) -> OrderBook:
    page_bounds(settings, depth, 0, "depth")
    conn = db.connection()
    exists_row = conn.execute(
        select(cap.c.capacity_id).where(cap.c.chain_id == chain_id, cap.c.capacity_id == capacity_id)
    ).first()
    if exists_row is None:
        raise not_found("capacity", capacity_id)
    now = market_now(conn, chain_id)
    return OrderBook(
        capacity_id=capacity_id,
        depth=depth,
        as_of=now,
        asks=_book_side(conn, chain_id, now, capacity_id, ASK_KINDS, False, depth),
        bids=_book_side(conn, chain_id, now, capacity_id, ("buy",), True, depth),
    )
