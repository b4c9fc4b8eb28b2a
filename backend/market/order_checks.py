"""Every check the Exchange would make when a posted order is filled, made when it is posted: its
terms (check_terms) and what the chain says now (check_on_chain)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from backend.chain.client import Market
from backend.chain.orders import Order, OrderKind
from backend.chain.protocol import CAPACITY_STATUSES, CapacityStatusName
from backend.market.errors import OrderConflict, OrderRejected

UINT128_MAX = 2**128 - 1
INT64_MAX = 2**63 - 1  # the store's BIGINT expiry column


@dataclass(frozen=True)
class Limits:
    """The market's own bounds on what it accepts (settings.api_max_price, settings.api_min_expiry)."""

    max_price: int
    min_expiry: float


def chain_now(market: Market) -> int:
    """The later of the wall clock and the chain's head: a fill mines in a block at least this late."""
    return max(int(time.time()), market.w3.eth.get_block("latest")["timestamp"])


def check_terms(
    order: Order,
    market: Market,
    limits: Limits,
    now: int,
    chain_id: int | None = None,
    verifying_contract: str | None = None,
) -> None:
    """The order's amount, price and expiry, and the EIP-712 domain the maker says it signed in
    (`chain_id`, `verifying_contract`; None when not said)."""
    if order.amount == 0:
        raise OrderRejected("zero_amount", "amount is 0: an order must offer at least one GPU-hour")
    if not 0 < order.price <= limits.max_price:
        raise OrderRejected(
            "price_out_of_range",
            f"price {order.price} is outside (0, {limits.max_price}] base units per GPU-hour",
        )
    if order.price * order.amount > UINT128_MAX:
        raise OrderRejected(
            "price_overflow",
            f"amount {order.amount} x price {order.price} exceeds what the Exchange settles (2^128 - 1)",
        )
    if order.expiry > INT64_MAX:
        raise OrderRejected(
            "expiry_out_of_range", f"expiry {order.expiry} is past 2^63 - 1 seconds; sign a unix time"
        )
    if order.expiry < now:
        raise OrderRejected("order_expired", f"the order expired at {order.expiry}; it is now {now}")
    if order.expiry < now + limits.min_expiry:
        raise OrderRejected(
            "expiry_too_soon",
            f"expiry {order.expiry} is less than "
            f"{limits.min_expiry:g} s after now ({now}); sign an order that lives longer",
        )
    if chain_id is not None and chain_id != market.chain_id:
        raise OrderRejected(
            "wrong_chain",
            f"the order was signed for chain {chain_id}; this market is on chain {market.chain_id}",
        )
    if verifying_contract is not None and verifying_contract != market.exchange.address:
        raise OrderRejected(
            "wrong_verifying_contract",
            f"the order was signed for verifying contract "
            f"{verifying_contract}; this market's Exchange is {market.exchange.address}",
        )


def check_on_chain(order: Order, digest: bytes, market: Market, now: int) -> None:
    """What Exchange._consume and the settlement of a fill would check, read from the chain now."""
    exchange, hours = market.exchange.functions, market.hours.functions
    h = "0x" + digest.hex()
    current = exchange.counter(order.maker).call()
    if order.counter != current:
        raise OrderRejected(
            "stale_counter",
            f"the order was signed under counter {order.counter}; "
            f"{order.maker}'s counter on the Exchange is {current}",
        )
    filled, cancelled = exchange.status(digest).call()
    if cancelled:
        raise OrderConflict("order_cancelled", f"order {h} is cancelled on chain")
    if filled >= order.amount:
        raise OrderConflict("order_filled", f"order {h} is filled ({filled} of {order.amount})")

    c = market.capacity(order.capacity_id)
    state = CAPACITY_STATUSES[c["status"]] if c["status"] < len(CAPACITY_STATUSES) else str(c["status"])
    if state == CapacityStatusName.NONE:
        raise OrderRejected("unknown_capacity", f"capacity {order.capacity_id} does not exist")
    if state != CapacityStatusName.ACTIVE:
        raise OrderRejected("capacity_not_active", f"capacity {order.capacity_id} is {state}")
    if now >= c["end"]:
        raise OrderRejected("window_ended", f"capacity {order.capacity_id}'s window ended at {c['end']}")

    if order.kind == OrderKind.PRIMARY_SELL:
        provider = hours.providerOf(order.capacity_id).call()
        if provider != order.maker:
            raise OrderRejected(
                "not_provider",
                f"{order.maker} cannot mint capacity {order.capacity_id}: its provider is {provider}",
            )
        cap = hours.supplyCap(order.capacity_id).call()
        left = cap - c["minted"]
        if order.amount - filled > left:
            raise OrderRejected(
                "supply_cap_exceeded",
                f"{order.amount - filled} GPU-hours to mint but "
                f"capacity {order.capacity_id} has {left} left ({c['minted']} of {cap} minted)",
            )
    elif order.kind == OrderKind.SELL:
        # exchangeTransfer moves the seller's hours without an ERC-1155 approval: holding them suffices.
        held = market.hours_of(order.maker, order.capacity_id)
        if held < order.amount - filled:
            raise OrderRejected(
                "insufficient_hours",
                f"{order.maker} holds {held} GPU-hours of capacity "
                f"{order.capacity_id}, fewer than the {order.amount - filled} offered",
            )
    else:
        total = (order.amount - filled) * order.price
        balance = market.usdc_balance(order.maker)
        if balance < total:
            raise OrderRejected(
                "insufficient_funds", f"the bid costs {total} base units; {order.maker} holds {balance}"
            )
