"""The read cache of /capacities: a hit is the same answer, and nothing it serves is more than
VERSION_TTL behind the store: a posted order, an indexed block or a withdrawal shows at once after."""

from __future__ import annotations

import asyncio
import time

import anyio
import httpx
from sqlalchemy import insert, update
from sqlmodel import Session

from backend.api import cache as cache_module
from backend.api.admission import Admission
from backend.api.cache import VERSION_TTL, ReadCache, store_version
from backend.api.main import create_app
from backend.chain.orders import Order, OrderKind
from backend.chain.orders import SignedOrder as Signed
from backend.config import ApiSettings
from backend.db.models import Checkpoint, NodeMetadata, PostedOrder, PriceIndex, table_of
from backend.db.session import make_engine, migrate
from tests.backend.api.conftest import PRICE, list_capacity, post_order


def _best_ask(api, cap: int) -> int | None:
    time.sleep(VERSION_TTL)  # the longest the cache may lag the store
    response = api.get(f"/capacities/{cap}/book")
    assert response.status_code == 200, response.text
    asks = response.json()["asks"]["levels"]
    assert response.headers["etag"]
    return asks[0]["price"] if asks else None


def test_cached_book_follows_orders_and_blocks(serve, market, accounts, store, index):
    cap, start, first = list_capacity(market, accounts, store)
    index()
    api = serve()
    assert _best_ask(api, cap) == PRICE
    assert _best_ask(api, cap) == PRICE  # unchanged store: the same answer, cached or not

    # A cheaper order posted: the next read shows it, whatever the cache held a moment ago.
    cheaper = post_order(store, market, accounts[1], cap, 5, PRICE - 1_000, start + 3600)
    assert _best_ask(api, cap) == PRICE - 1_000

    # Filled on chain to the last unit and indexed: the checkpoint moved, the book moved with it.
    renter = accounts[3]
    market.faucet(renter, 100 * 10**6)
    market.approve(renter, market.exchange.address)
    with Session(store) as db:
        row = db.get(PostedOrder, (market.chain_id, cheaper))
        order = Order(
            row.maker, OrderKind.PRIMARY_SELL, cap, row.amount, row.price, row.expiry, row.salt, row.counter
        )
    market.fill(renter, Signed(order, bytes.fromhex(row.signature[2:]), bytes.fromhex(cheaper[2:])), 5)
    index()
    assert _best_ask(api, cap) == PRICE

    # Withdrawn through the store (as DELETE /orders does): gone at once.
    with Session(store) as db:
        db.exec(
            update(PostedOrder)
            .where(PostedOrder.order_hash == first)
            .values(status="withdrawn", updated_at=time.time())
        )
        db.commit()
    assert _best_ask(api, cap) is None


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
    time.sleep(VERSION_TTL)
    changed = api.get(f"/capacities/{cap}", headers={"If-None-Match": first.headers["etag"]})
    assert changed.status_code == 200 and changed.json()["best_ask"] == PRICE - 5_000


def test_store_version_moves_with_orders_even_before_the_first_checkpoint(make_store):
    engine = make_store()
    empty = store_version(engine)
    with engine.begin() as conn:
        conn.execute(
            insert(table_of(PostedOrder)),
            [
                {
                    "chain_id": 31337,
                    "order_hash": "0x" + "01" * 32,
                    "maker": "0x" + "11" * 20,
                    "kind": "buy",
                    "capacity_id": 1,
                    "amount": 1,
                    "price": 1,
                    "expiry": 2**40,
                    "salt": 1,
                    "counter": 0,
                    "signature": "0x",
                    "posted_at": 1.0,
                    "updated_at": 1.0,
                }
            ],
        )
    posted = store_version(engine)
    assert posted != empty
    with engine.begin() as conn:
        conn.execute(
            insert(table_of(Checkpoint)),
            [
                {
                    "chain_id": 31337,
                    "block_number": 7,
                    "block_hash": "0x" + "aa" * 32,
                    "genesis_hash": "0x" + "00" * 32,
                    "start_block": 0,
                    "updated_at": 0.0,
                }
            ],
        )
    indexed = store_version(engine)
    assert indexed not in (empty, posted)
    with engine.begin() as conn:  # a reorg: the same height, another block
        conn.execute(table_of(Checkpoint).update().values(block_hash="0x" + "bb" * 32))
    assert store_version(engine) != indexed


def test_cached_prices_follow_the_price_index_job(serve, market, accounts, store, index):
    list_capacity(market, accounts, store)
    index()
    api = serve()
    gpu_class = "H100-SXM5-80GB"
    pidx = table_of(PriceIndex)

    def last_price() -> int | None:
        time.sleep(VERSION_TTL)
        items = {i["gpu_class"]: i for i in api.get("/prices").json()["items"]}
        return items[gpu_class]["last_price"] if gpu_class in items else None

    first = last_price()
    assert last_price() == first  # a hit: the same answer
    with Session(store) as db:  # the price-index job writes a row, within the same second
        db.exec(
            insert(pidx).values(
                chain_id=market.chain_id,
                gpu_class=gpu_class,
                last_price=1_234_567,
                volume_24h=3,
                fills_24h=1,
                updated_at=time.time(),
            )
        )
        db.commit()
    assert last_price() == 1_234_567


def test_cached_nodes_follow_a_providers_description(serve, market, accounts, store, index):
    list_capacity(market, accounts, store)
    index()
    api = serve()
    node_id = api.get("/nodes").json()["items"][0]["node_id"]

    def name() -> str | None:
        time.sleep(VERSION_TTL)
        metadata = api.get(f"/nodes/{node_id}").json()["metadata"]
        return None if metadata is None else metadata["name"]

    assert name() is None
    assert name() is None  # a hit
    with Session(store) as db:  # as PUT /providers/nodes/{id}/metadata writes it, within the same second
        db.add(
            NodeMetadata(
                chain_id=market.chain_id,
                node_id=node_id,
                owner=accounts[1].address,
                name="rack-7",
                updated_at=time.time(),
            )
        )
        db.commit()
    assert name() == "rack-7"


def test_one_request_computes_an_answer_the_others_wait_for(tmp_path):
    """50 clients ask for one read at once: the route runs once, all get its answer (50 times before)."""
    engine = make_engine(f"sqlite:///{tmp_path}/store.db")
    migrate(engine)
    calls = 0

    async def route(scope, receive, send) -> None:
        nonlocal calls
        calls += 1
        await anyio.sleep(0.2)  # a slow query
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"answer %d" % calls})

    async def clients() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=ReadCache(route, engine))
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            return await asyncio.gather(*(client.get("/capacities") for _ in range(50)))

    while time.time() % 1 > 0.3:  # all within one second of the clock: one key
        time.sleep(0.05)
    answers = asyncio.run(clients())
    assert calls == 1
    assert {(a.status_code, a.text) for a in answers} == {(200, "answer 1")}
    assert len({a.headers["etag"] for a in answers}) == 1
    engine.dispose()


def test_a_hit_does_not_wait_for_admission(tmp_path):
    """The cache stands in front of admission: with the one slot held by a slow miss, a cached read is
    answered at once (it waited behind the miss before)."""
    engine = make_engine(f"sqlite:///{tmp_path}/store.db")
    migrate(engine)
    release = anyio.Event()

    async def route(scope, receive, send) -> None:
        if scope["query_string"] == b"slow=1":
            await release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": scope["query_string"]})

    app = create_app(
        ApiSettings(db_url=f"sqlite:///{tmp_path}/store.db", api_db_concurrency=1), engine=engine
    )
    layers = [m.cls for m in app.user_middleware]  # outermost first
    assert layers.index(ReadCache) < layers.index(Admission)

    async def clients() -> str:
        transport = httpx.ASGITransport(app=ReadCache(Admission(route, limit=1), engine))
        async with (
            httpx.AsyncClient(transport=transport, base_url="http://api") as client,
            anyio.create_task_group() as tg,
        ):
            assert (await client.get("/capacities?fast=1")).text == "fast=1"  # now cached
            tg.start_soon(client.get, "/capacities?slow=1")  # takes the only slot and keeps it
            await anyio.sleep(0.1)
            with anyio.fail_after(2):
                hit = await client.get("/capacities?fast=1")
            release.set()
            return hit.text

    while time.time() % 1 > 0.5:  # the hit within the same second as the first read: one key
        time.sleep(0.05)
    assert asyncio.run(clients()) == "fast=1"
    engine.dispose()


def test_the_previous_seconds_answer_is_served_while_the_next_is_computed(tmp_path, monkeypatch):
    """The store unchanged, only the clock's second moved: those asking while the new answer is
    computed get the previous second's at once (they waited for the computation before)."""
    engine = make_engine(f"sqlite:///{tmp_path}/store.db")
    migrate(engine)

    class Clock:
        now = 1_900_000_000.0
        monotonic = staticmethod(time.monotonic)

        @staticmethod
        def time() -> float:
            return Clock.now

    monkeypatch.setattr(cache_module, "time", Clock)
    release = anyio.Event()
    answers = iter(["first", "second"])

    async def route(scope, receive, send) -> None:
        body = next(answers)
        if body == "second":
            await release.wait()  # a slow query
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body.encode()})

    async def clients() -> list[str]:
        transport = httpx.ASGITransport(app=ReadCache(route, engine))
        seen = []
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            seen.append((await client.get("/capacities")).text)
            Clock.now += 1
            async with anyio.create_task_group() as tg:
                tg.start_soon(client.get, "/capacities")  # computes the new second's answer, slowly
                await anyio.sleep(0.1)
                with anyio.fail_after(2):
                    seen.append((await client.get("/capacities")).text)
                release.set()
            seen.append((await client.get("/capacities")).text)
        return seen

    assert asyncio.run(clients()) == ["first", "first", "second"]
    engine.dispose()
