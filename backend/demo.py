"""A scripted market round on a local chain: 2 providers, 3 renters.

Providers list capacity, renters buy it, one resells, two activate hours, and a provider cancels
a window so its holders are refunded from escrow. Then three oracle signers attest a node hour by
hour from simulated telemetry and a booking is settled against what they signed. Every step is a
signed transaction on Anvil.
"""

from __future__ import annotations

import contextlib
import time
from collections import defaultdict
from dataclasses import dataclass, field

import httpx
from eth_account.signers.local import LocalAccount
from rich.console import Console
from rich.table import Table
from web3.types import RPCEndpoint, TxReceipt

from backend.chain.client import Market
from backend.chain.dev_accounts import DEV_ORACLE_ACCOUNTS, dev_account
from backend.chain.orders import OrderKind, SignedOrder
from backend.chain.protocol import CAPACITY_STATUSES, HOUR
from oracle.agent.telemetry.simulated import SimulatedSource
from oracle.aggregator.submitter import Submitter
from oracle.embedded import WatchedNode, attest_epoch
from oracle.protocol.report import Domain

USDC = 10**6
BOOKED_HOURS = 4


@dataclass
class Round:
    market: Market
    console: Console
    gas: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    open_orders: list[SignedOrder] = field(default_factory=list)

    def step(self, text: str) -> None:
        self.console.print(f"  [green]✓[/] {text}")

    def note_gas(self, action: str, receipt: TxReceipt) -> None:
        self.gas[action].append(receipt["gasUsed"])


def usd(amount: int) -> str:
    return f"${amount / USDC:,.2f}"


def run_round(market: Market, console: Console) -> Round:
    r = Round(market, console)
    names = {1: "provider-1", 2: "provider-2", 3: "renter-1", 4: "renter-2", 5: "renter-3"}
    acct: dict[str, LocalAccount] = {name: dev_account(i, market.chain_id) for i, name in names.items()}
    p1, p2, r1, r2, r3 = (acct[n] for n in names.values())

    console.print("[bold]Funding accounts from the dev faucet[/]")
    for a in acct.values():
        market.faucet(a, 10_000 * USDC)
        market.approve(a, market.exchange.address)
        market.approve(a, market.escrow.address)
    r.step("5 accounts hold 10,000 USDC each and approved the exchange and escrow")

    console.print("[bold]Providers list capacity[/]")
    now = market.w3.eth.get_block("latest")["timestamp"]
    start = now - now % HOUR + HOUR
    end = start + 72 * HOUR
    bond_per_unit = market.min_bond_per_unit()
    n1 = market.register_node(
        p1, "H100-SXM5-80GB", 8, 80, "eu-west", "NVLink", [f"GPU-h100-{i}" for i in range(8)]
    )
    n2 = market.register_node(
        p2, "A100-SXM4-80GB", 4, 80, "us-east", "PCIe", [f"GPU-a100-{i}" for i in range(4)]
    )
    c1 = market.create_capacity(p1, n1, start, end, 2_100_000, 8 * 72 * bond_per_unit)
    c2 = market.create_capacity(p2, n2, start, end, 1_400_000, 4 * 72 * bond_per_unit)
    r.step(
        f"provider-1: node {n1} (8× H100) → capacity {c1}, 72 h, each hour backed by $2.10 in escrow, "
        f"bond {usd(8 * 72 * bond_per_unit)}"
    )
    r.step(
        f"provider-2: node {n2} (4× A100) → capacity {c2}, 72 h, each hour backed by $1.40 in escrow, "
        f"bond {usd(4 * 72 * bond_per_unit)}"
    )
    expiry = now + 12 * HOUR
    ask1 = market.sign(p1, OrderKind.PRIMARY_SELL, c1, 200, 2_100_000, expiry)
    ask2 = market.sign(p2, OrderKind.PRIMARY_SELL, c2, 100, 1_400_000, expiry)
    r.step("signed asks: 200 H100-hours at $2.10, 100 A100-hours at $1.40 (EIP-712, off-chain)")

    console.print("[bold]Renters buy[/]")
    f = market.fill(r1, ask1, 96)
    r.note_gas("primary fill", f.receipt)
    f = market.fill(r2, ask1, 64)
    r.note_gas("primary fill", f.receipt)
    batch = market.fill_batch(r3, [(ask1, 24), (ask2, 50)])
    r.note_gas("batch fill (2 orders)", batch[0].receipt)
    r.step("renter-1 bought 96 H100-hours, renter-2 64; renter-3 bought 24 H100 + 50 A100 in one batch")

    console.print("[bold]Resale[/]")
    resale = market.sign(r1, OrderKind.SELL, c1, 32, 2_600_000, expiry)
    f = market.fill(r3, resale, 32)
    r.note_gas("secondary fill", f.receipt)
    r.step("renter-1 resold 32 H100-hours to renter-3 at $2.60 (paid straight to renter-1)")

    console.print("[bold]Activation[/]")
    b1 = market.activate(r2, c1, start, BOOKED_HOURS, 8)
    b2 = market.activate(r1, c1, start + 8 * HOUR, 16, 4)
    r.step(f"renter-2 booked 8 GPUs × {BOOKED_HOURS} h from the window start (booking {b1})")
    r.step(f"renter-1 booked 4 GPUs × 16 h after it (booking {b2})")

    console.print("[bold]Cancellation[/]")
    market.cancel_capacity(p2, c2)
    market.redeem_cancelled(r3, c2, 50)
    refunded = market.withdraw(r3)
    r.step(f"provider-2 cancelled capacity {c2}; renter-3 redeemed 50 hours and withdrew {usd(refunded)}")
    market.withdraw(p2)
    r.step("provider-2 withdrew its returned bond")

    _oracle_and_settlement(r, n1, b1, start)
    _leave_open_orders(r, acct, c1)
    _summary(r, acct, {c1: "H100 #" + str(c1), c2: "A100 #" + str(c2)})
    return r


def _oracle_and_settlement(r: Round, node_id: int, booking_id: int, start: int) -> None:
    """Fast-forward the local chain through renter-2's booking while three oracle signers attest
    provider-1's node from simulated telemetry; the node goes dark for two of the hours."""
    m, console = r.market, r.console
    console.print("[bold]Oracle and settlement[/] (the local chain's clock is fast-forwarded)")
    oracles = [dev_account(i, m.chain_id) for i in DEV_ORACLE_ACCOUNTS]
    keeper = dev_account(9, m.chain_id)
    submitter = Submitter(m.w3, m.oracle, keeper, m.errors)
    domain = Domain(m.chain_id, m.oracle.address)
    threshold = m.oracle.functions.signerSet().call()[1]
    node = WatchedNode(node_id, 8, SimulatedSource(seed=node_id, gpus=8))
    node.source.schedule_outage(start + 2 * HOUR, start + 4 * HOUR)
    first = start // HOUR
    for epoch in range(first, first + BOOKED_HOURS):
        _warp(m, (epoch + 1) * HOUR + 60)
        signed = attest_epoch([node], epoch, oracles, threshold, domain)
        receipt = submitter.submit(signed.report, signed.signatures)
        r.note_gas("attestation report", receipt)
        uptime = signed.report.attestations[0].uptime_bps
        r.step(
            f"hour {epoch - first + 1}: uptime {uptime / 100:.2f} %, signed by {len(signed.signers)} of "
            f"{len(oracles)} oracles, landed in block {receipt['blockNumber']}"
        )
    _warp(m, start + BOOKED_HOURS * HOUR + m.oracle.functions.maxDelay().call() + 1)
    receipt = m.send(keeper, m.settlement.functions.settleBooking(booking_id))
    r.note_gas("settle booking", receipt)
    e = m.events(receipt, m.settlement, "BookingSettled")[0]
    released = sum(x["amount"] for x in m.events(receipt, m.escrow, "Released"))
    refunded = sum(x["amount"] for x in m.events(receipt, m.escrow, "Refunded"))
    r.step(
        f"booking settled: {e['deliveredHours']} h delivered → provider-1 paid {usd(released)} (fee "
        f"included); {e['failedHours']} h failed → renter-2 refunded {usd(refunded)} plus "
        f"{usd(e['slashed'])} slashed from the bond"
    )
    r.step(f"node {node_id} reliability: {m.oracle.functions.reliabilityBps(node_id).call() / 100:.2f} %")


def _leave_open_orders(r: Round, acct: dict[str, LocalAccount], capacity: int) -> None:
    """Sign the orders the round leaves for sale: the rest of provider-1's hours, a resale and a bid,
    expiring a day after the chain's clock (which the fast-forward left hours ahead of the wall's)."""
    m = r.market
    now = m.w3.eth.get_block("latest")["timestamp"]
    expiry = now + 24 * HOUR
    r.open_orders = [
        m.sign(acct["provider-1"], OrderKind.PRIMARY_SELL, capacity, 64, 2_200_000, expiry),
        m.sign(acct["renter-3"], OrderKind.SELL, capacity, 16, 2_500_000, expiry),
        m.sign(acct["renter-1"], OrderKind.BUY, capacity, 8, 1_900_000, expiry),
    ]
    ahead = (now - time.time()) / HOUR
    r.step(
        f"signed open orders on capacity {capacity}: 64 H100-hours at $2.20, a resale of 16 at $2.50, a bid "
        f"for 8 at $1.90; they expire a day after the chain's clock, which now runs {ahead:.1f} h ahead of "
        "yours: sign expiries from the chain's time (the latest block's timestamp)"
    )


def post_open_orders(orders: list[SignedOrder], api_url: str, console: Console, wait: float = 120.0) -> None:
    """Once the API at `api_url` is ready, post `orders` to its book, as any client would."""
    deadline = time.monotonic() + wait
    with httpx.Client(base_url=api_url, timeout=10.0) as client:
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if client.get("/ready").status_code == 200:
                    break
            time.sleep(0.5)
        else:
            console.print(f"[yellow]the API at {api_url} was not ready; the open orders were not posted[/]")
            return
        for signed in orders:
            body = {**signed.order.message(), "signature": "0x" + signed.signature.hex()}
            answer = client.post("/orders", json=body)
            if answer.status_code != 201:
                console.print(f"[yellow]POST /orders answered {answer.status_code}: {answer.text}[/]")
                return
    console.print(f"[green]✓[/] {len(orders)} open orders posted: GET {api_url}/orders shows them")


def _warp(m: Market, timestamp: int) -> None:
    m.w3.provider.make_request(RPCEndpoint("evm_setNextBlockTimestamp"), [timestamp])
    m.w3.provider.make_request(RPCEndpoint("evm_mine"), [])


def _summary(r: Round, acct: dict[str, LocalAccount], capacities: dict[int, str]) -> None:
    m = r.market
    treasury = m.exchange.functions.treasury().call()
    table = Table(title="Accounts after the round")
    table.add_column("account")
    table.add_column("USDC", justify="right")
    for label in capacities.values():
        table.add_column(f"hours {label}", justify="right")
    table.add_column("claimable", justify="right")
    for name, a in {**acct}.items():
        table.add_row(
            name,
            usd(m.usdc_balance(a.address)),
            *[str(m.hours_of(a.address, c)) for c in capacities],
            usd(m.claimable(a.address)),
        )
    table.add_row(
        "treasury", usd(m.usdc_balance(treasury)), *["" for _ in capacities], usd(m.claimable(treasury))
    )
    r.console.print(table)

    caps = Table(title="Capacities")
    for col in (
        "capacity",
        "status",
        "minted",
        "in circulation",
        "booked GPU-h",
        "backing held",
        "premium held",
        "bond",
    ):
        caps.add_column(col, justify="right")
    for c, label in capacities.items():
        info = m.capacity(c)
        backing, bond, _, premium = m.escrow.functions.funds(c).call()
        caps.add_row(
            label,
            CAPACITY_STATUSES[info["status"]],
            str(info["minted"]),
            str(m.hours.functions.totalSupply(c).call()),
            str(m.hours.functions.bookedUnits(c).call()),
            usd(backing),
            usd(premium),
            usd(bond),
        )
    r.console.print(caps)

    gas = Table(title="Gas per transaction (receipts)")
    gas.add_column("action")
    gas.add_column("gas used", justify="right")
    for action, used in r.gas.items():
        gas.add_row(action, ", ".join(f"{g:,}" for g in used))
    r.console.print(gas)
