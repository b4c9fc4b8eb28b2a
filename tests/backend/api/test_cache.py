"""The read cache of /capacities: a hit is the same answer, and nothing it serves is older than the
store: a posted order, an indexed block or a withdrawal shows at once."""

from __future__ import annotations

import time

from sqlalchemy import update
from sqlmodel import Session

from backend.chain.orders import Order, OrderKind
from backend.chain.orders import SignedOrder as Signed
from backend.db.models import SignedOrder
from tests.backend.api.conftest import PRICE, list_capacity, post_order


def _best_ask(api, cap: int) -> tuple[int | None, str]:
    response = api.get(f"/capacities/{cap}/book")
    assert response.status_code == 200, response.text
    asks = response.json()["asks"]["levels"]
    return (asks[0]["price"] if asks else None), response.headers["etag"]


def test_cached_book_follows_orders_and_blocks(serve, market, accounts, store, index):
    cap, start, first = list_capacity(market, accounts, store)
    index()
    api = serve()
    price, etag = _best_ask(api, cap)
    assert price == PRICE
    assert _best_ask(api, cap) == (PRICE, etag)  # unchanged store, same second: the same answer

    # A cheaper order posted: the next read shows it, whatever the cache held a moment ago.
    cheaper = post_order(store, market, accounts[1], cap, 5, PRICE - 1_000, start + 3600)
    assert _best_ask(api, cap)[0] == PRICE - 1_000

    # Filled on chain to the last unit and indexed: the checkpoint moved, the book moved with it.
    renter = accounts[3]
    market.faucet(renter, 100 * 10**6)
    market.approve(renter, market.exchange.address)
    with Session(store) as db:
        row = db.get(SignedOrder, (market.chain_id, cheaper))
        order = Order(row.maker, OrderKind.PRIMARY_SELL, cap, row.amount, row.price, row.expiry, row.salt,
                      row.counter)
    market.fill(renter, Signed(order, bytes.fromhex(row.signature[2:]), bytes.fromhex(cheaper[2:])), 5)
    index()
    assert _best_ask(api, cap)[0] == PRICE

    # Withdrawn through the store (as DELETE /orders does): gone at once.
    with Session(store) as db:
        db.exec(update(SignedOrder).where(SignedOrder.order_hash == first)
                .values(status="withdrawn", updated_at=time.time()))
        db.commit()
    assert _best_ask(api, cap)[0] is None


def test_not_modified_until_the_store_changes(serve, market, accounts, store, index):
    cap, start, _ = list_capacity(market, accounts, store)
    index()
    api = serve()
    for _ in range(5):  # within one second the ETag must hold; a second boundary may pass
        first = api.get(f"/capacities/{cap}")
        again = api.get(f"/capacities/{cap}", headers={"If-None-Match": first.headers["etag"]})
        if again.status_code == 304:
            break
    assert again.status_code == 304 and again.content == b""
    post_order(store, market, accounts[1], cap, 5, PRICE - 5_000, start + 3600)
    changed = api.get(f"/capacities/{cap}", headers={"If-None-Match": first.headers["etag"]})
    assert changed.status_code == 200 and changed.json()["best_ask"] == PRICE - 5_000
