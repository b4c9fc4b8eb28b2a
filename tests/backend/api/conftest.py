"""The API served over real HTTP (uvicorn on a free port) against a real Anvil and a fresh store of
each kind (SQLite file, PostgreSQL schema)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, Self

import httpx
import pytest
import uvicorn
from sqlalchemy import Engine
from sqlmodel import Session

from backend.api.main import create_app
from backend.chain.anvil import free_port
from backend.chain.orders import Order, OrderKind, sign_order
from backend.config import ApiSettings
from backend.db.models import ORDER_KINDS, PostedOrder
from tests.backend.conftest import RUN_ID, index_all, store_url
from tests.backend.market_round import HOUR
from tests.conftest import USDC, now

API_DOMAIN = "market.gpuhours.test"


class LiveServer:
    """uvicorn serving `app` in a thread until stopped."""

    def __init__(self, app: Any):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Self:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the API server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def api_settings(engine: Engine, chain, deployments_dir, **overrides: Any) -> ApiSettings:
    values: dict[str, Any] = {
        "db_url": store_url(engine),
        "redis_url": None,
        "redis_namespace": f"gpuhours-test-{RUN_ID}",
        "rpc_url": chain.url,
        "deployments_dir": deployments_dir,
        "api_domain": API_DOMAIN,
        "api_stream_poll": 0.02,
    }
    values.update(overrides)
    return ApiSettings(**values)


@pytest.fixture
def store(make_store) -> Engine:
    return make_store()


@pytest.fixture
def serve(store, chain, deployments_dir, market) -> Iterator[Callable[..., httpx.Client]]:
    """serve(**settings overrides) -> an httpx client of a live API on this test's store and chain."""
    servers: list[LiveServer] = []
    clients: list[httpx.Client] = []

    def start(**overrides: Any) -> httpx.Client:
        settings = api_settings(store, chain, deployments_dir, **overrides)
        server = LiveServer(create_app(settings, engine=store, market=market)).__enter__()
        servers.append(server)
        client = httpx.Client(base_url=server.url, timeout=30)
        clients.append(client)
        return client

    yield start
    for client in clients:
        client.close()
    for server in servers:
        server.__exit__(None, None, None)


@pytest.fixture
def index(store, chain, deployments_dir) -> Callable[[], Any]:
    """index() brings the test's store up to the chain's head."""
    return lambda: index_all(store, chain, deployments_dir)


PRICE = 2_000_000


def post_order(store, market, account, capacity_id: int, amount: int, price: int, expiry: int) -> str:
    """A primary sell signed by `account`, stored as POST /orders stores it; returns its hash."""
    order = Order.new(account.address, OrderKind.PRIMARY_SELL, capacity_id, amount, price, expiry)
    signed = sign_order(order, account, market.chain_id, market.exchange.address)
    order_hash = "0x" + signed.hash.hex()
    posted = time.time()
    with Session(store) as db:
        db.add(
            PostedOrder(
                chain_id=market.chain_id,
                order_hash=order_hash,
                maker=order.maker,
                kind=ORDER_KINDS[order.kind],
                capacity_id=capacity_id,
                amount=amount,
                price=price,
                expiry=expiry,
                salt=order.salt,
                counter=order.counter,
                signature="0x" + signed.signature.hex(),
                posted_at=posted,
                updated_at=posted,
            )
        )
        db.commit()
    return order_hash


def list_capacity(market, accounts, store) -> tuple[int, int, str]:
    """A capacity and a posted primary sell of 10 GPU-hours; returns (capacity, window start, order hash)."""
    p1 = accounts[1]
    market.faucet(p1, 1_000 * USDC)
    market.approve(p1, market.escrow.address)
    node = market.register_node(p1, "H100-SXM5-80GB", 4, 80, "eu-west", "NVLink", ["GPU-1"])
    start = now(market) - now(market) % HOUR + HOUR
    cap = market.create_capacity(
        p1, node, start, start + 4 * HOUR, 1_000_000, market.min_bond_per_unit() * 16
    )
    return cap, start, post_order(store, market, p1, cap, 10, PRICE, start + HOUR)
