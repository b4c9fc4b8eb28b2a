"""The API served over real HTTP (uvicorn on a free port) against a real Anvil and a fresh store of
each kind (SQLite file, PostgreSQL schema)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import Engine

from backend.api.main import create_app
from backend.config import Settings
from tests.backend.conftest import index_all, indexer_settings

API_DOMAIN = "market.gpuhours.test"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """uvicorn serving `app` in a thread until stopped."""

    def __init__(self, app: Any):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the API server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def api_settings(engine: Engine, chain, deployments_dir, **overrides: Any) -> Settings:
    values: dict[str, Any] = dict(rpc_url=chain.url, deployments_dir=deployments_dir, api_domain=API_DOMAIN,
                                  api_stream_poll=0.02)
    values.update(overrides)
    return indexer_settings(engine, **values)


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
