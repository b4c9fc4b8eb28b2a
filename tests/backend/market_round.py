"""A scripted market round that emits every kind of event the indexer projects, and a check of the
projections against the contracts' own views."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from eth_utils import keccak
from sqlalchemy import Engine, select

from backend.chain.client import Market, to_bytes32
from backend.chain.dev_accounts import DEV_ORACLE_ACCOUNTS, dev_account
from backend.chain.orders import OrderKind
from backend.db.models import (
    CLOSE_REASONS,
    Balance,
    Booking,
    Capacity,
    EscrowAccount,
    EscrowFunds,
    IndexedAttestation,
    IndexedMarkPrice,
    MakerCounter,
    Node,
    OrderState,
    table_of,
)
from oracle.protocol.report import Attestation, Domain, MarkPrice, Report, gpu_class_id, sign_report
from tests.conftest import USDC, fund, now, warp_to

HOUR = 3600
PRICE = 2_100_000
STATUS = {1: "active", 2: "cancelled", 3: "closed"}


@dataclass
class Round:
    accounts: list[Any]
    capacities: list[int] = field(default_factory=list)
    bookings: list[int] = field(default_factory=list)
    orders: list[bytes] = field(default_factory=list)
    nodes: list[int] = field(default_factory=list)
    epochs: list[tuple[int, int]] = field(default_factory=list)

    @property
    def addresses(self) -> list[str]:
        return [a.address for a in self.accounts]


def submit_report(
    market: Market, node_id: int, epoch: int, uptime_bps: int, price: int, gpu_seconds: int | None = None
) -> None:
    """Attests one hour of a 4-GPU node, by default with all four GPUs busy for the uptime."""
    report = Report(
        1,
        (
            Attestation(
                node_id,
                epoch,
                uptime_bps,
                6_000,
                4 * 3600 * uptime_bps // 10_000 if gpu_seconds is None else gpu_seconds,
                250_000,
                600_000,
                keccak(text=f"samples {node_id} {epoch}"),
            ),
        ),
        (MarkPrice(gpu_class_id("H100-SXM5-80GB"), epoch, price),),
    )
    domain = Domain(market.chain_id, market.oracle.address)
    signers = sorted(
        (dev_account(i, market.chain_id) for i in DEV_ORACLE_ACCOUNTS[:2]), key=lambda a: int(a.address, 16)
    )
    signatures = [sign_report(report, s, domain) for s in signers]
    market.send(
        dev_account(9, market.chain_id), market.oracle.functions.submit(report.as_tuple(), signatures)
    )


def play_round(market: Market) -> Round:
    """Two providers, three renters: primary, secondary and bid fills, direct ERC-1155 transfers,
    cancels, a counter bump, a cancelled capacity with refunds, activations, attestations and mark
    prices, settlement with a slash, unused hours, a closed capacity and withdrawals."""
    acc = [dev_account(i, market.chain_id) for i in range(11)]
    p1, p2, r3, r4, r5, keeper = acc[1], acc[2], acc[3], acc[4], acc[5], acc[9]
    rnd = Round(accounts=acc)
    fund(market, (p1, p2, r3, r4, r5), 100_000 * USDC)
    market.send(p1, market.escrow.functions.setRevenueSplit([(p1.address, 8_000), (acc[10].address, 2_000)]))

    node1 = market.register_node(p1, "H100-SXM5-80GB", 4, 80, "eu-west", "NVLink", ["GPU-1", "GPU-2"])
    node2 = market.register_node(p2, "A100-SXM4-80GB", 2, 80, "us-east", "PCIe", ["GPU-3"])
    rnd.nodes = [node1, node2]
    start = now(market) - now(market) % HOUR + HOUR
    min_bond = market.min_bond_per_unit()
    cap1 = market.create_capacity(p1, node1, start, start + 3 * HOUR, 1_000_000, 4 * 3 * min_bond * 100)
    cap2 = market.create_capacity(p2, node2, start, start + 5 * HOUR, 1_000_000, 2 * 5 * min_bond)
    rnd.capacities = [cap1, cap2]

    # Sales: primary (two partial fills), a resale, direct transfers, a bid filled by minting.
    ask = market.sign(p1, OrderKind.PRIMARY_SELL, cap1, 12, PRICE, start)
    market.fill(r3, ask, 8)
    market.fill(r4, ask, 4)
    resale = market.sign(r3, OrderKind.SELL, cap1, 2, PRICE * 2, start)
    market.fill(r5, resale, 2)
    market.send(r4, market.hours.functions.safeTransferFrom(r4.address, r5.address, cap1, 1, b""))
    bid = market.sign(r3, OrderKind.BUY, cap2, 4, PRICE, start)
    market.fill_batch(p2, [(bid, 3), (bid, 1)])
    market.send(
        r3, market.hours.functions.safeBatchTransferFrom(r3.address, r4.address, [cap1, cap2], [1, 1], b"")
    )
    unwanted = market.sign(p1, OrderKind.PRIMARY_SELL, cap1, 5, PRICE, start)
    market.cancel_orders(p1, [unwanted.order])
    market.increment_counter(p2)
    rnd.orders = [ask.hash, resale.hash, bid.hash, unwanted.hash]

    # Capacity 2: a booking, then the provider cancels; the booking is refunded, the rest redeemed.
    early = market.activate(r3, cap2, start, 2, 1)
    market.cancel_capacity(p2, cap2)
    market.refund_booking(r3, early)
    market.redeem_cancelled(r3, cap2, 1)
    market.redeem_cancelled(r4, cap2, 1)
    market.send(p2, market.hours.functions.transferNode(node2, p1.address))

    # Capacity 1 (12 GPU-hours: renter 3 holds 5, renter 4 holds 4, renter 5 holds 3): two bookings;
    # renters 3 and 5 leave 2 and 3 hours unused.
    b3 = market.activate(r3, cap1, start, 3, 1)
    b4 = market.activate(r4, cap1, start, 2, 2)
    rnd.bookings = [early, b3, b4]

    # The oracle attests each hour once it is over: delivered, then two failed hours.
    first = start // HOUR
    for i, uptime in enumerate((10_000, 5_000, 4_000)):
        warp_to(market, (first + i + 1) * HOUR + 60)
        submit_report(market, node1, first + i, uptime, 2_000_000 + 10_000 * i)
        rnd.epochs.append((node1, first + i))

    max_delay = market.oracle.functions.maxDelay().call()
    warp_to(market, start + 3 * HOUR + max_delay + 1)
    market.send(keeper, market.settlement.functions.settleBooking(b3))  # 2 failed > grace: slashed
    market.send(keeper, market.settlement.functions.settleBooking(b4))  # 1 failed: completed
    market.send(keeper, market.settlement.functions.settleUnused(cap1, [r5.address, r3.address]))
    market.send(keeper, market.settlement.functions.settleCapacity(cap1))
    market.withdraw(r3)
    market.withdraw(p1)
    return rnd


def check_against_chain(engine: Engine, market: Market, rnd: Round) -> dict[str, int]:
    """Every projected value equals what the contracts' views say now; returns row counts."""
    chain = market.chain_id
    with engine.connect() as conn:

        def rows(model, **where):
            t = table_of(model)
            q = select(t).where(t.c.chain_id == chain, *(t.c[k] == v for k, v in where.items()))
            return [dict(r) for r in conn.execute(q).mappings()]

        for cap in range(1, market.hours.functions.capacityCount().call() + 1):
            on_chain = market.capacity(cap)
            (row,) = rows(Capacity, capacity_id=cap)
            assert row["status"] == STATUS[on_chain["status"]]
            assert row["close_reason"] == CLOSE_REASONS[on_chain["closeReason"]]
            assert row["minted"] == on_chain["minted"]
            assert row["redeemed"] + row["expired"] == on_chain["retired"]
            assert row["supply"] == market.hours.functions.totalSupply(cap).call()
            on_chain_funds = market.escrow.functions.funds(cap).call()
            (funds,) = rows(EscrowFunds, capacity_id=cap)
            assert (
                tuple(funds[k] for k in ("backing", "bond", "penalty_per_unit", "premium")) == on_chain_funds
            )
            for who in rnd.addresses:
                balance = rows(Balance, capacity_id=cap, holder=who)
                assert (balance[0]["amount"] if balance else 0) == market.hours_of(who, cap)
        for who in [*rnd.addresses, market.escrow.functions.treasury().call()]:
            account = rows(EscrowAccount, account=who)
            assert (account[0]["claimable"] if account else 0) == market.claimable(who)
            maker = rows(MakerCounter, maker=who)
            assert (maker[0]["counter"] if maker else 0) == market.exchange.functions.counter(who).call()
        for booking_id in rnd.bookings:
            on_chain = market.booking(booking_id)
            (row,) = rows(Booking, booking_id=booking_id)
            assert (row["holder"], row["start"], row["hours"], row["gpus"], row["close_reason"]) == (
                on_chain["holder"],
                on_chain["start"],
                on_chain["hours"],
                on_chain["gpus"],
                CLOSE_REASONS[on_chain["closeReason"]],
            )
        for order_hash in rnd.orders:
            filled, cancelled = market.exchange.functions.status(order_hash).call()
            (row,) = rows(OrderState, order_hash="0x" + order_hash.hex())
            assert (row["filled"], row["cancelled"]) == (filled, cancelled)
        for node_id in rnd.nodes:
            on_chain = market.hours.functions.node(node_id).call()
            (row,) = rows(Node, node_id=node_id)
            assert (row["owner"], row["gpu_count"], row["vram_gb"]) == (on_chain[0], on_chain[1], on_chain[2])
            assert to_bytes32(row["gpu_model"]) == on_chain[5] and row["early_ends"] == on_chain[4]
        for node_id, epoch in rnd.epochs:
            attested, uptime, *_ = market.oracle.functions.epochRecord(node_id, epoch).call()
            (row,) = rows(IndexedAttestation, node_id=node_id, epoch=epoch)
            assert attested and row["uptime_bps"] == uptime
        marks = rows(IndexedMarkPrice, gpu_class="H100-SXM5-80GB")
        if marks:
            latest = max(marks, key=lambda m: m["epoch"])
            assert (latest["price"], latest["epoch"]) == tuple(
                market.oracle.functions.markPrice(gpu_class_id("H100-SXM5-80GB")).call()
            )
        return {
            "capacities": len(rows(Capacity)),
            "bookings": len(rows(Booking)),
            "orders": len(rows(OrderState)),
            "balances": len(rows(Balance)),
            "attestations": len(rows(IndexedAttestation)),
        }


def sell_hours(
    market: Market, provider: Any, renter: Any, units: int, price: int, gpu: str = "GPU-1"
) -> tuple[int, int]:
    """A registered node (of the GPU `gpu`), a two-hour capacity starting next hour, and `units` of it
    sold to `renter` at `price`; returns (capacity id, window start)."""
    fund(market, (provider, renter), 1_000 * USDC)
    node = market.register_node(provider, "H100-SXM5-80GB", 4, 80, "eu-west", "NVLink", [gpu])
    start = now(market) - now(market) % HOUR + HOUR
    cap = market.create_capacity(
        provider, node, start, start + 2 * HOUR, 1_000_000, market.min_bond_per_unit() * 8
    )
    market.fill(renter, market.sign(provider, OrderKind.PRIMARY_SELL, cap, 8, price, start), units)
    return cap, start
