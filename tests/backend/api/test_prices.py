"""GET /prices and /prices/{class}/fills over HTTP; compute_price_index against fills made on chain."""

from __future__ import annotations

import time

from sqlalchemy import insert

from backend.db.models import PriceIndex, table_of
from backend.market.price_index import compute_price_index
from tests.backend.api.scenario import open_market
from tests.backend.market_round import HOUR, PRICE, play_round
from tests.conftest import now, warp_to

H100, A100 = "H100-SXM5-80GB", "A100-SXM4-80GB"


def test_prices_from_fills(market, store, serve, index):
    rnd = play_round(market)
    om = open_market(market, rnd, store)
    index()
    api = serve(api_page_max=5)

    # H100 (node 1): 8 and 4 hours at PRICE, 2 resold at 2 × PRICE, then 1 at 2.3 in open_market.
    # A100 (node 2, node 3): a bid filled 3 + 1 at PRICE, then 2 at 1.2 in open_market.
    h100 = [(8, PRICE), (4, PRICE), (2, 2 * PRICE), (1, 2_300_000)]
    a100 = [(3, PRICE), (1, PRICE), (2, 1_200_000)]

    def vwap(fills):
        return sum(a * p for a, p in fills) // sum(a for a, _ in fills)

    assert (vwap(h100), vwap(a100)) == (2_393_333, 1_800_000)  # 35.9 / 15 rounded down; 10.8 / 6
    response = api.get("/prices")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["source"] == "fills" and body["as_of"] >= now(market)
    items = {item["gpu_class"]: item for item in body["items"]}
    assert list(items) == [A100, H100]
    assert {k: v for k, v in items[H100].items() if k != "last_time"} == {
        "gpu_class": H100,
        "last_price": 2_300_000,
        "vwap_24h": 2_393_333,
        "volume_24h": 15,
        "fills_24h": 4,
        "mark_price": 2_020_000,
        "mark_epoch": rnd.epochs[-1][1],
    }
    assert market.oracle.functions.markPrice(bytes(H100, "ascii").ljust(32, b"\0")).call() == [
        2_020_000,
        rnd.epochs[-1][1],
    ]
    assert {k: v for k, v in items[A100].items() if k != "last_time"} == {
        "gpu_class": A100,
        "last_price": 1_200_000,
        "vwap_24h": 1_800_000,
        "volume_24h": 6,
        "fills_24h": 3,
        "mark_price": None,
        "mark_epoch": None,
    }
    assert items[A100]["last_time"] <= now(market)

    # Fills of a class, newest first, paged.
    fills = api.get(f"/prices/{H100}/fills", params={"limit": 3})
    assert fills.status_code == 200, fills.text
    page = fills.json()
    assert page["total"] == 4 and [(f["amount"], f["price"]) for f in page["items"]] == h100[::-1][:3]
    newest = page["items"][0]
    assert newest["order_hash"] == "0x" + om.orders["a_ask_23"].hash.hex()
    assert (newest["kind"], newest["capacity_id"], newest["taker"]) == (
        "primary_sell",
        om.a,
        rnd.accounts[3].address,
    )
    rest = api.get(f"/prices/{H100}/fills", params={"limit": 3, "offset": 3}).json()["items"]
    assert [(f["amount"], f["price"], f["kind"]) for f in rest] == [(8, PRICE, "primary_sell")]
    a100_fills = api.get(f"/prices/{A100}/fills").json()["items"]
    assert [f["kind"] for f in a100_fills] == ["primary_sell", "buy", "buy"]
    missing = api.get("/prices/B200/fills")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    assert api.get(f"/prices/{H100}/fills", params={"limit": 6}).status_code == 422

    # A day later without trades: the last prices stay, the 24 h figures empty.
    warp_to(market, now(market) + 24 * HOUR + 1)
    index()
    later = {item["gpu_class"]: item for item in api.get("/prices").json()["items"]}
    h = later[H100]
    assert (h["last_price"], h["vwap_24h"], h["volume_24h"]) == (2_300_000, None, 0)
    assert later[A100]["fills_24h"] == 0 and later[H100]["mark_price"] == 2_020_000


def test_price_index_rows_are_used_while_fresh(market, store, serve, index):
    play_round(market)
    index()
    head = now(market)
    with store.connect() as conn:
        computed = compute_price_index(conn, market.chain_id, head)
    assert [
        (r["gpu_class"], r["last_price"], r["vwap_24h"], r["volume_24h"], r["fills_24h"]) for r in computed
    ] == [(A100, PRICE, PRICE, 4, 2), (H100, 2 * PRICE, (12 * PRICE + 4 * PRICE) // 14, 14, 3)]
    assert set(computed[0]) == {"gpu_class", "last_price", "last_time", "vwap_24h", "volume_24h", "fills_24h"}

    # What the price-index task stores, as it stores it: served instead of a fresh computation.
    stale_row = {
        **computed[0],
        "chain_id": market.chain_id,
        "last_price": 1,
        "updated_at": time.time() - 3_600,
    }
    api = serve(task_price_interval=60.0)
    with store.begin() as conn:
        conn.execute(insert(table_of(PriceIndex)), [stale_row])
    assert api.get("/prices").json()["source"] == "fills"  # an hour old: computed from the fills
    with store.begin() as conn:
        conn.execute(table_of(PriceIndex).delete())
        conn.execute(
            insert(table_of(PriceIndex)),
            [  # type: ignore[attr-defined]
                {**r, "chain_id": market.chain_id, "vwap_24h": 7, "updated_at": time.time()} for r in computed
            ],
        )
    body = api.get("/prices").json()
    assert body["source"] == "index"
    assert [(i["gpu_class"], i["vwap_24h"], i["last_price"]) for i in body["items"]] == [
        (A100, 7, PRICE),
        (H100, 7, 2 * PRICE),
    ]
    assert body["items"][1]["mark_price"] == 2_020_000
