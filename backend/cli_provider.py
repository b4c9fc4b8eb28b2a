"""`gpuhours provider ...`: register nodes, open and cancel capacity, post asks, see them, withdraw."""

from __future__ import annotations

from typing import Annotated

import typer
from eth_utils import is_address, to_checksum_address
from rich.table import Table

from backend.chain.client import to_bytes32
from backend.chain.orders import OrderKind
from backend.chain.protocol import HOUR
from backend.cli_common import Session, user_command
from backend.cli_errors import CliError, ExitCode
from backend.cli_escrow import withdraw_claimable
from backend.cli_orders import (
    ExpiresIn,
    Expiry,
    Hours,
    Price,
    expiry_from,
    need_capacity,
    order_json,
    orders_table,
    posted_summary,
    sign_and_post,
)
from backend.cli_units import parse_time, parse_usd, plain_usd, show_time

app = typer.Typer(help="Sell GPU-hours: nodes, capacity, asks, earnings.", no_args_is_help=True)
node_app = typer.Typer(help="The machines whose hours you sell.", no_args_is_help=True)
capacity_app = typer.Typer(
    help="Windows of a node's hours, each hour backed in escrow.", no_args_is_help=True
)
app.add_typer(node_app, name="node")
app.add_typer(capacity_app, name="capacity")


@node_app.command("register")
@user_command(api=False, wallet=True)
def node_register(
    s: Session,
    gpu_model: Annotated[str, typer.Option(help="e.g. H100-SXM5-80GB (32 ASCII characters at most)")],
    gpus: Annotated[int, typer.Option(min=1, max=255, help="GPUs in the node")],
    vram_gb: Annotated[int, typer.Option(min=1, max=65_535, help="memory per GPU, GB")],
    region: Annotated[str, typer.Option(help="e.g. eu-west")],
    gpu_uuid: Annotated[list[str], typer.Option(help="one per GPU (nvidia-smi -L): the node's identity")],
    interconnect: Annotated[str, typer.Option(help="NVLink, PCIe, InfiniBand, ...")] = "PCIe",
) -> None:
    """Register a node on chain; its GPUs' UUIDs make it one of a kind."""
    if len(gpu_uuid) != gpus:
        raise CliError(f"give one --gpu-uuid per GPU: {gpus} GPUs, {len(gpu_uuid)} UUIDs", ExitCode.USAGE)
    for name, text in (
        ("--gpu-model", gpu_model),
        ("--region", region),
        ("--interconnect", interconnect),
    ):
        try:
            to_bytes32(text)
        except (ValueError, UnicodeEncodeError):
            raise CliError(f"{name} {text!r}: 32 ASCII characters at most", ExitCode.USAGE) from None
    m, account = s.market, s.account
    node_id = s.send(
        f"registered {gpus}× {gpu_model} in {region}",
        lambda: m.register_node(account, gpu_model, gpus, vram_gb, region, interconnect, gpu_uuid),
    )
    s.out.result(
        {"node_id": node_id, "owner": account.address, "gpu_model": gpu_model, "gpus": gpus},
        f"node {node_id}: {gpus}× {gpu_model}, {vram_gb} GB, {region}, {interconnect}",
    )


@node_app.command("list")
@user_command(api=True, wallet=True)
def node_list(
    s: Session,
    owner: Annotated[
        str | None, typer.Option(help="whose nodes; default: the signer's, or everyone's without a key")
    ] = None,
) -> None:
    """Registered nodes, with their attested reliability."""
    if owner is not None and not is_address(owner):
        raise CliError(f"--owner {owner!r} is not an address", ExitCode.USAGE)
    who = to_checksum_address(owner) if owner else (s.account.address if s.wallet.given() else None)
    page = s.api.get("/nodes", owner=who, limit=500)
    table = Table(title=f"Nodes of {who}" if who else "Nodes")
    for column in ("node", "GPUs", "model", "region", "interconnect", "reliability"):
        table.add_column(column)
    for n in page["items"]:
        reliability = n.get("reliability_bps")
        table.add_row(
            str(n["node_id"]),
            str(n["gpu_count"]),
            n["gpu_model"],
            n["region"],
            n["interconnect"],
            "-" if reliability is None else f"{reliability / 100:.2f} %",
        )
    s.out.result({"items": page["items"], "total": page["total"]}, table)


@capacity_app.command("open")
@user_command(api=False, wallet=True)
def capacity_open(
    s: Session,
    node: Annotated[int, typer.Option(min=1, help="your node's id")],
    hours: Annotated[int, typer.Option(min=1, help="length of the window")],
    backing: Annotated[str, typer.Option(help="dollars held in escrow for each GPU-hour sold, e.g. 2.10")],
    start: Annotated[
        str | None,
        typer.Option(
            help="a whole hour: unix seconds or ISO time; default the next hour on the chain's clock"
        ),
    ] = None,
    bond: Annotated[str | None, typer.Option(help="dollars; default the minimum for the window")] = None,
) -> None:
    """Open a window of a node's hours for sale; the bond goes into escrow now."""
    m, account = s.market, s.account
    owner, gpu_count = m.hours.functions.node(node).call()[:2]
    if int(owner, 16) == 0:
        raise CliError(f"unknown node {node} on chain {m.chain_id}", ExitCode.NOT_FOUND)
    if owner != account.address:
        raise CliError(f"node {node} belongs to {owner}, not to {account.address}", ExitCode.FAILED)
    now = s.now()
    begin = parse_time(start) if start is not None else now - now % HOUR + HOUR
    unit_backing = parse_usd(backing, s.decimals)
    minimum = gpu_count * hours * m.min_bond_per_unit()
    amount = parse_usd(bond, s.decimals) if bond is not None else minimum
    if amount < minimum:
        raise CliError(
            f"the bond {s.usd(amount)} is below the minimum {s.usd(minimum)} for "
            f"{gpu_count} GPUs × {hours} h",
            ExitCode.USAGE,
        )
    s.need_balance(amount, f"a bond for {gpu_count} GPUs × {hours} h")
    if s.allowance(m.escrow.address) < amount:
        s.add_allowance(m.escrow.address, amount, "escrow")
    end = begin + hours * HOUR
    capacity_id = s.send(
        f"opened {hours} h of node {node} from {show_time(begin)}",
        lambda: m.create_capacity(account, node, begin, end, unit_backing, amount),
    )
    s.out.result(
        {
            "capacity_id": capacity_id,
            "node_id": node,
            "start": begin,
            "end": end,
            "units": gpu_count * hours,
            "backing": unit_backing,
            "backing_usd": plain_usd(unit_backing, s.decimals),
            "bond": amount,
            "bond_usd": plain_usd(amount, s.decimals),
        },
        f"capacity {capacity_id}: {gpu_count * hours} GPU-hours of node {node}, {show_time(begin)} to "
        f"{show_time(end)}, each backed by {s.usd(unit_backing)}; bond {s.usd(amount)}",
    )


@capacity_app.command("cancel")
@user_command(api=False, wallet=True)
def capacity_cancel(
    s: Session,
    capacity_id: Annotated[int, typer.Argument(help="the capacity to cancel (before its window starts)")],
) -> None:
    """Cancel a window before it starts: holders redeem their hours for a refund, the bond comes back."""
    m, account = s.market, s.account
    need_capacity(s, capacity_id)
    s.send(f"cancelled capacity {capacity_id}", lambda: m.cancel_capacity(account, capacity_id))
    owed = m.claimable(account.address)
    s.out.result(
        {"capacity_id": capacity_id, "claimable": owed, "claimable_usd": plain_usd(owed, s.decimals)},
        f"capacity {capacity_id} cancelled; the escrow owes you {s.usd(owed)} (gpuhours provider withdraw)",
    )


@app.command("sell")
@user_command(api=True, wallet=True)
def sell(
    s: Session,
    capacity_id: Annotated[int, typer.Argument(help="your capacity")],
    hours: Hours,
    price: Price,
    expires_in: ExpiresIn = "24h",
    expiry: Expiry = None,
) -> None:
    """Sign an ask for hours of your capacity and post it to the book (minted when bought)."""
    unit_price = parse_usd(price, s.decimals)
    need_capacity(s, capacity_id)
    at = expiry_from(s, expires_in, expiry)
    posted = sign_and_post(s, OrderKind.PRIMARY_SELL, capacity_id, hours, unit_price, at)
    s.out.result(order_json(posted, s.decimals), posted_summary(posted, s))


@app.command("orders")
@user_command(api=True, wallet=True)
def orders(
    s: Session,
    state: Annotated[
        str | None, typer.Option(help="open, partially_filled, filled, cancelled, expired, withdrawn")
    ] = None,
) -> None:
    """Your orders on the book, newest first."""
    page = s.api.get("/orders", maker=s.account.address, state=state, limit=500)
    s.out.result(
        {"items": [order_json(i, s.decimals) for i in page["items"]], "total": page["total"]},
        orders_table(f"Orders of {s.account.address}", page["items"], s),
    )


@app.command("withdraw")
@user_command(api=False, wallet=True)
def withdraw(s: Session) -> None:
    """Withdraw what the escrow owes you: earnings released by settlement, bonds returned."""
    amount = withdraw_claimable(s)
    balance = s.market.usdc_balance(s.account.address)
    s.out.result(
        {"withdrawn": amount, "withdrawn_usd": plain_usd(amount, s.decimals), "balance": balance},
        f"withdrew {s.usd(amount)}; {s.account.address} now holds {s.usd(balance)}",
    )


@app.command("earnings")
@user_command(api=True, wallet=True)
def earnings(s: Session) -> None:
    """Per capacity: hours sold, money held in escrow until settlement, paid out, slashed; and what the
    escrow owes you now."""
    me = s.account.address
    listed = s.api.get("/capacities", provider=me, status="any", limit=500)["items"]
    rows = []
    for c in listed:
        escrow = s.api.get(f"/capacities/{c['capacity_id']}")["escrow"]
        rows.append(
            {
                "capacity_id": c["capacity_id"],
                "status": c["status"],
                "sold": c["minted"],
                "held": escrow["backing"] + escrow["premium"],
                "released": escrow["released"],
                "slashed": escrow["slashed"],
                "bond": escrow["bond"],
            }
        )
    owed = s.market.claimable(me)
    table = Table(title=f"Earnings of {me}")
    for column in (
        "capacity",
        "status",
        "GPU-hours sold",
        "held in escrow",
        "paid out",
        "slashed",
        "bond",
    ):
        table.add_column(column, justify="left" if column in ("capacity", "status") else "right")
    for r in rows:
        money = (s.usd(r[k]) for k in ("held", "released", "slashed", "bond"))
        table.add_row(str(r["capacity_id"]), r["status"], str(r["sold"]), *money)
    s.out.result(
        {"capacities": rows, "claimable": owed, "claimable_usd": plain_usd(owed, s.decimals)},
        table,
        f"the escrow owes you {s.usd(owed)} now (gpuhours provider withdraw)",
    )
