"""Accounts: what an address holds (GPU-hours per capacity at the mark), its bookings and how they ended,
its escrow credit and open orders."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import Connection, and_, func, select

from backend.api.deps import ChainIdDep, SessionDep, SettingsDep
from backend.api.errors import documented
from backend.api.reads import checked_address, page_bounds
from backend.api.routes.prices import latest_marks
from backend.api.schemas.accounts import BookingPage, BookingPublic, PositionPublic, Positions
from backend.api.schemas.types import AddressPath, Limit, Offset
from backend.db.models import Balance, Booking, Capacity, EscrowAccount, Node, table_of
from backend.market.order_state import OPEN_ORDERS, so
from backend.market.templates import market_now

router = APIRouter(prefix="/accounts", tags=["accounts"])

bal = table_of(Balance)
bk = table_of(Booking)
cap = table_of(Capacity)
node = table_of(Node)
acct = table_of(EscrowAccount)

BAD_ADDRESS = documented({422: "invalid_address: not an address, or a wrong checksum; invalid_request"})


def _bookings(
    conn: Connection, chain_id: int, holder: str, limit: int, offset: int
) -> tuple[list[BookingPublic], int]:
    where = (bk.c.chain_id == chain_id, bk.c.holder == holder)
    total = conn.execute(select(func.count()).where(*where)).scalar_one()
    rows = conn.execute(
        select(bk)
        .where(*where)
        .order_by(bk.c.activated_block.desc(), bk.c.booking_id.desc())
        .limit(limit)
        .offset(offset)
    )
    items = [
        BookingPublic(
            **{k: r._mapping[k] for k in BookingPublic.model_fields if k != "settled"},
            settled=r.delivered_hours is not None,
        )
        for r in rows
    ]
    return items, total


@router.get(
    "/{address}/positions",
    response_model=Positions,
    summary="Holdings, bookings, escrow credit",
    responses=BAD_ADDRESS,
)
def positions(
    db: SessionDep,
    chain_id: ChainIdDep,
    settings: SettingsDep,
    address: AddressPath,
    limit: Annotated[
        Limit,
        Query(
            description="positions per page and newest bookings shown; "
            "default 50, at most the server's page maximum",
        ),
    ] = None,
    offset: Annotated[Offset, Query(description="of the positions")] = 0,
) -> Positions:
    holder = checked_address(address)
    limit, offset = page_bounds(settings, limit, offset)
    conn = db.connection()
    now = market_now(conn, chain_id)
    held = bal.join(cap, and_(cap.c.chain_id == bal.c.chain_id, cap.c.capacity_id == bal.c.capacity_id)).join(
        node, and_(node.c.chain_id == cap.c.chain_id, node.c.node_id == cap.c.node_id)
    )
    where = (bal.c.chain_id == chain_id, bal.c.holder == holder)
    positions_total = conn.execute(select(func.count()).where(*where)).scalar_one()
    rows = conn.execute(
        select(
            bal.c.capacity_id,
            bal.c.amount,
            cap.c.node_id,
            node.c.gpu_model,
            cap.c.start,
            cap.c.end,
            cap.c.status,
            cap.c.close_reason,
        )
        .select_from(held)
        .where(*where)
        .order_by(bal.c.capacity_id)
        .limit(limit)
        .offset(offset)
    ).all()
    marks = latest_marks(conn, chain_id, {r.gpu_model for r in rows}) if rows else {}
    items = []
    for r in rows:
        mark, _ = marks.get(r.gpu_model, (None, None))
        items.append(
            PositionPublic(
                capacity_id=r.capacity_id,
                amount=r.amount,
                node_id=r.node_id,
                gpu_class=r.gpu_model,
                start=r.start,
                end=r.end,
                status=r.status,
                close_reason=r.close_reason,
                mark_price=mark,
                mark_value=None if mark is None else r.amount * mark,
            )
        )
    account: Any = conn.execute(
        select(acct).where(acct.c.chain_id == chain_id, acct.c.account == holder)
    ).first()
    orders = conn.execute(
        select(func.count()).select_from(
            OPEN_ORDERS.with_only_columns(so.c.order_hash).where(so.c.maker == holder).subquery()
        ),
        {"chain_id": chain_id, "now": now},
    ).scalar_one()
    bookings, bookings_total = _bookings(conn, chain_id, holder, limit, 0)
    return Positions(
        address=holder,
        claimable=account.claimable if account else 0,
        credited=account.credited if account else 0,
        withdrawn=account.withdrawn if account else 0,
        open_orders=orders,
        positions=items,
        positions_total=positions_total,
        limit=limit,
        offset=offset,
        bookings=bookings,
        bookings_total=bookings_total,
    )


@router.get(
    "/{address}/bookings",
    response_model=BookingPage,
    summary="An address's bookings, newest first",
    responses=BAD_ADDRESS,
)
def bookings(
    db: SessionDep,
    chain_id: ChainIdDep,
    settings: SettingsDep,
    address: AddressPath,
    limit: Limit = None,
    offset: Offset = 0,
) -> BookingPage:
    holder = checked_address(address)
    limit, offset = page_bounds(settings, limit, offset)
    items, total = _bookings(db.connection(), chain_id, holder, limit, offset)
    return BookingPage(items=items, total=total, limit=limit, offset=offset)
