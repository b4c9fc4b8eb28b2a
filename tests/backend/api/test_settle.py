"""Settlement by hand over real HTTP: the API builds the transaction, the wallet signs and sends it,
and it settles; a call that is not due, or done already, is a 409 naming the contract's error."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from backend.chain import errors
from backend.chain.orders import OrderKind
from backend.db.models import Booking, Node
from tests.backend.api.test_wallet import _send
from tests.backend.settle_round import HOUR, play_settle_round, warp_past_delay
from tests.conftest import USDC, fund, now, warp_to


def test_settle_booking_unused_and_capacity_from_unsigned_transactions(serve, market, accounts, index):
    rnd = play_settle_round(market)
    api = serve()
    anyone = accounts[5]  # a renter of the round; settling needs no role

    early = api.post("/tx/settle/booking", json={"sender": anyone.address, "booking_id": rnd.booking_ok})
    assert early.status_code == 409
    assert early.json()["error"]["details"]["error"] == "NotSettleable"

    warp_past_delay(market, rnd)
    for booking in (rnd.booking_ok, rnd.booking_bad):
        tx = api.post("/tx/settle/booking", json={"sender": anyone.address, "booking_id": booking})
        assert tx.status_code == 200, tx.text
        assert tx.json()["to"] == market.settlement.address
        _send(market, anyone, tx.json())
    assert market.booking(rnd.booking_ok)["closeReason"] == 1
    again = api.post("/tx/settle/booking", json={"sender": anyone.address, "booking_id": rnd.booking_ok})
    assert again.json()["error"]["details"]["error"] == "BookingNotOpen"

    # Closing before the unused hours are settled: the contract says how many are outstanding.
    outstanding = api.post("/tx/settle/capacity", json={"sender": anyone.address, "capacity_id": rnd.cap_ok})
    assert outstanding.json()["error"]["details"]["error"] == "UnitsOutstanding"

    # Holders left out: the index's holders are used.
    index()
    tx = api.post("/tx/settle/unused", json={"sender": anyone.address, "capacity_id": rnd.cap_ok})
    assert tx.status_code == 200, tx.text
    _send(market, anyone, tx.json())
    r3, _, r5 = rnd.renters
    assert market.hours_of(r3.address, rnd.cap_ok) == market.hours_of(r5.address, rnd.cap_ok) == 0
    index()
    nobody = api.post("/tx/settle/unused", json={"sender": anyone.address, "capacity_id": rnd.cap_ok})
    assert (nobody.status_code, nobody.json()["error"]["code"]) == (404, "no_holders")

    for cap in (rnd.cap_ok, rnd.cap_bad):
        tx = api.post("/tx/settle/capacity", json={"sender": anyone.address, "capacity_id": cap})
        assert tx.status_code == 200, tx.text
        _send(market, anyone, tx.json())
        assert market.capacity(cap)["status"] == 3
        assert market.escrow.functions.funds(cap).call() == (0, 0, 0, 0)
    # The client says the same by exception.
    with pytest.raises(errors.CapacityNotSettleable):
        market.settle_capacity(anyone, rnd.cap_ok)
    with pytest.raises(errors.BookingNotOpen):
        market.settle_booking(anyone, rnd.booking_bad)


def test_settle_requests_are_checked(serve, market, accounts):
    api = serve()
    bad = api.post("/tx/settle/unused", json={"sender": "0x1234", "capacity_id": 1, "holders": []})
    assert bad.status_code == 422
    reason = bad.json()["error"]["reason"]
    assert "sender" in reason and "holders" in reason
    gone = api.post("/tx/settle/capacity", json={"sender": accounts[1].address, "capacity_id": 999})
    assert gone.status_code == 409 and gone.json()["error"]["details"]["error"] == "CapacityNotSettleable"


def test_end_a_running_booking_early_from_an_unsigned_transaction(serve, market, accounts, store, index):
    provider, renter, stranger = accounts[1], accounts[3], accounts[4]
    fund(market, (provider, renter), 10_000 * USDC)
    node = market.register_node(provider, "H100-SXM5-80GB", 2, 80, "eu-west", "NVLink", ["GPU-early"])
    start = now(market) - now(market) % HOUR + HOUR
    backing = 2 * USDC
    cap = market.create_capacity(
        provider, node, start, start + 6 * HOUR, backing, 12 * market.min_bond_per_unit()
    )
    market.fill(renter, market.sign(provider, OrderKind.PRIMARY_SELL, cap, 12, backing, start), 12)
    booking = market.activate(renter, cap, start, 6, 2)
    api = serve()

    not_yet = api.post("/tx/settle/end-booking", json={"sender": renter.address, "booking_id": booking})
    assert not_yet.json()["error"]["details"]["error"] == "BookingNotStarted"
    warp_to(market, start + HOUR + 600)  # hours 0 and 1 have started
    theirs = api.post("/tx/settle/end-booking", json={"sender": stranger.address, "booking_id": booking})
    assert theirs.json()["error"]["details"]["error"] == "NotBookingHolder"
    tx = api.post("/tx/settle/end-booking", json={"sender": renter.address, "booking_id": booking})
    assert tx.status_code == 200, tx.text
    claimable = market.claimable(renter.address)
    _send(market, renter, tx.json())
    assert market.claimable(renter.address) - claimable == 4 * 2 * backing  # hours 2..5 of 2 GPUs
    assert market.booking(booking)["hours"] == 2
    assert market.hours.functions.bookedAt(cap, start + 2 * HOUR).call() == 0

    index()
    with store.connect() as conn:
        row = conn.execute(
            select(Booking.hours, Booking.hours_returned).where(Booking.booking_id == booking)
        ).one()
        early_ends = conn.execute(select(Node.early_ends).where(Node.node_id == node)).scalar_one()
    assert tuple(row) == (2, 4) and early_ends == 1
