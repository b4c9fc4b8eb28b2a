"""The lending commands against a real Anvil and a real `gpuhours serve` over HTTP: a lender supplies, a
borrower pledges and borrows, health shows the position, the borrower repays all and the lender
withdraws; every bad input is the pool's error by name with its numbers and exit code, and nothing is
sent."""

# The users' fixtures (cli, m, served) are imported so that this module gets its own chain and API.
# ruff: noqa: F811
from __future__ import annotations

from dataclasses import dataclass

import pytest

from backend.chain.dev_accounts import dev_account
from backend.chain.orders import OrderKind
from backend.chain.protocol import HOUR
from backend.cli_errors import ExitCode
from tests.backend.market_round import submit_report
from tests.conftest import USDC, fund, now, warp_to
from tests.test_cli_users import addr, cli, m, nonce, refused, served  # noqa: F401

H100, A100 = "H100-SXM5-80GB", "A100-SXM4-80GB"
PROVIDER, BORROWER, LENDER = 2, 4, 5  # Anvil funds accounts 0-9 with ether
BACKING, MARK = 2_000_000, 2_100_000
WAD = 10**18


@dataclass(frozen=True)
class Hours:
    h100: int
    a100: int


@pytest.fixture(scope="module")
def hours(served) -> Hours:
    """The borrower holds 40 hours of a day-long H100 window (backed by $2.00) and 5 A100-hours; the
    H100 node is attested and its class marked at $2.10; another lender keeps $500 in the H100 pool."""
    market = served[0]
    provider, borrower = dev_account(PROVIDER, market.chain_id), dev_account(BORROWER, market.chain_id)
    fund(market, (provider, borrower), 10_000 * USDC)
    market.faucet(dev_account(LENDER, market.chain_id), 5_000 * USDC)
    h100_node = market.register_node(provider, H100, 4, 80, "eu-west", "NVLink", ["GPU-lend-0"])
    a100_node = market.register_node(provider, A100, 1, 80, "eu-west", "PCIe", ["GPU-lend-1"])
    start = now(market) - now(market) % HOUR + HOUR
    bond = market.min_bond_per_unit()
    h100 = market.create_capacity(provider, h100_node, start, start + 24 * HOUR, BACKING, bond * 96)
    a100 = market.create_capacity(provider, a100_node, start, start + 24 * HOUR, USDC, bond * 24)
    for capacity, units, price in ((h100, 40, BACKING), (a100, 5, USDC)):
        ask = market.sign(provider, OrderKind.PRIMARY_SELL, capacity, units, price, start + HOUR)
        market.fill(borrower, ask, units)
    other = dev_account(1, market.chain_id)
    market.faucet(other, 500 * USDC)
    market.approve(other, market.pools[H100].address)
    market.send(other, market.pools[H100].functions.deposit(500 * USDC, other.address))
    warp_to(market, start + HOUR + 60)
    submit_report(market, h100_node, start // HOUR, 10_000, MARK)
    return Hours(h100, a100)


def test_lend_borrow_health_repay_withdraw(cli, m, hours):
    pool = m.pools[H100]
    lent = cli.ok("lend", "1000", "--class", H100, account=LENDER)
    assert (lent["action"], lent["assets"], lent["withdrawable"]) == ("supply", 1_000 * USDC, 1_000 * USDC)
    assert lent["shares"] == pool.functions.balanceOf(addr(m, LENDER)).call() > 0

    borrowed = cli.ok("borrow", "20", "--pledge", f"{hours.h100}:30", account=BORROWER)
    assert (borrowed["gpu_class"], borrowed["borrowed"], borrowed["borrowed_usd"]) == (
        H100,
        20 * USDC,
        "20.00",
    )
    assert borrowed["pledged"] == [{"capacity_id": hours.h100, "units": 30}]
    assert pool.functions.collateralOf(addr(m, BORROWER)).call() == [[hours.h100], [30]]
    assert pool.functions.debtOf(addr(m, BORROWER)).call()[0] == borrowed["debt"] >= 20 * USDC

    cli.indexed()
    (position,) = cli.ok("health", account=BORROWER)["positions"]
    debt, _ = pool.functions.debtOf(addr(m, BORROWER)).call()
    value = pool.functions.collateralValue(addr(m, BORROWER)).call()
    lltv = pool.functions.lltv().call()
    assert (position["gpu_class"], position["borrower"], position["healthy"]) == (
        H100,
        addr(m, BORROWER),
        True,
    )
    assert position["collateral_value"] == value and debt <= position["debt"] <= debt + 1
    assert position["health_factor"] == pytest.approx(value * lltv / WAD / debt, rel=1e-6)
    price = position["liquidation_price"]  # the least mark at which the debt is covered
    assert pool.functions.unitValue(hours.h100, 30, price).call() * lltv // WAD >= position["debt"]
    assert pool.functions.unitValue(hours.h100, 30, price - 1).call() * lltv // WAD < position["debt"]
    every = cli.ok("health", "--class", H100)["positions"]
    assert addr(m, BORROWER) in [p["borrower"] for p in every]
    shown = cli("health", account=BORROWER, as_json=False)
    assert shown.exit_code == 0 and f"${position['liquidation_price_usd']}" in shown.stdout

    balance = m.usdc_balance(addr(m, BORROWER))
    repaid = cli.ok("repay", "--all", account=BORROWER)
    assert repaid["debt"] == 0 and pool.functions.debtOf(addr(m, BORROWER)).call() == [0, 0]
    assert m.usdc_balance(addr(m, BORROWER)) == balance - repaid["repaid"] and repaid["repaid"] >= 20 * USDC

    before = m.usdc_balance(addr(m, LENDER))
    back = cli.ok("lend", "1000", "--withdraw", "--class", H100, account=LENDER)
    assert m.usdc_balance(addr(m, LENDER)) == before + 1_000 * USDC
    assert back["withdrawable"] <= repaid["repaid"] - 20 * USDC  # at most the interest the borrower paid


def _unchanged(m, hours: Hours):
    pool = m.pools[H100].functions
    who = addr(m, BORROWER)
    return (
        nonce(m, BORROWER),
        pool.debtOf(who).call(),
        pool.collateralOf(who).call(),
        m.hours_of(who, hours.h100),
        m.hours_of(who, hours.a100),
    )


def test_bad_borrows_are_refused_whole_before_anything_is_sent(cli, m, hours):
    pool = m.pools[H100].functions
    before = _unchanged(m, hours)
    # Past the LLTV with the 10 hours still held pledged first: 40 × $2.00 × 80 % = $64 at most.
    error = refused(cli, ExitCode.REVERTED, "borrow", "100", "--pledge", f"{hours.h100}:10", account=BORROWER)
    limit = pool.unitValue(hours.h100, 40, MARK).call() * pool.lltv().call() // WAD
    assert (error["error"], error["debt"], error["maxDebt"]) == ("Unhealthy", 100 * USDC, limit)
    assert error["message"].startswith("the contract refused: Unhealthy(") and str(limit) in error["message"]
    # Below the smallest debt ($1.00).
    error = refused(cli, ExitCode.REVERTED, "borrow", "0.50", "--pledge", f"{hours.h100}:5", account=BORROWER)
    assert (error["error"], error["debt"], error["minDebt"]) == ("DustDebt", 500_000, USDC)
    error = refused(cli, ExitCode.REVERTED, "borrow", "0.50", "--class", H100, account=BORROWER)
    assert error["error"] == "DustDebt"
    # Hours of another class into the H100 pool.
    error = refused(
        cli,
        ExitCode.REVERTED,
        "borrow",
        "1",
        "--class",
        H100,
        "--pledge",
        f"{hours.a100}:5",
        account=BORROWER,
    )
    assert (error["error"], error["capacityId"]) == ("WrongGpuClass", hours.a100)
    assert bytes.fromhex(error["gpuModel"][2:]).rstrip(b"\0") == A100.encode()
    # More hours than held; a pledge that is not CAPACITY:UNITS; two pools and none named.
    error = refused(
        cli, ExitCode.INSUFFICIENT, "borrow", "1", "--pledge", f"{hours.h100}:11", account=BORROWER
    )
    assert error["message"] == f"insufficient GPU-hours: pledging 11 of capacity {hours.h100}; you hold 10"
    refused(cli, ExitCode.USAGE, "borrow", "1", "--pledge", "twelve", account=BORROWER)
    error = refused(cli, ExitCode.USAGE, "borrow", "1", account=BORROWER)
    assert error["message"] == f"say which pool: --class one of {A100}, {H100} (or --pool ADDRESS)"
    refused(cli, ExitCode.USAGE, "borrow", "1.0000001", "--class", H100, account=BORROWER)
    nowhere = "0x" + "ab" * 20
    error = refused(cli, ExitCode.NOT_FOUND, "borrow", "1", "--pool", nowhere, account=BORROWER)
    assert error["message"].startswith(f"no lending pool at {nowhere} on chain 31337; pools: ")
    refused(cli, ExitCode.NOT_FOUND, "health", "--class", "B200-SXM6-192GB")
    assert _unchanged(m, hours) == before


def test_bad_repays_are_refused_with_the_pools_numbers(cli, m, hours):
    pool = m.pools[H100].functions
    error = refused(cli, ExitCode.FAILED, "repay", "--all", "--class", H100, account=BORROWER)
    assert error["message"] == f"{addr(m, BORROWER)} owes the {H100} pool nothing"
    cli.ok("borrow", "5", "--class", H100, account=BORROWER)
    before = _unchanged(m, hours)
    error = refused(cli, ExitCode.REVERTED, "repay", "100", "--class", H100, account=BORROWER)
    assert (error["error"], error["assets"], error["owed"]) == ("RepayExceedsDebt", 100 * USDC, before[1][0])
    error = refused(cli, ExitCode.REVERTED, "repay", "4.50", "--class", H100, account=BORROWER)
    assert (error["error"], error["debt"], error["minDebt"]) == ("DustDebt", before[1][0] - 4_500_000, USDC)
    refused(cli, ExitCode.USAGE, "repay", "1", "--all", "--class", H100, account=BORROWER)
    assert _unchanged(m, hours) == before
    assert cli.ok("repay", "--all", "--class", H100, account=BORROWER)["debt"] == 0
    assert pool.debtOf(addr(m, BORROWER)).call() == [0, 0]


def test_a_stale_mark_blocks_borrowing(cli, m, hours):
    """Last here: it moves the chain's clock past the mark's age."""
    pool = m.pools[H100].functions
    gpu_class = pool.gpuClass().call()
    _, epoch = m.oracle.functions.markPrice(gpu_class).call()
    max_age = pool.markMaxAge().call()
    warp_to(m, (epoch + 1) * HOUR + max_age + 1)
    before = _unchanged(m, hours)
    for args in (("2", "--class", H100), ("2", "--pledge", f"{hours.h100}:5")):
        error = refused(cli, ExitCode.REVERTED, "borrow", *args, account=BORROWER)
        assert (error["error"], error["epoch"], error["maxAge"]) == ("StaleMark", epoch, max_age)
    assert _unchanged(m, hours) == before
