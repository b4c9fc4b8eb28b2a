"""GET /capacities, /capacities/{id} and /capacities/{id}/book over HTTP, on data made on chain."""

from __future__ import annotations

from collections import Counter

from backend.db.models import CLOSE_REASONS
from tests.backend.api.scenario import open_market
from tests.backend.market_round import HOUR, play_round


def ids(response) -> list[int]:
    assert response.status_code == 200, response.text
    return [item["capacity_id"] for item in response.json()["items"]]


def test_list_filters_sort_and_pages(market, store, serve, index):
    rnd = play_round(market)
    om = open_market(market, rnd, store)
    index()
    api = serve(api_page_max=10)
    p1, p2 = rnd.accounts[1].address, rnd.accounts[2].address
    cap1, cap2 = rnd.capacities
    a, b, c, t0 = om.a, om.b, om.c, om.t0

    listing = api.get("/capacities")
    assert ids(listing) == [a, c, b] and listing.json()["total"] == 3
    first = listing.json()["items"][0]
    assert first == {
        "capacity_id": a,
        "node_id": rnd.nodes[0],
        "provider": p1,
        "start": t0,
        "end": t0 + 4 * HOUR,
        "hours": 4,
        "status": "active",
        "close_reason": "none",
        "supply_cap": 16,
        "minted": 1,
        "supply": 1,
        "units_available": 15,
        "activated": 0,
        "bond": first["bond"],
        "unit_backing": 1_000_000,
        "created_block": first["created_block"],
        "created_time": first["created_time"],
        "node": {
            "node_id": rnd.nodes[0],
            "owner": p1,
            "gpu_model": "H100-SXM5-80GB",
            "gpu_count": 4,
            "vram_gb": 80,
            "region": "eu-west",
            "interconnect": "NVLink",
        },
        "best_ask": 2_300_000,
        "best_bid": 2_000_000,
        "reliability_bps": 6_325,  # see test_nodes.RELIABILITY
        "epochs_attested": 3,
    }
    assert first["bond"] == 16 * market.min_bond_per_unit()
    by_id = {item["capacity_id"]: item for item in listing.json()["items"]}
    assert (by_id[b]["best_ask"], by_id[b]["best_bid"], by_id[b]["reliability_bps"]) == (1_500_000, None, 0)
    assert (by_id[c]["best_ask"], by_id[c]["best_bid"]) == (None, None)

    # Status.
    assert ids(api.get("/capacities", params={"status": "closed"})) == [cap1]
    assert ids(api.get("/capacities", params={"status": "cancelled"})) == [cap2]
    assert api.get("/capacities", params={"status": "any"}).json()["total"] == 5
    # Node filters.
    assert ids(api.get("/capacities", params={"gpu_model": "A100-SXM4-80GB"})) == [c, b]
    assert ids(api.get("/capacities", params={"region": "eu-west"})) == [a]
    assert ids(api.get("/capacities", params={"interconnect": "InfiniBand"})) == [b]
    assert ids(api.get("/capacities", params={"min_gpus": 4})) == [a, b]
    assert ids(api.get("/capacities", params={"gpu_model": "A100-SXM4-80GB", "min_gpus": 4})) == [b]
    # Windows.
    assert ids(api.get("/capacities", params={"window_start_after": t0 + HOUR})) == [c, b]
    assert ids(api.get("/capacities", params={"window_end_before": t0 + 4 * HOUR})) == [a, c]
    assert ids(api.get("/capacities", params={"available_at": t0 + 1800})) == [a]
    assert ids(api.get("/capacities", params={"available_at": t0 + 2 * HOUR + 1800})) == [a, c, b]
    # Price: the withdrawn ask at 2.0, the expired one at 1.8 and the filled one at 1.2 do not count.
    assert ids(api.get("/capacities", params={"max_price": 2_300_000})) == [a, b]
    assert ids(api.get("/capacities", params={"max_price": 2_299_999})) == [b]
    assert ids(api.get("/capacities", params={"max_price": 1_499_999})) == []
    # Reliability and provider (any case without a checksum, or a valid checksum).
    assert ids(api.get("/capacities", params={"min_reliability": 6_325})) == [a]
    assert ids(api.get("/capacities", params={"min_reliability": 6_326})) == []
    assert ids(api.get("/capacities", params={"provider": p2.lower()})) == [b]
    assert ids(api.get("/capacities", params={"provider": p1})) == [a, c]

    # Sorts: capacities without an ask last either way; ties by id in the same direction.
    assert ids(api.get("/capacities", params={"sort": "price"})) == [b, a, c]
    assert ids(api.get("/capacities", params={"sort": "price", "order": "desc"})) == [a, b, c]
    assert ids(api.get("/capacities", params={"sort": "reliability", "order": "desc"})) == [a, c, b]
    assert ids(api.get("/capacities", params={"sort": "gpus", "order": "desc"})) == [b, a, c]
    assert ids(api.get("/capacities", params={"sort": "start", "order": "desc"})) == [b, c, a]

    # Pages.
    page = api.get("/capacities", params={"limit": 2})
    assert ids(page) == [a, c] and page.json()["total"] == 3 and page.json()["limit"] == 2
    page = api.get("/capacities", params={"limit": 2, "offset": 2})
    assert ids(page) == [b] and page.json()["total"] == 3 and page.json()["offset"] == 2

    # Bad parameters: JSON errors with a reason.
    for params, words in (
        ({"limit": 11}, "at most 10"),
        ({"sort": "cheapest"}, "sort"),
        ({"min_reliability": 10_001}, "min_reliability"),
        ({"limit": 0}, "limit"),
        ({"provider": "0x1234"}, "20-byte"),
        ({"provider": p1[:-1] + ("a" if p1[-1] != "a" else "b")}, "checksum"),
        ({"provider": p1.swapcase().replace("0X", "0x")}, "checksum"),
    ):
        response = api.get("/capacities", params=params)
        assert response.status_code == 422, (params, response.text)
        error = response.json()["error"]
        assert error["code"] in ("invalid_request", "invalid_address") and words in error["reason"], error


def test_detail_and_book(market, store, serve, index):
    rnd = play_round(market)
    om = open_market(market, rnd, store)
    index()
    api = serve()
    cap1 = rnd.capacities[0]

    # A capacity settled with a slash: escrow, outcome and bookings equal the contracts' views.
    detail = api.get(f"/capacities/{cap1}")
    assert detail.status_code == 200, detail.text
    d = detail.json()
    on_chain = market.capacity(cap1)
    assert (d["status"], d["close_reason"]) == ("closed", CLOSE_REASONS[on_chain["closeReason"]])
    assert d["close_reason"] == "provider_failed"
    assert (d["delivered_hours"], d["failed_hours"]) == (1, 2)
    backing, bond, penalty, premium = market.escrow.functions.funds(cap1).call()
    assert {k: d["escrow"][k] for k in ("backing", "bond", "penalty_per_unit", "premium")} == {
        "backing": backing,
        "bond": bond,
        "penalty_per_unit": penalty,
        "premium": premium,
    }
    assert d["escrow"]["slashed"] > 0 and d["escrow"]["released"] > 0
    bookings = [market.booking(bid) for bid in rnd.bookings[1:]]
    reasons = dict(Counter(CLOSE_REASONS[booking["closeReason"]] for booking in bookings))
    s = d["bookings"]
    assert s["count"] == 2 and s["open"] == 0 and s["settled"] == 2 and s["by_close_reason"] == reasons
    assert s["gpu_hours"] == sum(bk["gpus"] * bk["hours"] for bk in bookings) == 3 + 4
    # The bond went to the failed booking and, for the failed hours past grace, to the unused hours.
    unused_slashed = sum(
        e["args"]["slashed"]
        for e in market.settlement.events.UnusedSettled().get_logs(
            from_block=market.deployment.deploy_block, argument_filters={"capacityId": cap1}
        )
    )
    assert s["slashed"] + unused_slashed == d["escrow"]["slashed"] and unused_slashed > 0
    assert s["delivered_hours"] + s["failed_hours"] == 3 + 2

    fresh = api.get(f"/capacities/{om.a}").json()
    assert fresh["escrow"]["bond"] == fresh["bond"] and fresh["bookings"]["count"] == 0
    assert (fresh["best_ask"], fresh["best_bid"], fresh["delivered_hours"]) == (2_300_000, 2_000_000, None)

    missing = api.get("/capacities/999")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    assert api.get("/capacities/abc").status_code == 422

    # The book of capacity a: dead orders left out, levels summed, best first.
    book = api.get(f"/capacities/{om.a}/book", params={"depth": 10})
    assert book.status_code == 200, book.text
    asks, bids = book.json()["asks"], book.json()["bids"]
    assert asks["levels"] == [
        {"price": 2_300_000, "remaining": 3 + 2, "orders": 2},
        {"price": 2_400_000, "remaining": 1, "orders": 1},
        {"price": 2_500_000, "remaining": 10, "orders": 1},
    ]
    assert bids["levels"] == [
        {"price": 2_000_000, "remaining": 2, "orders": 1},
        {"price": 1_900_000, "remaining": 4, "orders": 1},
    ]
    o = om.orders
    assert [x["order_hash"] for x in asks["orders"]] == [
        "0x" + o[n].hash.hex() for n in ("a_ask_23", "a_ask_23b", "a_resale_24", "a_ask_25")
    ]
    assert asks["orders"][0] == {
        "order_hash": "0x" + o["a_ask_23"].hash.hex(),
        "maker": rnd.accounts[1].address,
        "kind": "primary_sell",
        "price": 2_300_000,
        "amount": 4,
        "remaining": 3,
        "expiry": om.t0,
    }
    assert asks["orders"][2]["kind"] == "sell"
    assert [x["order_hash"] for x in bids["orders"]] == [
        "0x" + o[n].hash.hex() for n in ("a_bid_20", "a_bid_19")
    ]

    top = api.get(f"/capacities/{om.a}/book", params={"depth": 1}).json()
    assert top["asks"]["levels"] == [{"price": 2_300_000, "remaining": 5, "orders": 2}]
    assert len(top["asks"]["orders"]) == 1 and top["bids"]["levels"][0]["price"] == 2_000_000

    b_book = api.get(f"/capacities/{om.b}/book").json()
    assert b_book["asks"]["levels"] == [{"price": 1_500_000, "remaining": 8, "orders": 1}]
    assert b_book["bids"] == {"levels": [], "orders": []}
    assert api.get("/capacities/999/book").status_code == 404
    assert api.get(f"/capacities/{om.a}/book", params={"depth": 0}).status_code == 422
