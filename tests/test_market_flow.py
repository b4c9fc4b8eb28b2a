"""The whole lease path from Python against a real chain, with signed orders."""

from __future__ import annotations

import json

import pytest

from backend.chain import errors
from backend.chain.deployments import REPO_ROOT, abi_hash
from backend.chain.orders import OrderKind, order_hash
from tests.conftest import USDC, fund, now, warp_to

HOUR = 3600
PRICE = 2_100_000  # 2.10 USDC per GPU-hour


def _next_hour(t: int) -> int:
    return t - t % HOUR + HOUR


@pytest.fixture
def setup(market, accounts):
    """Provider 1 has an 8-GPU node and a 48-hour window starting next hour; renters are funded."""
    provider = accounts[1]
    fund(market, accounts[1:], 100_000 * USDC)
    node = market.register_node(provider, "H100-SXM5-80GB", 8, 80, "eu-west", "NVLink", ["GPU-a", "GPU-b"])
    start = _next_hour(now(market))
    bond = 8 * 48 * market.min_bond_per_unit()
    capacity = market.create_capacity(provider, node, start, start + 48 * HOUR, BACKING, bond)
    return {"provider": provider, "node": node, "capacity": capacity, "start": start, "bond": bond}


BACKING = PRICE - 100_000  # each unit's fixed escrow: primary sales at PRICE carry a 0.10 premium


def test_order_hash_matches_contract(market, accounts, setup):
    signed = market.sign(
        setup["provider"], OrderKind.PRIMARY_SELL, setup["capacity"], 10, PRICE, now(market) + HOUR
    )
    on_chain = market.exchange.functions.hashOrder(signed.order.as_tuple()).call()
    assert on_chain == signed.hash == order_hash(signed.order, market.chain_id, market.exchange.address)


def test_primary_resale_activation_and_cancel_refund(market, accounts, setup):
    provider, renter_a, renter_b, renter_c = accounts[1], accounts[3], accounts[4], accounts[5]
    cap, start = setup["capacity"], setup["start"]
    treasury = market.exchange.functions.treasury().call()
    expiry = now(market) + 6 * HOUR

    # Primary sale: the provider lists 200 GPU-hours; two renters buy parts of it.
    listing = market.sign(provider, OrderKind.PRIMARY_SELL, cap, 200, PRICE, expiry)
    a_before = market.usdc_balance(renter_a.address)
    fill = market.fill(renter_a, listing, 120)
    # No fee at a primary sale: it is taken when the provider is paid for delivery.
    assert fill.amount == 120 and fill.fee == 0
    assert market.usdc_balance(renter_a.address) == a_before - 120 * PRICE
    assert market.hours_of(renter_a.address, cap) == 120
    market.fill(renter_b, listing, 80)
    assert market.filled(listing.hash) == 200
    with pytest.raises(errors.InsufficientRemaining) as exc:
        market.fill(renter_c, listing, 1)
    assert exc.value.fields == {"orderHash": listing.hash, "amount": 1, "remaining": 0}
    funds = market.escrow.functions.funds(cap).call()
    # Every unit's backing, whatever it sold for; the premium above it held until the window settles.
    assert (funds[0], funds[3]) == (200 * BACKING, 200 * (PRICE - BACKING))
    assert market.claimable(provider.address) == 0
    assert market.hours.functions.totalSupply(cap).call() == 200

    # Resale: renter A sells 40 hours to renter C at a markup; payment goes straight to A.
    resale = market.sign(renter_a, OrderKind.SELL, cap, 40, PRICE * 3 // 2, expiry)
    a_mid, t_mid = market.usdc_balance(renter_a.address), market.usdc_balance(treasury)
    resold = market.fill(renter_c, resale, 40)
    total = 40 * (PRICE * 3 // 2)
    assert market.usdc_balance(renter_a.address) == a_mid + total - resold.fee
    assert market.usdc_balance(treasury) == t_mid + resold.fee
    assert market.hours_of(renter_c.address, cap) == 40

    # Activation: renter B books 8 GPUs for 10 hours; a ninth GPU in those hours does not fit.
    booking = market.activate(renter_b, cap, start, 10, 8)
    assert market.hours_of(renter_b.address, cap) == 0
    assert market.booking(booking)["holder"] == renter_b.address
    assert market.hours.functions.bookedAt(cap, start + 5 * HOUR).call() == 8
    with pytest.raises(errors.Overbooked) as exc:
        market.activate(renter_c, cap, start + 9 * HOUR, 1, 1)
    assert exc.value.fields["booked"] == 8 and exc.value.fields["gpuCount"] == 8

    # The provider cancels before the window: every sold hour gets its backing back plus a penalty
    # from the bond (the SLA's slash per GPU-hour, as far as the bond goes); the rest of it returns,
    # and the premium is forfeited to the treasury: cancelling after selling dear earns nothing.
    treasury_before = market.claimable(treasury)
    market.cancel_capacity(provider, cap)
    penalty = min(market.settlement.functions.sla().call()[3], setup["bond"] // 200)
    assert market.claimable(provider.address) == setup["bond"] - 200 * penalty
    assert market.claimable(treasury) == treasury_before + 200 * (PRICE - BACKING)
    market.redeem_cancelled(renter_a, cap, 80)
    market.redeem_cancelled(renter_c, cap, 40)
    market.refund_booking(renter_b, booking)
    assert market.booking(booking)["closeReason"] == 5  # ProviderCancelled
    per_unit = BACKING + penalty
    assert market.claimable(renter_a.address) == 80 * per_unit
    assert market.claimable(renter_c.address) == 40 * per_unit
    assert market.claimable(renter_b.address) == 80 * per_unit
    assert market.escrow.functions.funds(cap).call() == (0, 0, penalty, 0)
    b_before = market.usdc_balance(renter_b.address)
    assert market.withdraw(renter_b) == 80 * per_unit
    assert market.usdc_balance(renter_b.address) == b_before + 80 * per_unit
    with pytest.raises(errors.NothingToWithdraw):
        market.withdraw(renter_b)
    with pytest.raises(errors.CapacityNotActive):
        market.activate(renter_a, cap, start + 20 * HOUR, 1, 1)


def test_bad_orders_revert_with_named_errors(market, accounts, setup):
    provider, renter = accounts[1], accounts[3]
    cap = setup["capacity"]
    expiry = now(market) + HOUR

    stranger_signed = market.sign(accounts[2], OrderKind.PRIMARY_SELL, cap, 10, PRICE, expiry)
    with pytest.raises(errors.NotProvider):
        market.fill(renter, stranger_signed, 1)

    listing = market.sign(provider, OrderKind.PRIMARY_SELL, cap, 10, PRICE, expiry)
    forged = type(listing)(listing.order, accounts[2].unsafe_sign_hash(listing.hash).signature, listing.hash)
    with pytest.raises(errors.InvalidSignature):
        market.fill(renter, forged, 1)

    market.cancel_orders(provider, [listing.order])
    with pytest.raises(errors.CancelledOrder):
        market.fill(renter, listing, 1)

    stale = market.sign(provider, OrderKind.PRIMARY_SELL, cap, 10, PRICE, expiry)
    market.increment_counter(provider)
    with pytest.raises(errors.StaleCounter):
        market.fill(renter, stale, 1)

    late = market.sign(provider, OrderKind.PRIMARY_SELL, cap, 10, PRICE, expiry)
    warp_to(market, expiry + 1)
    with pytest.raises(errors.OrderExpired) as exc:
        market.fill(renter, late, 1)
    assert exc.value.fields["expiry"] == expiry
    assert market.hours.functions.totalSupply(cap).call() == 0  # nothing half-done


def test_provider_fills_bid_by_minting(market, accounts, setup):
    provider, renter = accounts[1], accounts[3]
    cap = setup["capacity"]
    bid = market.sign(renter, OrderKind.BUY, cap, 16, PRICE, now(market) + HOUR)
    before = market.usdc_balance(renter.address)
    batch = market.fill_batch(provider, [(bid, 10), (bid, 6)])
    assert [f.amount for f in batch] == [10, 6]
    assert market.hours_of(renter.address, cap) == 16
    assert market.usdc_balance(renter.address) == before - 16 * PRICE


def test_committed_abis_match_the_deployment(deployments_dir):
    for path in sorted((deployments_dir / "abi").glob("*.json")):
        committed = REPO_ROOT / "deployments" / "abi" / path.name
        assert committed.exists(), f"deployments/abi/{path.name} is missing: run the deploy and commit it"
        assert abi_hash(json.loads(committed.read_text())) == abi_hash(json.loads(path.read_text())), (
            f"deployments/abi/{path.name} is stale: redeploy locally and commit the new ABI"
        )
