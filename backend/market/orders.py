"""The book of posted orders: post one (every check passed), withdraw one, read one or many with
their state now. Plain functions of a session or connection and the chain; errors from errors.py."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Connection, Row, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col
from web3.types import TxParams

from backend.chain.client import Market
from backend.chain.orders import DOMAIN_NAME, DOMAIN_VERSION, Order, order_hash
from backend.db.models import ORDER_KINDS, PostedOrder
from backend.market.errors import NotMaker, OrderConflict, OrderNotFound, OrderRejected
from backend.market.order_checks import Limits, chain_now, check_on_chain, check_terms
from backend.market.order_state import ORDERS_WITH_STATE, OrderStatus, PostedOrderState, as_order, so
from backend.market.signatures import signed_by


def post(
    db: Session,
    market: Market,
    order: Order,
    signature: str,
    limits: Limits,
    chain_id: int | None = None,
    verifying_contract: str | None = None,
) -> tuple[str, int]:
    """Check `order` as the Exchange would fill it now and put it on the book, signed with `signature`
    (0x hex) in the domain the maker says (`chain_id`, `verifying_contract`; None when not said).
    Returns its hash and the time it was judged at."""
    now = chain_now(market)
    check_terms(order, market, limits, now, chain_id, verifying_contract)
    digest = order_hash(order, market.chain_id, market.exchange.address)
    h = "0x" + digest.hex()
    if db.get(PostedOrder, (market.chain_id, h)) is not None:
        raise OrderConflict("duplicate_order", f"order {h} is already posted")
    if not signed_by(market, order.maker, digest, bytes.fromhex(signature[2:])):
        raise OrderRejected(
            "bad_signature",
            f"the signature is not {order.maker}'s over order {h} in domain "
            f"({DOMAIN_NAME!r}, {DOMAIN_VERSION!r}, chain {market.chain_id}, "
            f"{market.exchange.address})",
        )
    check_on_chain(order, digest, market, now)
    db.rollback()  # the INSERT opens its own transaction: SQLite cannot upgrade an overtaken read snapshot
    posted = time.time()
    db.add(
        PostedOrder(
            chain_id=market.chain_id,
            order_hash=h,
            maker=order.maker,
            kind=ORDER_KINDS[order.kind],
            capacity_id=order.capacity_id,
            amount=order.amount,
            price=order.price,
            expiry=order.expiry,
            salt=order.salt,
            counter=order.counter,
            signature=signature,
            posted_at=posted,
            updated_at=posted,
        )
    )
    try:
        db.commit()
    except IntegrityError:
        db.rollback()
        raise OrderConflict("duplicate_order", f"order {h} is already posted") from None
    return h, now


def withdraw(db: Session, market: Market, h: str, maker: str) -> TxParams:
    """Take order `h` off the book at once, as its `maker`; returns the unsigned `Exchange.cancel`
    transaction that stops it on chain too."""
    h = h.lower()
    row = db.get(PostedOrder, (market.chain_id, h))
    if row is None:
        raise OrderNotFound("not_found", f"no order {h} on chain {market.chain_id}")
    if row.maker != maker:
        raise NotMaker("not_maker", f"order {h} is {row.maker}'s; you are signed in as {maker}")
    tx = market.build_tx(row.maker, market.exchange.functions.cancel([as_order(row).as_tuple()]))
    db.rollback()  # one UPDATE in a transaction of its own (see post)
    db.exec(
        update(PostedOrder)
        .where(
            col(PostedOrder.chain_id) == market.chain_id,
            col(PostedOrder.order_hash) == h,
        )
        .values(status=OrderStatus.WITHDRAWN, updated_at=time.time())
    )
    db.commit()
    return tx


def load(conn: Connection, chain_id: int, now: int, h: str) -> Row[Any]:
    """Order `h` with its `filled`, `remaining` and `state` columns (order_state.ORDERS_WITH_STATE)."""
    row = conn.execute(
        ORDERS_WITH_STATE.where(so.c.order_hash == h.lower()), {"chain_id": chain_id, "now": now}
    ).first()
    if row is None:
        raise OrderNotFound("not_found", f"no order {h.lower()} on chain {chain_id}")
    return row


def page(
    conn: Connection,
    chain_id: int,
    now: int,
    limit: int,
    offset: int,
    maker: str | None = None,
    capacity_id: int | None = None,
    kind: str | None = None,
    state: PostedOrderState | None = None,
) -> tuple[list[Row[Any]], int]:
    """Orders newest first, as `load` reads them, filtered where a filter is given; and how many."""
    params = {"chain_id": chain_id, "now": now}
    q = ORDERS_WITH_STATE
    if maker is not None:
        q = q.where(so.c.maker == maker)
    if capacity_id is not None:
        q = q.where(so.c.capacity_id == capacity_id)
    if kind is not None:
        q = q.where(so.c.kind == kind)
    sub = q.subquery()
    filtered = select(sub)
    if state is not None:
        filtered = filtered.where(sub.c.state == state)
    total = conn.execute(select(func.count()).select_from(filtered.subquery()), params).scalar_one()
    ordered = filtered.order_by(sub.c.posted_at.desc(), sub.c.order_hash).limit(limit).offset(offset)
    return list(conn.execute(ordered, params).all()), total
