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

from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, Row, and_, case, func, or_, select

from backend.chain.orders import Order, OrderKind
from backend.db import models
from backend.db.models import ORDER_KINDS, MakerCounter, PostedOrder, table_of
from backend.market.templates import CHAIN_ID, NOW


class OrderStatus(StrEnum):
    """A posted order's off-chain lifecycle, as stored in signed_order.status."""

    OPEN = "open"
    WITHDRAWN = "withdrawn"  # the maker took it off the book through the API
    EXPIRED = "expired"  # past its expiry, marked by the expiry task


class PostedOrderState(StrEnum):
    """A posted order's state now: its status joined with what the chain says (see above). Not the
    store's `order_state` table (models.OrderState), which is the chain's half of it."""

    OPEN = "open"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"


so = table_of(PostedOrder)
os_ = table_of(models.OrderState)
mc = table_of(MakerCounter)

FINAL = (
    PostedOrderState.WITHDRAWN,
    PostedOrderState.CANCELLED,
    PostedOrderState.FILLED,
    PostedOrderState.EXPIRED,
)


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
            (so.c.status == OrderStatus.WITHDRAWN, PostedOrderState.WITHDRAWN.value),
            (or_(os_.c.cancelled.is_(True), _dead_by_counter()), PostedOrderState.CANCELLED.value),
            (_filled() >= so.c.amount, PostedOrderState.FILLED.value),
            (or_(so.c.status == OrderStatus.EXPIRED, so.c.expiry < NOW), PostedOrderState.EXPIRED.value),
            (_filled() > 0, PostedOrderState.PARTIALLY_FILLED.value),
            else_=PostedOrderState.OPEN.value,
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
    so.c.status == OrderStatus.OPEN,
    so.c.expiry >= NOW,
    or_(os_.c.cancelled.is_(None), os_.c.cancelled.is_(False)),
    or_(mc.c.counter.is_(None), so.c.counter >= mc.c.counter),
    _filled() < so.c.amount,
)


def as_order(row: PostedOrder | Row[*tuple[Any, ...]]) -> Order:
    """The EIP-712 order a posted row (or a row of the queries above) was signed as."""
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
