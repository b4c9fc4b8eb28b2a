"""GET /accounts/{address}/positions and /bookings over HTTP, on holdings made on chain."""

from __future__ import annotations

from sqlalchemy import func, select

from backend.db.models import CLOSE_REASONS, Slash
from tests.backend.api.scenario import open_market
from tests.backend.market_round import play_round


def test_positions_and_bookings(market, store, serve, index):
    rnd = play_round(market)
    om = open_market(market, rnd, store)
    r3, r4 = rnd.accounts[3], rnd.accounts[4]
    market.fill(r3, om.orders["b_ask_15"], 3)
    index()
    api = serve()
    early, b3, b4 = rnd.bookings

    response = api.get(f"/accounts/{r3.address.lower()}/positions")
    assert response.status_code == 200, response.text
    p = response.json()
    assert p["address"] == r3.address
    assert p["claimable"] == market.claimable(r3.address)
    assert p["withdrawn"] > 0 and p["credited"] == p["claimable"] + p["withdrawn"]
    assert p["open_orders"] == 1  # the resale of capacity a
    assert p["positions_total"] == 2
    held = [(om.a, market.hours_of(r3.address, om.a)), (om.b, market.hours_of(r3.address, om.b))]
    assert [(x["capacity_id"], x["amount"]) for x in p["positions"]] == held == [(om.a, 1), (om.b, 3)]
    held_a = p["positions"][0]
    assert held_a == {
        "capacity_id": om.a,
        "amount": 1,
        "node_id": rnd.nodes[0],
        "gpu_class": "H100-SXM5-80GB",
        "start": om.t0,
        "end": om.t0 + 4 * 3600,
        "status": "active",
        "close_reason": "none",
        "mark_price": 2_020_000,
        "mark_value": 2_020_000,
    }
    assert (p["positions"][1]["gpu_class"], p["positions"][1]["mark_value"]) == ("A100-SXM4-80GB", None)

    # Bookings, newest first, with how they ended: b3 settled with two failed hours and a slash.
    assert p["bookings_total"] == 2 and [x["booking_id"] for x in p["bookings"]] == [b3, early]
    settled, refunded = p["bookings"]
    assert settled["close_reason"] == CLOSE_REASONS[market.booking(b3)["closeReason"]] == "provider_failed"
    with store.connect() as conn:
        slashed_to_r3 = conn.execute(
            select(func.sum(Slash.amount)).where(
                Slash.to == r3.address, Slash.capacity_id == rnd.capacities[0]
            )
        ).scalar()
    grace, slash = market.settlement.functions.sla().call()[2:4]
    unused_to_r3 = 2 * (2 - grace) * slash // 3  # r3's 2 unused units, the failed hour past grace of 3
    assert (settled["settled"], settled["delivered_hours"], settled["failed_hours"]) == (True, 1, 2)
    assert settled["slashed"] == 1 * (2 - grace) * slash == slashed_to_r3 - unused_to_r3 > 0
    assert settled["paid"] > 0 and settled["refunded"] > 0
    assert (settled["capacity_id"], settled["hours"], settled["gpus"]) == (rnd.capacities[0], 3, 1)
    assert refunded["close_reason"] == CLOSE_REASONS[market.booking(early)["closeReason"]]
    assert refunded["close_reason"] != "none" and refunded["settled"] is False and refunded["paid"] is None

    page = api.get(f"/accounts/{r3.address}/positions", params={"limit": 1, "offset": 1}).json()
    assert [x["capacity_id"] for x in page["positions"]] == [om.b] and page["positions_total"] == 2
    assert [x["booking_id"] for x in page["bookings"]] == [b3]

    r4_view = api.get(f"/accounts/{r4.address}/positions").json()
    assert r4_view["open_orders"] == 1 and [x["capacity_id"] for x in r4_view["positions"]] == [om.b]
    assert r4_view["claimable"] == market.claimable(r4.address)
    assert [x["booking_id"] for x in r4_view["bookings"]] == [b4]

    bookings = api.get(f"/accounts/{r3.address}/bookings", params={"limit": 1, "offset": 1})
    assert bookings.status_code == 200, bookings.text
    assert [x["booking_id"] for x in bookings.json()["items"]] == [early] and bookings.json()["total"] == 2

    nobody = api.get("/accounts/0x000000000000000000000000000000000000dEaD/positions").json()
    assert (nobody["claimable"], nobody["positions"], nobody["bookings"], nobody["open_orders"]) == (
        0,
        [],
        [],
        0,
    )

    wrong_case = r3.address[:2] + r3.address[2:].swapcase()
    for bad, words in (("0x1234", "20-byte"), ("0x" + "g" * 40, "20-byte"), (wrong_case, "checksum")):
        for path in ("positions", "bookings"):
            response = api.get(f"/accounts/{bad}/{path}")
            assert response.status_code == 422, response.text
            error = response.json()["error"]
            assert error["code"] == "invalid_address" and words in error["reason"], error
