"""A round for the settlement keeper: a delivered booking, a failed one, unused hours held by two
renters, and a cancelled capacity, attested hour by hour, with nothing settled yet."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_utils import keccak

from backend.chain.client import Market
from backend.chain.dev_accounts import DEV_ORACLE_ACCOUNTS, dev_account
from backend.chain.orders import OrderKind
from oracle.protocol.report import Attestation, Domain, Report, sign_report
from tests.conftest import USDC, fund, now, warp_to

HOUR = 3600
PRICE = 2_000_000  # also each unit's backing: primary sales carry no premium
HOURS = 3


@dataclass
class SettleRound:
    """cap_ok (node_ok, 4 GPUs, every hour delivered): r3 books 1 GPU for the window and leaves 3
    units unused, r5 leaves 2 unused. cap_bad (node_bad, 2 GPUs, every hour failed): r4 books all of
    it. cap_cancelled (node_bad, a later window): cancelled by its provider after r5 bought 2 units."""

    start: int
    end: int
    cap_ok: int
    cap_bad: int
    cap_cancelled: int
    booking_ok: int
    booking_bad: int
    providers: tuple[Any, Any]
    renters: tuple[Any, Any, Any]
    funds: dict[int, tuple[int, int, int, int]]  # capacity -> escrow.funds before settling: backing, bond,
    #                                               penalty per unit, premium
    claimable: dict[str, int]  # providers', renters' and the treasury's claimable before settling


def attest(market: Market, epoch: int, uptimes: dict[int, int]) -> None:
    """One report for `epoch` with each node's uptime, signed by two dev oracles, sent by dev 9."""
    report = Report(
        1,
        tuple(
            Attestation(
                node,
                epoch,
                uptime,
                6_000,
                4 * 3600 * uptime // 10_000,
                250_000,
                600_000,
                keccak(text=f"samples {node} {epoch}"),
            )
            for node, uptime in sorted(uptimes.items())
        ),
        (),
    )
    domain = Domain(market.chain_id, market.oracle.address)
    signers = sorted(
        (dev_account(i, market.chain_id) for i in DEV_ORACLE_ACCOUNTS[:2]), key=lambda a: int(a.address, 16)
    )
    market.send(
        dev_account(9, market.chain_id),
        market.oracle.functions.submit(report.as_tuple(), [sign_report(report, s, domain) for s in signers]),
    )


def play_settle_round(market: Market) -> SettleRound:
    acc = [dev_account(i, market.chain_id) for i in range(6)]
    p1, p2, r3, r4, r5 = acc[1], acc[2], acc[3], acc[4], acc[5]
    fund(market, (p1, p2, r3, r4, r5), 10_000 * USDC)
    node_ok = market.register_node(p1, "H100-SXM5-80GB", 4, 80, "eu-west", "NVLink", ["GPU-ok"])
    node_bad = market.register_node(p2, "H100-SXM5-80GB", 2, 80, "us-east", "NVLink", ["GPU-bad"])
    start = now(market) - now(market) % HOUR + HOUR
    end = start + HOURS * HOUR
    unit_bond = market.min_bond_per_unit()
    cap_ok = market.create_capacity(p1, node_ok, start, end, PRICE, 4 * HOURS * unit_bond)
    cap_bad = market.create_capacity(p2, node_bad, start, end, PRICE, 2 * HOURS * unit_bond)
    cap_cancelled = market.create_capacity(p2, node_bad, end, end + HOUR, PRICE, 2 * unit_bond)

    ask = market.sign(p1, OrderKind.PRIMARY_SELL, cap_ok, 4 * HOURS, PRICE, start)
    market.fill(r3, ask, 6)
    market.fill(r5, ask, 2)
    market.fill(r4, market.sign(p2, OrderKind.PRIMARY_SELL, cap_bad, 2 * HOURS, PRICE, start), 2 * HOURS)
    market.fill(r5, market.sign(p2, OrderKind.PRIMARY_SELL, cap_cancelled, 2, PRICE, end), 2)
    booking_ok = market.activate(r3, cap_ok, start, HOURS, 1)
    booking_bad = market.activate(r4, cap_bad, start, HOURS, 2)
    market.cancel_capacity(p2, cap_cancelled)
    funds = {
        cap: tuple(market.escrow.functions.funds(cap).call()) for cap in (cap_ok, cap_bad, cap_cancelled)
    }

    for i in range(HOURS):
        epoch = start // HOUR + i
        warp_to(market, (epoch + 1) * HOUR + 60)
        attest(market, epoch, {node_ok: 10_000, node_bad: 4_000})
    treasury = market.escrow.functions.treasury().call()
    claimable = {
        who: market.claimable(who)
        for who in (p1.address, p2.address, r3.address, r4.address, r5.address, treasury)
    }
    return SettleRound(
        start,
        end,
        cap_ok,
        cap_bad,
        cap_cancelled,
        booking_ok,
        booking_bad,
        (p1, p2),
        (r3, r4, r5),
        funds,
        claimable,
    )


def warp_past_delay(market: Market, rnd: SettleRound) -> None:
    """To the first second every booking and window of the round can be settled."""
    warp_to(market, rnd.end + market.oracle.functions.maxDelay().call() + 1)
