"""What the market and an account look like, read from the API: capacities with their best prices, one
capacity's book, a portfolio. Nothing here signs."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from backend.chain.protocol import CloseReasonName
from backend.cli_common import Session, user_command
from backend.cli_orders import live_orders, order_json, orders_table
from backend.cli_units import parse_usd, plain_usd, show_time


@user_command(api=True, wallet=False)
def market(
    s: Session,
    capacity_id: Annotated[int | None, typer.Argument(help="one capacity and its book")] = None,
    gpu_model: Annotated[str | None, typer.Option(help="exactly, e.g. H100-SXM5-80GB")] = None,
    region: Annotated[str | None, typer.Option(help="exactly, e.g. eu-west")] = None,
    min_gpus: Annotated[int | None, typer.Option(min=1, help="nodes with at least this many GPUs")] = None,
    max_price: Annotated[str | None, typer.Option(help="an ask at or below this many dollars")] = None,
) -> None:
    """Capacities for sale with their best ask and bid, or one capacity with its book."""
    if capacity_id is not None:
        _book(s, capacity_id)
        return
    page = s.api.get(
        "/capacities",
        gpu_model=gpu_model,
        region=region,
        min_gpus=min_gpus,
        max_price=None if max_price is None else parse_usd(max_price, s.decimals),
        limit=500,
    )
    table = Table(title=f"Capacities for sale ({page['total']})")
    for column in ("capacity", "node", "region", "window", "GPU-hours left", "best ask", "best bid"):
        table.add_column(column)
    for c in page["items"]:
        n = c["node"]
        table.add_row(
            str(c["capacity_id"]),
            f"{n['gpu_count']}× {n['gpu_model']}",
            n["region"],
            f"{show_time(c['start'])}, {c['hours']} h",
            str(c["units_available"]),
            _price(s, c["best_ask"]),
            _price(s, c["best_bid"]),
        )
    s.out.result({"items": page["items"], "total": page["total"]}, table)


def _price(s: Session, price: Any) -> str:
    return "-" if price is None else s.usd(int(price))


def _book(s: Session, capacity_id: int) -> None:
    c = s.api.get(f"/capacities/{capacity_id}")
    items = live_orders(s, capacity_id=capacity_id)
    asks = sorted((i for i in items if i["kind"] != "buy"), key=lambda i: int(i["order"]["price"]))
    bids = sorted((i for i in items if i["kind"] == "buy"), key=lambda i: -int(i["order"]["price"]))
    n = c["node"]
    s.out.result(
        {
            "capacity": c,
            "asks": [order_json(i, s.decimals) for i in asks],
            "bids": [order_json(i, s.decimals) for i in bids],
        },
        f"capacity {capacity_id}: {n['gpu_count']}× {n['gpu_model']} in {n['region']}, "
        f"{show_time(c['start'])} to {show_time(c['end'])}, {c['status']}",
        orders_table("Asks, best first", asks, s),
        orders_table("Bids, best first", bids, s),
    )


@user_command(api=True, wallet=True)
def portfolio(
    s: Session,
    address: Annotated[str | None, typer.Option(help="whose; default the signer's")] = None,
) -> None:
    """GPU-hours held, bookings, open orders, money the escrow owes you."""
    who = s.address(address)
    p = s.api.get(f"/accounts/{who}/positions", limit=500)
    orders = live_orders(s, maker=who)
    balance, owed = s.market.usdc_balance(who), s.market.claimable(who)
    held = Table(title="GPU-hours held")
    for column in ("capacity", "GPU-hours", "node", "window", "status"):
        held.add_column(column)
    for pos in p["positions"]:
        held.add_row(
            str(pos["capacity_id"]),
            str(pos["amount"]),
            f"{pos['node_id']} ({pos['gpu_class']})",
            f"{show_time(pos['start'])} to {show_time(pos['end'])}",
            pos["status"],
        )
    bookings = Table(title="Bookings")
    for column in ("booking", "capacity", "from", "hours", "GPUs", "outcome"):
        bookings.add_column(column)
    for b in p["bookings"]:
        bookings.add_row(
            str(b["booking_id"]),
            str(b["capacity_id"]),
            show_time(b["start"]),
            str(b["hours"]),
            str(b["gpus"]),
            "open" if b.get("close_reason") in (None, CloseReasonName.NONE) else b["close_reason"],
        )
    s.out.result(
        {
            "address": who,
            "balance": balance,
            "balance_usd": plain_usd(balance, s.decimals),
            "claimable": owed,
            "claimable_usd": plain_usd(owed, s.decimals),
            "positions": p["positions"],
            "bookings": p["bookings"],
            "open_orders": [order_json(i, s.decimals) for i in orders],
        },
        f"{who}: {s.usd(balance)} in the wallet, {s.usd(owed)} claimable from the escrow",
        held,
        bookings,
        orders_table("Open orders", orders, s),
    )


COMMANDS = (market, portfolio)
