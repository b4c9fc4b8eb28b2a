"""What a new user meets first: units stated, bodies capped, misspelt filters refused, the API's
documentation served from local files (a bearer token on POST /orders: test_orders.py)."""

from __future__ import annotations

import time

from tests.backend.api.test_auth import error


def test_the_market_states_its_units(serve, market):
    info = serve().get("/market")
    assert info.status_code == 200, info.text
    got = info.json()
    assert got["chain_id"] == market.chain_id
    assert got["stablecoin"] == {"address": market.usdc.address, "symbol": "USDC", "decimals": 6}
    assert got["money"].startswith("an integer number of USDC units of 10^-6: 2200000 is USDC 2.20")
    assert got["hour_seconds"] == 3600
    assert got["fee_bps"] == market.escrow.functions.feeBps().call()
    assert got["contracts"]["Exchange"] == market.exchange.address


def test_a_body_over_the_cap_is_413_unread(serve):
    api = serve(api_max_body=4096)
    declared = api.post(
        "/orders", content=b"{" + b" " * 5000 + b"}", headers={"content-type": "application/json"}
    )
    assert error(declared) == (413, "body_too_large")

    def chunks():  # no Content-Length: counted as it arrives
        for _ in range(10):
            yield b" " * 1000

    streamed = api.post("/orders", content=chunks(), headers={"content-type": "application/json"})
    assert error(streamed) == (413, "body_too_large")
    small = api.post("/orders", json={})
    assert error(small) == (422, "invalid_request")


def test_misspelt_filters_are_refused(serve):
    api = serve()
    wrong = api.get("/capacities", params={"capacityId": 1})
    assert error(wrong) == (422, "invalid_request")
    assert "capacityId" in wrong.json()["error"]["reason"] and "gpu_model" in wrong.json()["error"]["reason"]
    assert api.get("/capacities", params={"limit": 5}).status_code == 200
    assert error(api.get("/events/stream", params={"evnt": "OrderFilled"})) == (422, "invalid_request")
    misspelt = api.get("/events/stream", params={"event": "OrderFiled"})
    assert error(misspelt) == (400, "unknown_name")
    assert "OrderFiled" in misspelt.json()["error"]["reason"]
    assert error(api.get("/events/stream", params={"contract": "Exchang"})) == (400, "unknown_name")
    with api.stream("GET", "/events/stream", params={"event": "OrderFilled", "contract": "Exchange"}) as ok:
        assert ok.status_code == 200


def test_the_docs_load_nothing_from_elsewhere(serve):
    api = serve()
    page = api.get("/docs")
    assert page.status_code == 200
    assert "/docs/assets/swagger-ui-bundle.js" in page.text and "/docs/assets/swagger-ui.css" in page.text
    assert "cdn" not in page.text.lower() and "https://" not in page.text
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        got = api.get(f"/docs/assets/{asset}")
        assert got.status_code == 200 and len(got.content) > 10_000


def test_writes_past_the_quota_are_429_and_reads_go_on(serve):
    api = serve(api_write_rate=0.5, api_write_burst=3)
    for _ in range(3):
        assert api.post("/auth/nonce").status_code == 200
    refused = api.post("/auth/nonce")
    assert error(refused) == (429, "rate_limited")
    assert refused.headers["retry-after"] == "2"
    assert error(api.post("/orders", json={})) == (429, "rate_limited")  # one quota for every write
    assert api.get("/capacities").status_code == 200  # reads are not writes
    time.sleep(2.1)
    assert api.post("/auth/nonce").status_code == 200
