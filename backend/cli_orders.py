"""Orders for the user commands: an expiry from the chain's clock, sign and post to the book, read the
book back as signed orders, and show orders as a table."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from backend.chain.orders import Order, OrderKind, SignedOrder
from backend.cli_common import Session
from backend.cli_errors import CliError, ExitCode
from backend.cli_units import parse_duration, parse_time, plain_usd, show_time

Hours = Annotated[int, typer.Option("--hours", min=1, help="GPU-hours")]
Price = Annotated[str, typer.Option("--price", help="dollars per GPU-hour, e.g. 2.10")]
ExpiresIn = Annotated[
    str, typer.Option("--expires-in", help="how long the order lives, from the chain's clock: 30m, 24h, 2d")
]
Expiry = Annotated[
    str | None,
    typer.Option(
        "--expiry", help="or when it expires: unix seconds or an ISO time (UTC)", show_default=False
    ),
]


def expiry_from(session: Session, expires_in: str, expiry: str | None) -> int:
    """The order's expiry; one already past on the chain's clock is refused (a dev chain's clock may run
    ahead of the wall's, so relative expiries count from the chain's)."""
    now = session.now()
    at = parse_time(expiry) if expiry is not None else now + parse_duration(expires_in)
    if at <= now:
        raise CliError(
            f"expired: the expiry {show_time(at)} ({at}) is not after the chain's time {show_time(now)} "
            f"({now}); sign expiries from the chain's clock, e.g. --expires-in 24h",
            ExitCode.EXPIRED,
            expiry=at,
            chain_time=now,
        )
    return at


def need_capacity(session: Session, capacity_id: int) -> dict[str, Any]:
    """The capacity as the chain has it; an unknown id is refused before anything is signed."""
    info = session.market.capacity(capacity_id)
    if info["status"] == 0:
        raise CliError(
            f"unknown capacity {capacity_id} on chain {session.market.chain_id}", ExitCode.NOT_FOUND
        )
    return info


def sign_and_post(
    session: Session, kind: OrderKind, capacity_id: int, amount: int, price: int, expiry: int
) -> dict[str, Any]:
    """Sign the order with the session's key and post it; the API checks it as the Exchange would fill
    it, so a refusal (its code, its reason) is told before the order is on any book."""
    m = session.market
    signed = m.sign(session.account, kind, capacity_id, amount, price, expiry)
    body = {
        **signed.order.message(),
        "signature": "0x" + signed.signature.hex(),
        "chainId": m.chain_id,
        "verifyingContract": m.exchange.address,
    }
    posted: dict[str, Any] = session.api.post("/orders", body, token=session.token())
    return posted


#: The states of an order that can still be filled (the API's PostedOrderState).
LIVE_STATES = ("open", "partially_filled")


def live_orders(session: Session, **filters: Any) -> list[dict[str, Any]]:
    """Orders of the book that can still be filled, by the API's filters (capacity_id, maker, kind)."""
    return [
        item
        for state in LIVE_STATES
        for item in session.api.get("/orders", state=state, limit=500, **filters)["items"]
    ]


def signed_from_api(item: dict[str, Any]) -> SignedOrder:
    """An order of the book (GET /orders) as the chain layer's SignedOrder, ready to fill."""
    o = item["order"]
    order = Order(
        o["maker"],
        OrderKind(int(o["kind"])),
        int(o["capacityId"]),
        int(o["amount"]),
        int(o["price"]),
        int(o["expiry"]),
        int(o["salt"]),
        int(o["counter"]),
    )
    return SignedOrder(order, bytes.fromhex(item["signature"][2:]), bytes.fromhex(item["hash"][2:]))


def order_json(item: dict[str, Any], decimals: int) -> dict[str, Any]:
    """An order of the book for --json: the API's fields with the price in dollars beside base units."""
    o = item["order"]
    return {
        "hash": item["hash"],
        "kind": item["kind"],
        "maker": o["maker"],
        "capacity_id": int(o["capacityId"]),
        "amount": int(o["amount"]),
        "remaining": int(item["remaining"]),
        "price": int(o["price"]),
        "price_usd": plain_usd(int(o["price"]), decimals),
        "expiry": int(o["expiry"]),
        "state": item["state"],
    }


def orders_table(title: str, items: list[dict[str, Any]], session: Session) -> Table:
    table = Table(title=title)
    for column in ("order", "kind", "capacity", "GPU-hours left", "$/GPU-hour", "expires", "state"):
        table.add_column(column, justify="right" if column[0] in "G$" else "left")
    for item in items:
        o = item["order"]
        table.add_row(
            item["hash"][:10] + "…",
            item["kind"],
            str(o["capacityId"]),
            f"{item['remaining']} of {o['amount']}",
            session.usd(int(o["price"])),
            show_time(int(o["expiry"])),
            item["state"],
        )
    return table


def posted_summary(posted: dict[str, Any], session: Session) -> str:
    o = posted["order"]
    what = {"primary_sell": "ask", "sell": "resale", "buy": "bid"}[posted["kind"]]
    return (
        f"posted {what} {posted['hash']}: {o['amount']} GPU-hours of capacity {o['capacityId']} at "
        f"{session.usd(int(o['price']))} per GPU-hour, until {show_time(int(o['expiry']))}"
    )
