"""The renter's commands: buy, activate, resell, bid, cancel orders, claim refunds."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Annotated

import typer
from eth_utils import to_checksum_address

from backend.chain import eip712
from backend.chain.client import FillResult
from backend.chain.orders import OrderKind, SignedOrder, order_hash
from backend.chain.protocol import HOUR, CapacityStatus
from backend.cli_common import Session, user_command
from backend.cli_errors import CliError, ExitCode
from backend.cli_escrow import withdraw_claimable
from backend.cli_orders import (
    ExpiresIn,
    Expiry,
    Hours,
    Price,
    expiry_from,
    live_orders,
    need_capacity,
    order_json,
    posted_summary,
    sign_and_post,
    signed_from_api,
)
from backend.cli_units import parse_time, parse_usd, plain_usd, show_time

CapacityArg = Annotated[int, typer.Argument(help="the capacity (one ERC-1155 id)")]
#: How long a permit signed for one fill stays good, in seconds.
PERMIT_LIFETIME = HOUR


def _best_asks(
    s: Session, capacity_id: int, hours: int, max_price: int | None
) -> list[tuple[SignedOrder, int]]:
    """The cheapest live asks of others for `hours` GPU-hours: (order, amount to take) each. Chosen by
    what the makers signed, not by what the API says of it: another capacity's order, or a bid, is
    never taken, whatever the book answers."""
    me = s.account.address
    asks = []
    for item in live_orders(s, capacity_id=capacity_id):
        signed = signed_from_api(item)
        o = signed.order
        if (
            o.capacity_id == capacity_id
            and o.kind != OrderKind.BUY
            and to_checksum_address(o.maker) != me
            and (max_price is None or o.price <= max_price)
        ):
            asks.append((o.price, item["posted_at"], signed, min(int(item["remaining"]), o.amount)))
    asks.sort(key=lambda a: (a[0], a[1]))
    picked, left = [], hours
    for _, _, signed, remaining in asks:
        if left == 0:
            break
        take = min(remaining, left)
        picked.append((signed, take))
        left -= take
    if left:
        limit = "" if max_price is None else f" at or below {s.usd(max_price)}"
        raise CliError(
            f"only {hours - left} GPU-hours of capacity {capacity_id} are for sale{limit}; "
            f"you asked for {hours}",
            ExitCode.INSUFFICIENT,
            available=hours - left,
        )
    return picked


def _fill_with_permit(s: Session, signed: SignedOrder, amount: int, cost: int) -> list[FillResult]:
    """One fill that pays through an EIP-2612 permit signed here: no approval transaction. The permit
    sets the allowance to what it was plus the cost, so what open bids may take stays theirs. It is
    built from the chain alone (the stablecoin's domain and nonce): the exchange is its only spender."""
    m, account = s.market, s.account
    deadline = s.now() + PERMIT_LIFETIME
    value = s.allowance(m.exchange.address) + cost
    _, name, version, chain_id, contract, _, _ = m.usdc.functions.eip712Domain().call()
    typed = eip712.typed_data(
        eip712.domain(name, version, chain_id, contract),
        "Permit",
        {"Permit": eip712.PERMIT_FIELDS},
        {
            "owner": account.address,
            "spender": m.exchange.address,
            "value": value,
            "nonce": m.usdc.functions.nonces(account.address).call(),
            "deadline": deadline,
        },
    )
    sig = eip712.sign(typed, account)
    permit = (value, deadline, sig[64], sig[:32], sig[32:64])
    fn = m.exchange.functions.fillWithPermit(signed.order.as_tuple(), signed.signature, amount, permit)
    receipt = m.send(account, fn)
    return [
        FillResult(e["orderHash"], e["amount"], e["fee"], receipt)
        for e in m.events(receipt, m.exchange, "OrderFilled")
    ]


@user_command(api=True, wallet=True)
def buy(
    s: Session,
    capacity_id: CapacityArg,
    hours: Hours,
    max_price: Annotated[str | None, typer.Option(help="dollars per GPU-hour at most")] = None,
) -> None:
    """Buy GPU-hours from the cheapest asks, several in one batch fill; a permit pays for a single one."""
    m, account = s.market, s.account
    limit = None if max_price is None else parse_usd(max_price, s.decimals)
    picked = _best_asks(s, capacity_id, hours, limit)
    cost = sum(signed.order.price * amount for signed, amount in picked)
    s.need_balance(cost, f"{hours} GPU-hours")
    allowance = s.allowance(m.exchange.address)
    what = f"bought {hours} GPU-hours of capacity {capacity_id} for {s.usd(cost)}"
    fills: Callable[[], list[FillResult]]
    if len(picked) == 1 and allowance < cost:
        fills = lambda: _fill_with_permit(s, picked[0][0], picked[0][1], cost)  # noqa: E731
    else:
        if allowance < cost:
            s.add_allowance(m.exchange.address, cost, "exchange")
        fills = lambda: m.fill_batch(account, picked)  # noqa: E731
    done = s.send(what, fills)
    held = m.hours_of(account.address, capacity_id)
    s.out.result(
        {
            "capacity_id": capacity_id,
            "hours": hours,
            "cost": cost,
            "cost_usd": plain_usd(cost, s.decimals),
            "fills": [{"order": "0x" + f.order_hash.hex(), "amount": f.amount, "fee": f.fee} for f in done],
            "held": held,
            "tx": done[0].receipt["transactionHash"].to_0x_hex(),
        },
        f"{what} from {len(done)} order(s) in one transaction; you hold {held} GPU-hours of it",
    )


@user_command(api=False, wallet=True)
def activate(
    s: Session,
    capacity_id: CapacityArg,
    hours: Annotated[int, typer.Option(min=1, max=65_535, help="consecutive hours")],
    gpus: Annotated[int, typer.Option(min=1, max=255, help="GPUs each hour")] = 1,
    start: Annotated[
        str | None,
        typer.Option(help="a whole hour (unix seconds or ISO); default the window's start or the next hour"),
    ] = None,
) -> None:
    """Book GPUs for hours of the window: burns hours × GPUs of your GPU-hours."""
    m, account = s.market, s.account
    info = need_capacity(s, capacity_id)
    now = s.now()
    begin = parse_time(start) if start is not None else max(info["start"], now - now % HOUR + HOUR)
    units = hours * gpus
    held = m.hours_of(account.address, capacity_id)
    if held < units:
        raise CliError(
            f"insufficient GPU-hours: {gpus} GPUs × {hours} h need {units} of capacity {capacity_id}; "
            f"you hold {held}",
            ExitCode.INSUFFICIENT,
            needed=units,
            held=held,
        )
    booking = s.send(
        f"booked {gpus} GPUs × {hours} h from {show_time(begin)}",
        lambda: m.activate(account, capacity_id, begin, hours, gpus),
    )
    s.out.result(
        {
            "booking_id": str(booking),
            "capacity_id": capacity_id,
            "start": begin,
            "hours": hours,
            "gpus": gpus,
        },
        f"booking {booking}: {gpus} GPUs × {hours} h of capacity {capacity_id} from {show_time(begin)}",
    )


@user_command(api=True, wallet=True)
def sell(
    s: Session,
    capacity_id: CapacityArg,
    hours: Hours,
    price: Price,
    expires_in: ExpiresIn = "24h",
    expiry: Expiry = None,
) -> None:
    """Resell GPU-hours you hold: sign an ask and post it; the buyer pays you directly."""
    unit_price = parse_usd(price, s.decimals)
    need_capacity(s, capacity_id)
    held = s.market.hours_of(s.account.address, capacity_id)
    if held < hours:
        raise CliError(
            f"insufficient GPU-hours: you hold {held} of capacity {capacity_id}, not {hours}",
            ExitCode.INSUFFICIENT,
            held=held,
        )
    at = expiry_from(s, expires_in, expiry)
    posted = sign_and_post(s, OrderKind.SELL, capacity_id, hours, unit_price, at)
    s.out.result(order_json(posted, s.decimals), posted_summary(posted, s))


@user_command(api=True, wallet=True)
def bid(
    s: Session,
    capacity_id: CapacityArg,
    hours: Hours,
    price: Price,
    expires_in: ExpiresIn = "24h",
    expiry: Expiry = None,
) -> None:
    """Bid for GPU-hours: sign a buy order and post it; the exchange is approved for what it costs."""
    m = s.market
    unit_price = parse_usd(price, s.decimals)
    need_capacity(s, capacity_id)
    cost = hours * unit_price
    s.need_balance(cost, f"a bid for {hours} GPU-hours")
    at = expiry_from(s, expires_in, expiry)
    posted = sign_and_post(s, OrderKind.BUY, capacity_id, hours, unit_price, at)
    # After the book took it: a refused bid leaves the allowance as it was.
    s.add_allowance(m.exchange.address, cost, "exchange")
    s.out.result(order_json(posted, s.decimals), posted_summary(posted, s))


@user_command(api=True, wallet=True)
def claim(s: Session) -> None:
    """Claim refunds: redeem hours of cancelled capacities, then withdraw all the escrow owes you."""
    m, account = s.market, s.account
    redeemed = []
    for pos in s.api.get(f"/accounts/{account.address}/positions", limit=500)["positions"]:
        c = pos["capacity_id"]
        held = m.hours_of(account.address, c)
        if held and m.capacity(c)["status"] == CapacityStatus.CANCELLED:
            s.send(
                f"redeemed {held} GPU-hours of cancelled capacity {c}",
                partial(m.redeem_cancelled, account, c, held),
            )
            redeemed.append({"capacity_id": c, "amount": held})
    amount = withdraw_claimable(s)
    s.out.result(
        {"redeemed": redeemed, "withdrawn": amount, "withdrawn_usd": plain_usd(amount, s.decimals)},
        f"withdrew {s.usd(amount)} to {account.address}",
    )


@user_command(api=True, wallet=True)
def cancel(
    s: Session,
    order_hashes: Annotated[
        list[str], typer.Argument(help="0x hashes of your orders (gpuhours provider orders)")
    ],
) -> None:
    """Cancel your orders on chain, for good: no copy of them can be filled anywhere after this."""
    m, account = s.market, s.account
    orders = []
    for given in order_hashes:
        signed = signed_from_api(s.api.get(f"/orders/{given}"))
        # The order as signed, not as the API describes it: its hash must be the one asked for.
        if order_hash(signed.order, m.chain_id, m.exchange.address) != signed.hash or (
            "0x" + signed.hash.hex() != given.lower()
        ):
            raise CliError(f"the API answered another order for {given}", ExitCode.FAILED)
        if signed.order.maker != account.address:
            raise CliError(
                f"order {given} is {signed.order.maker}'s, not {account.address}'s", ExitCode.FAILED
            )
        filled, cancelled = m.exchange.functions.status(signed.hash).call()
        if cancelled or filled >= signed.order.amount:
            done = "cancelled" if cancelled else "filled"
            raise CliError(f"order {given} is already {done} on chain; nothing to cancel", ExitCode.FAILED)
        orders.append(signed.order)
    s.send(f"cancelled {len(orders)} order(s) on chain", lambda: m.cancel_orders(account, orders))
    s.out.result(
        {"cancelled": [h.lower() for h in order_hashes]},
        f"cancelled {len(orders)} order(s); the book shows them cancelled once it has indexed the block",
    )


COMMANDS = (buy, activate, sell, bid, cancel, claim)
