"""Market data for the read-side API tests, made on chain after a whole market round: three open
capacities with books of properly signed orders, some filled, cancelled, withdrawn or expired.

After `open_market` (on top of tests.backend.market_round.play_round):

    capacity  node                          window           asks (live)                bids (live)
    a         node 1 H100 4 GPU eu-west     t0 .. t0+4h      2.3 (3 left + 2), 2.4, 2.5  2.0, 1.9
    b         node 3 A100 8 GPU us-east IB  t0+2h .. t0+6h   1.5
    c         node 2 A100 2 GPU us-east     t0+1h .. t0+3h   -                          -

Dead orders that must not show: on a, a withdrawn ask at 2.0, an expired ask at 1.8 and a bid at 2.1
cancelled on chain; on b, an ask at 1.2 filled in full on chain.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, insert

from backend.chain.client import Market
from backend.chain.orders import OrderKind, SignedOrder
from backend.db.models import ORDER_KINDS, PostedOrder, table_of
from tests.backend.market_round import HOUR, Round
from tests.conftest import now

M = 10**6  # base units of one stablecoin unit


@dataclass
class OpenMarket:
    t0: int
    a: int
    b: int
    c: int
    node3: int
    orders: dict[str, SignedOrder] = field(default_factory=dict)
    rows: list[dict[str, Any]] = field(default_factory=list)


def order_row(
    market: Market, signed: SignedOrder, status: str = "open", posted_at: float = 0.0
) -> dict[str, Any]:
    o = signed.order
    return {
        "chain_id": market.chain_id,
        "order_hash": "0x" + signed.hash.hex(),
        "maker": o.maker,
        "kind": ORDER_KINDS[int(o.kind)],
        "capacity_id": o.capacity_id,
        "amount": o.amount,
        "price": o.price,
        "expiry": o.expiry,
        "salt": o.salt,
        "counter": o.counter,
        "signature": "0x" + signed.signature.hex(),
        "status": status,
        "posted_at": posted_at,
    }


def post_orders(engine: Engine, rows: list[dict[str, Any]]) -> None:
    """What the order API stores once a signature checks out, written directly."""
    with engine.begin() as conn:
        conn.execute(insert(table_of(PostedOrder)), rows)


def open_market(market: Market, rnd: Round, engine: Engine) -> OpenMarket:
    p1, p2, r3, r4, r5 = (rnd.accounts[i] for i in (1, 2, 3, 4, 5))
    node1, node2 = rnd.nodes
    t = now(market)
    t0 = t - t % HOUR + 2 * HOUR
    min_bond = market.min_bond_per_unit()
    node3 = market.register_node(p2, "A100-SXM4-80GB", 8, 80, "us-east", "InfiniBand", ["GPU-7", "GPU-8"])
    a = market.create_capacity(p1, node1, t0, t0 + 4 * HOUR, 1_000_000, 4 * 4 * min_bond)
    b = market.create_capacity(p2, node3, t0 + 2 * HOUR, t0 + 6 * HOUR, 1_000_000, 8 * 4 * min_bond)
    c = market.create_capacity(p1, node2, t0 + HOUR, t0 + 3 * HOUR, 1_000_000, 2 * 2 * min_bond)
    om = OpenMarket(t0=t0, a=a, b=b, c=c, node3=node3)

    ps, sell, buy = OrderKind.PRIMARY_SELL, OrderKind.SELL, OrderKind.BUY
    specs: list[tuple[str, Any, OrderKind, int, int, int, int, str]] = [
        # name, maker, kind, capacity, amount, price, expiry, status
        ("a_ask_25", p1, ps, a, 10, 2_500_000, t0, "open"),
        ("a_ask_23", p1, ps, a, 4, 2_300_000, t0, "open"),
        ("a_ask_23b", p1, ps, a, 2, 2_300_000, t0, "open"),
        ("a_ask_20_withdrawn", p1, ps, a, 5, 2_000_000, t0, "withdrawn"),
        ("a_ask_18_expired", p1, ps, a, 3, 1_800_000, t - 10, "open"),
        ("a_resale_24", r3, sell, a, 1, 2_400_000, t0, "open"),
        ("a_bid_19", r4, buy, a, 4, 1_900_000, t0, "open"),
        ("a_bid_20", r5, buy, a, 2, 2_000_000, t0, "open"),
        ("a_bid_21_cancelled", r5, buy, a, 1, 2_100_000, t0, "open"),
        ("b_ask_12_filled", p2, ps, b, 2, 1_200_000, t0, "open"),
        ("b_ask_15", p2, ps, b, 8, 1_500_000, t0 + 2 * HOUR, "open"),
    ]
    for i, (name, maker, kind, capacity, amount, price, expiry, status) in enumerate(specs):
        signed = market.sign(maker, kind, capacity, amount, price, expiry)
        om.orders[name] = signed
        om.rows.append(order_row(market, signed, status, posted_at=1_000.0 + i))

    market.fill(r3, om.orders["a_ask_23"], 1)  # 3 of 4 left; renter 3 now holds the hour it resells
    market.fill(r4, om.orders["b_ask_12_filled"], 2)
    market.cancel_orders(r5, [om.orders["a_bid_21_cancelled"].order])
    post_orders(engine, om.rows)
    return om
