"""The lending commands: lend stablecoin to a GPU class's pool (or withdraw it), pledge GPU-hours and
borrow against them, repay, and read positions' health.

Everything is checked before anything is signed. A borrow that pledges hours first is refused whole
when the pool would refuse any step: each pledge is tried as an eth_call (the pool's class and window
checks), and the borrow against the hours to be pledged is priced here as the pool prices it (the
mark's age, the collateral's value at the mark × LLTV, the dust rule), each refusal as the pool's own
error with its numbers. Amounts and prices are dollars; the chain's units are in --json beside them.
"""

from __future__ import annotations

from collections import Counter
from typing import Annotated, Any

import typer
from rich.table import Table
from web3.contract import Contract
from web3.exceptions import ContractLogicError

from backend.chain import errors
from backend.chain.client import MAX_UINT256, from_bytes32
from backend.chain.pools import with_repay_margin
from backend.chain.protocol import HOUR
from backend.cli_common import Session, user_command
from backend.cli_errors import CliError, ExitCode
from backend.cli_orders import need_capacity
from backend.cli_units import parse_usd, plain_usd

WAD = 10**18

Amount = Annotated[str, typer.Argument(help="dollars, e.g. 250 or 12.50", show_default=False)]
PoolAddress = Annotated[str | None, typer.Option("--pool", help="the pool's address")]
GpuClass = Annotated[
    str | None, typer.Option("--class", help="the pool of this GPU class, e.g. H100-SXM5-80GB")
]


# ---------------------------------------------------------------------- which pool


def _pool(s: Session, address: str | None, gpu_class: str | None) -> tuple[str, Contract]:
    """(GPU class, pool) named by --pool or --class; the only one when the deployment has one."""
    pools = s.market.pools
    known = ", ".join(sorted(pools)) or "none"
    if address is not None:
        for name, pool in pools.items():
            if pool.address.lower() == address.lower():
                return name, pool
        raise CliError(
            f"no lending pool at {address} on chain {s.market.chain_id}; pools: {known}", ExitCode.NOT_FOUND
        )
    if gpu_class is not None:
        if gpu_class not in pools:
            raise CliError(
                f"no lending pool for {gpu_class} on chain {s.market.chain_id}; pools: {known}",
                ExitCode.NOT_FOUND,
            )
        return gpu_class, pools[gpu_class]
    if len(pools) == 1:
        return next(iter(pools.items()))
    raise CliError(f"say which pool: --class one of {known} (or --pool ADDRESS)", ExitCode.USAGE)


def _class_of(s: Session, capacity_id: int) -> str:
    info = need_capacity(s, capacity_id)
    return from_bytes32(s.market.node(info["nodeId"])["gpuModel"])


# ---------------------------------------------------------------------- lenders


@user_command(api=False, wallet=True)
def lend(
    s: Session,
    amount: Amount,
    withdraw: Annotated[bool, typer.Option("--withdraw", help="take this much back instead")] = False,
    pool: PoolAddress = None,
    gpu_class: GpuClass = None,
) -> None:
    """Lend stablecoin to a GPU class's pool (an ERC-4626 deposit), or --withdraw it with its interest."""
    m, account = s.market, s.account
    name, contract = _pool(s, pool, gpu_class)
    assets = parse_usd(amount, s.decimals)
    f = contract.functions
    if withdraw:
        s.send(
            f"withdrew {s.usd(assets)} from the {name} pool",
            lambda: m.send(account, f.withdraw(assets, account.address, account.address)),
        )
    else:
        s.need_balance(assets, f"lending {s.usd(assets)}")
        if s.allowance(contract.address) < assets:
            s.add_allowance(contract.address, assets - s.allowance(contract.address), f"{name} pool")
        s.send(
            f"lent {s.usd(assets)} to the {name} pool",
            lambda: m.send(account, f.deposit(assets, account.address)),
        )
    worth = f.maxWithdraw(account.address).call()
    s.out.result(
        {
            "pool": contract.address,
            "gpu_class": name,
            "action": "withdraw" if withdraw else "supply",
            "assets": assets,
            "assets_usd": plain_usd(assets, s.decimals),
            "shares": f.balanceOf(account.address).call(),
            "withdrawable": worth,
            "withdrawable_usd": plain_usd(worth, s.decimals),
        },
        f"you can withdraw {s.usd(worth)} from the {name} pool now",
    )


# ---------------------------------------------------------------------- borrowers


def _parse_pledge(text: str) -> tuple[int, int]:
    capacity, _, units = text.partition(":")
    if not (capacity.isdigit() and units.isdigit() and int(capacity) > 0 and int(units) > 0):
        raise CliError(f"--pledge {text!r}: write CAPACITY:UNITS, e.g. 12:30", ExitCode.USAGE)
    return int(capacity), int(units)


def _check_pledges(s: Session, pool: Contract, pledges: Counter[int]) -> None:
    """Each pledge as the pool would take it: the borrower holds the hours, and an eth_call of it
    passes the pool's checks (class, window) up to the transfer, which only the approval may stop."""
    who = s.account.address
    for capacity_id, units in pledges.items():
        need_capacity(s, capacity_id)
        held = s.market.hours_of(who, capacity_id)
        if held < units:
            raise CliError(
                f"insufficient GPU-hours: pledging {units} of capacity {capacity_id}; you hold {held}",
                ExitCode.INSUFFICIENT,
                needed=units,
                held=held,
            )
        try:
            pool.functions.pledge(capacity_id, units).call({"from": who})
        except ContractLogicError as exc:
            revert = s.market.errors.decode(exc.data)
            if revert.name != "ERC1155MissingApprovalForAll":
                raise revert from None


def _check_borrow(s: Session, pool: Contract, assets: int, pledges: Counter[int]) -> None:
    """The pool's borrow checks, on the position as it will be once `pledges` are added."""
    m, who, f = s.market, s.account.address, pool.functions
    gpu_class = f.gpuClass().call()
    mark, epoch = m.oracle.functions.markPrice(gpu_class).call()
    max_age = f.markMaxAge().call()
    if mark == 0 or s.now() > (epoch + 1) * HOUR + max_age:
        raise errors.StaleMark({"gpuClass": gpu_class, "epoch": epoch, "maxAge": max_age})
    cash = f.totalAssets().call() - f.totalBorrow().call()[0]  # what lenders hold beside the debt
    if assets > cash:
        raise errors.InsufficientCash({"assets": assets, "cash": cash})
    ids, units = f.collateralOf(who).call()
    after = Counter(dict(zip(ids, units, strict=True))) + pledges
    value = sum(f.unitValue(c, n, mark).call() for c, n in after.items())
    debt = f.debtOf(who).call()[0] + assets
    max_debt = value * f.lltv().call() // WAD
    if debt > max_debt:
        raise errors.Unhealthy({"borrower": who, "debt": debt, "maxDebt": max_debt})
    min_debt = f.minDebt().call()
    if debt < min_debt:
        raise errors.DustDebt({"borrower": who, "debt": debt, "minDebt": min_debt})


@user_command(api=False, wallet=True)
def borrow(
    s: Session,
    amount: Amount,
    pledge: Annotated[
        list[str] | None,
        typer.Option(help="CAPACITY:UNITS of GPU-hours to pledge first; repeat for several"),
    ] = None,
    pool: PoolAddress = None,
    gpu_class: GpuClass = None,
) -> None:
    """Borrow stablecoin against GPU-hours pledged to the pool of their class, pledging --pledge first."""
    m, account = s.market, s.account
    pledges: Counter[int] = Counter()
    for text in pledge or []:
        capacity_id, units = _parse_pledge(text)
        pledges[capacity_id] += units
    if pool is None and gpu_class is None and pledges:
        gpu_class = _class_of(s, next(iter(pledges)))
    name, contract = _pool(s, pool, gpu_class)
    assets = parse_usd(amount, s.decimals)
    f = contract.functions
    _check_pledges(s, contract, pledges)
    if pledges:
        _check_borrow(s, contract, assets, pledges)
    hours = m.hours.functions
    if pledges and not hours.isApprovedForAll(account.address, contract.address).call():
        s.send(
            f"let the {name} pool take the GPU-hours you pledge",
            lambda: m.send(account, hours.setApprovalForAll(contract.address, True)),
        )
    for capacity_id, units in pledges.items():
        s.send(
            f"pledged {units} GPU-hours of capacity {capacity_id}",
            lambda c=capacity_id, n=units: m.send(account, f.pledge(c, n)),  # type: ignore[misc]
        )
    s.send(
        f"borrowed {s.usd(assets)} from the {name} pool",
        lambda: m.send(account, f.borrow(assets, account.address)),
    )
    debt, shares = f.debtOf(account.address).call()
    s.out.result(
        {
            "pool": contract.address,
            "gpu_class": name,
            "borrowed": assets,
            "borrowed_usd": plain_usd(assets, s.decimals),
            "pledged": [{"capacity_id": c, "units": n} for c, n in pledges.items()],
            "debt": debt,
            "debt_usd": plain_usd(debt, s.decimals),
            "borrow_shares": shares,
        },
        f"you owe the {name} pool {s.usd(debt)}; see `gpuhours health`",
    )


@user_command(api=False, wallet=True)
def repay(
    s: Session,
    amount: Annotated[str | None, typer.Argument(help="dollars; or --all", show_default=False)] = None,
    repay_all: Annotated[bool, typer.Option("--all", help="repay everything owed")] = False,
    pool: PoolAddress = None,
    gpu_class: GpuClass = None,
) -> None:
    """Repay what you owe a pool: an amount in dollars, or --all with the interest to the block."""
    if (amount is not None) == repay_all:
        raise CliError("give an amount in dollars or --all, not both", ExitCode.USAGE)
    m, account = s.market, s.account
    if pool is None and gpu_class is None:  # the one pool the signer owes, if there is one
        owing = [c for c, p in m.pools.items() if p.functions.debtOf(account.address).call()[0]]
        gpu_class = owing[0] if len(owing) == 1 else None
    name, contract = _pool(s, pool, gpu_class)
    f = contract.functions
    owed = f.debtOf(account.address).call()[0]
    if owed == 0:
        raise CliError(f"{account.address} owes the {name} pool nothing", ExitCode.FAILED, owed=0)
    if repay_all:
        assets, cost = MAX_UINT256, with_repay_margin(owed)
    else:
        assets = cost = parse_usd(amount or "", s.decimals)
        if assets > owed:
            raise errors.RepayExceedsDebt({"onBehalf": account.address, "assets": assets, "owed": owed})
        min_debt = f.minDebt().call()
        if 0 < owed - assets < min_debt:
            raise errors.DustDebt({"borrower": account.address, "debt": owed - assets, "minDebt": min_debt})
    s.need_balance(min(cost, owed), f"repaying {s.usd(min(cost, owed))}")
    if s.allowance(contract.address) < cost:
        s.add_allowance(contract.address, cost - s.allowance(contract.address), f"{name} pool")
    receipt = s.send(f"repaid the {name} pool", lambda: m.send(account, f.repay(assets, account.address)))
    (paid,) = m.events(receipt, contract, "Repaid")
    left = f.debtOf(account.address).call()[0]
    s.out.result(
        {
            "pool": contract.address,
            "gpu_class": name,
            "repaid": paid["assets"],
            "repaid_usd": plain_usd(paid["assets"], s.decimals),
            "debt": left,
            "debt_usd": plain_usd(left, s.decimals),
        },
        f"repaid {s.usd(paid['assets'])}; you owe the {name} pool {s.usd(left)}",
    )


# ---------------------------------------------------------------------- everyone


def _position_json(item: dict[str, Any], gpu_class: str, decimals: int) -> dict[str, Any]:
    usd = {
        f"{k}_usd": plain_usd(item[k], decimals) if item[k] is not None else None
        for k in ("debt", "collateral_value", "max_debt", "liquidation_price")
    }
    return {"gpu_class": gpu_class, **item, **usd}


@user_command(api=True, wallet=True)
def health(
    s: Session,
    borrower: Annotated[
        str | None, typer.Option(help="whose positions; default the signer's, else all")
    ] = None,
    pool: PoolAddress = None,
    gpu_class: GpuClass = None,
) -> None:
    """Positions with their health factor and liquidation price, riskiest first, from the API."""
    who = borrower or (s.account.address if s.wallet.given() else None)
    listed = s.api.get("/pools", limit=100)["items"]
    chosen = [
        p
        for p in listed
        if (pool is None or p["address"].lower() == pool.lower())
        and (gpu_class is None or p["gpu_class"] == gpu_class)
    ]
    if (pool or gpu_class) and not chosen:
        raise CliError(f"the API lists no pool {pool or gpu_class}", ExitCode.NOT_FOUND)
    decimals = s.decimals
    positions = []
    for p in chosen:
        if who is None:
            items = s.api.get(f"/pools/{p['address']}/positions", limit=500)["items"]
        else:
            try:
                items = [s.api.get(f"/pools/{p['address']}/positions/{who}")]
            except CliError as exc:
                if exc.details.get("api_code") != "not_found":
                    raise
                items = []
        positions += [_position_json(i, p["gpu_class"], decimals) for i in items]
    table = Table("class", "borrower", "debt", "collateral", "max debt", "health", "liq. price/GPU-h")
    for p in positions:
        factor = "-" if p["health_factor"] is None else f"{p['health_factor']:.3f}"
        if not p["healthy"]:
            factor = f"[red]{factor} liquidatable[/]"
        price = "-" if p["liquidation_price"] is None else "$" + p["liquidation_price_usd"]
        table.add_row(
            p["gpu_class"],
            p["borrower"],
            "$" + p["debt_usd"],
            "$" + p["collateral_value_usd"],
            "$" + p["max_debt_usd"],
            factor,
            price,
        )
    summary = f"{len(positions)} position(s)" + (f" of {who}" if who else "")
    s.out.result({"positions": positions}, table, summary)


COMMANDS = (lend, borrow, repay, health)
