"""A posted order's state: its off-chain lifecycle (signed_order.status) joined with what the chain
says (order_state: filled, cancelled; maker_counter: orders signed under a lower counter are dead).

    withdrawn         the maker took it off the book through the API
    cancelled         cancelled on chain, by hash or by raising the maker's counter
    filled            filled in full
    expired           past its expiry
    partially_filled  open, some filled
    open              open, none filled

The first that applies wins. One SELECT serves a single order, a maker's orders and a whole book.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, or_, select

from backend.chain.orders import Order, OrderKind
from backend.db.models import ORDER_KINDS, MakerCounter, OrderState, SignedOrder, table_of
from backend.market.templates import CHAIN_ID, NOW

so = table_of(SignedOrder)
os_ = table_of(OrderState)
mc = table_of(MakerCounter)

FINAL = ("withdrawn", "cancelled", "filled", "expired")


def _filled() -> ColumnElement[Any]:
    return func.coalesce(os_.c.filled, 0)


def _dead_by_counter() -> ColumnElement[bool]:
    return and_(mc.c.counter.is_not(None), so.c.counter < mc.c.counter)


#: Every posted order of the chain with `filled`, `remaining` and `state` columns: a template over
#: CHAIN_ID and NOW (see templates.py).
ORDERS_WITH_STATE = (
    select(
        so,
        _filled().label("filled"),
        (so.c.amount - _filled()).label("remaining"),
        case(
            (so.c.status == "withdrawn", "withdrawn"),
            (or_(os_.c.cancelled.is_(True), _dead_by_counter()), "cancelled"),
            (_filled() >= so.c.amount, "filled"),
            (or_(so.c.status == "expired", so.c.expiry < NOW), "expired"),
            (_filled() > 0, "partially_filled"),
            else_="open",
        ).label("state"),
    )
    .select_from(
        so.outerjoin(
            os_, and_(os_.c.chain_id == so.c.chain_id, os_.c.order_hash == so.c.order_hash)
        ).outerjoin(mc, and_(mc.c.chain_id == so.c.chain_id, mc.c.maker == so.c.maker))
    )
    .where(so.c.chain_id == CHAIN_ID)
)

#: Orders that can still be filled now: open or partially filled.
OPEN_ORDERS = ORDERS_WITH_STATE.where(
    so.c.status == "open",
    so.c.expiry >= NOW,
    or_(os_.c.cancelled.is_(None), os_.c.cancelled.is_(False)),
    or_(mc.c.counter.is_(None), so.c.counter >= mc.c.counter),
    _filled() < so.c.amount,
)


def as_order(row: SignedOrder) -> Order:
    """The EIP-712 order a posted row was signed as."""
    return Order(
        row.maker,
        OrderKind(ORDER_KINDS.index(row.kind)),
        row.capacity_id,
        row.amount,
        row.price,
        row.expiry,
        row.salt,
        row.counter,
    )
