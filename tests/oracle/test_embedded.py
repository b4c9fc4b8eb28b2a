"""oracle/embedded.py end to end on a real chain: simulated agents → three oracle nodes (threshold two) → the
AttestationOracle → Settlement. A healthy provider is paid; a failing one is slashed and its renter
refunded, fee included."""

from __future__ import annotations

import pytest

from backend.chain import errors
from backend.chain.dev_accounts import DEV_ORACLE_ACCOUNTS, dev_account
from backend.chain.orders import OrderKind
from oracle.agent.telemetry.simulated import SimulatedSource
from oracle.aggregator.submitter import Submitter
from oracle.embedded import WatchedNode, attest_epoch
from oracle.node.epoch_attestation import EPOCH_SECONDS, epoch_bounds
from oracle.protocol.report import Domain
from tests.conftest import USDC, fund, now, warp_to

GPUS, HOURS, PRICE = 2, 3, 2_000_000


@pytest.fixture
def round_setup(market, accounts):
    provider_ok, provider_bad, renter_a, renter_b = accounts[1], accounts[2], accounts[3], accounts[4]
    fund(market, accounts[1:5], 10_000 * USDC)
    start = now(market) - now(market) % EPOCH_SECONDS + EPOCH_SECONDS
    bond = GPUS * HOURS * market.min_bond_per_unit() * 100  # room to slash
    caps, bookings = {}, {}
    for provider, renter, name in ((provider_ok, renter_a, "ok"), (provider_bad, renter_b, "bad")):
        node = market.register_node(provider, "H100-SXM5-80GB", GPUS, 80, "eu-west", "NVLink", [name])
        cap = market.create_capacity(provider, node, start, start + HOURS * EPOCH_SECONDS, PRICE, bond)
        ask = market.sign(provider, OrderKind.PRIMARY_SELL, cap, GPUS * HOURS, PRICE, start)
        market.fill(renter, ask, GPUS * HOURS)
        bookings[name] = market.activate(renter, cap, start, HOURS, GPUS)
        caps[name] = (node, cap)
    return {
        "start": start,
        "caps": caps,
        "bookings": bookings,
        "bond": bond,
        "providers": (provider_ok, provider_bad),
        "renters": (renter_a, renter_b),
    }


def test_healthy_provider_paid_failing_provider_slashed(market, round_setup):
    s = round_setup
    domain = Domain(market.chain_id, market.oracle.address)
    oracles = [dev_account(i, market.chain_id) for i in DEV_ORACLE_ACCOUNTS]
    submitter = Submitter(market.w3, market.oracle, dev_account(9, market.chain_id), market.errors)
    (node_ok, cap_ok), (node_bad, cap_bad) = s["caps"]["ok"], s["caps"]["bad"]
    healthy = WatchedNode(node_ok, GPUS, SimulatedSource(seed=1, gpus=GPUS))
    failing = WatchedNode(node_bad, GPUS, SimulatedSource(seed=2, gpus=GPUS))
    first_epoch = s["start"] // EPOCH_SECONDS
    for epoch in range(first_epoch, first_epoch + HOURS):
        lo, _ = epoch_bounds(epoch)
        failing.source.schedule_outage(lo + 600, lo + 3000)  # down 40 of 60 minutes, every hour
        signed = attest_epoch([healthy, failing], epoch, oracles, 2, domain)
        assert len(signed.signatures) == 2 and list(signed.signers) == sorted(
            signed.signers, key=lambda a: int(a, 16)
        )
        warp_to(market, (epoch + 1) * EPOCH_SECONDS + 60)
        submitter.submit(signed.report, signed.signatures)
        with pytest.raises(errors.AlreadyAttested):  # a replay is refused, never counted twice
            submitter.submit(signed.report, signed.signatures)

    ok_uptime = market.oracle.functions.epochRecord(node_ok, first_epoch).call()
    bad_uptime = market.oracle.functions.epochRecord(node_bad, first_epoch).call()
    assert ok_uptime[0] and ok_uptime[1] >= 9_900
    # 20 of 60 minutes up, and its failed challenges count it down until the next passed one
    assert bad_uptime[0] and bad_uptime[1] <= 3_400
    assert market.oracle.functions.reliabilityBps(node_ok).call() >= 9_900

    keeper = dev_account(9, market.chain_id)
    with pytest.raises(errors.NotSettleable):
        market.send(keeper, market.settlement.functions.settleBooking(s["bookings"]["ok"]))
    max_delay = market.oracle.functions.maxDelay().call()
    warp_to(market, s["start"] + HOURS * EPOCH_SECONDS + max_delay + 1)

    provider_ok, provider_bad = s["providers"]
    renter_a, renter_b = s["renters"]
    backing_ok, _, _, _ = market.escrow.functions.funds(cap_ok).call()
    backing_bad, bond_bad, _, _ = market.escrow.functions.funds(cap_bad).call()
    fee_ok = -(-backing_ok * market.escrow.functions.feeBps().call() // 10_000)
    treasury = market.escrow.functions.treasury().call()
    treasury_before = market.claimable(treasury)

    market.send(keeper, market.settlement.functions.settleBooking(s["bookings"]["ok"]))
    market.send(keeper, market.settlement.functions.settleBooking(s["bookings"]["bad"]))

    assert market.claimable(provider_ok.address) == backing_ok - fee_ok  # every hour delivered: all of it
    assert market.claimable(renter_a.address) == 0
    assert market.claimable(treasury) == treasury_before + fee_ok  # no fee on the failed booking
    sla = market.settlement.functions.sla().call()
    slashed = GPUS * (HOURS - sla[2]) * sla[3]
    assert market.claimable(provider_bad.address) == 0
    assert market.claimable(renter_b.address) == backing_bad + slashed == GPUS * HOURS * PRICE + slashed
    assert market.escrow.functions.funds(cap_bad).call()[1] == bond_bad - slashed
    assert market.booking(s["bookings"]["ok"])["closeReason"] == 1  # Completed
    assert market.booking(s["bookings"]["bad"])["closeReason"] == 3  # ProviderFailed

    # Every sold unit is settled: the capacities close and what is left of the bonds goes home.
    market.send(keeper, market.settlement.functions.settleCapacity(cap_ok))
    market.send(keeper, market.settlement.functions.settleCapacity(cap_bad))
    assert market.capacity(cap_ok)["closeReason"] == 1 and market.capacity(cap_bad)["closeReason"] == 3
    assert market.claimable(provider_bad.address) == bond_bad - slashed
    assert market.escrow.functions.funds(cap_ok).call() == (0, 0, 0, 0)
