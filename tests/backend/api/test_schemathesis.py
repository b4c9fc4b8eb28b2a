"""Schemathesis against the API as `gpuhours serve` runs it by default: a SQLite store, the indexer and
the periodic jobs in-process, a real Anvil with the contracts deployed and a market round played on it,
served by uvicorn and spoken to over HTTP.

Every operation of the OpenAPI document, with every check Schemathesis has (no 5xx, status codes,
content types, headers and bodies as documented, bad data refused and good data accepted, auth that
is not ignored); the routes behind sign-in get a bearer token from a real SIWE sign-in. Generation is
derandomized: a failure reproduces on the next run.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from eth_utils import to_checksum_address
from hypothesis import strategies as st
from schemathesis.config import SchemathesisConfig
from sqlalchemy import Engine

from backend.api.main import create_app
from backend.api.schemas.types import ADDRESS_FORMAT
from backend.chain.dev_accounts import dev_account
from backend.db.session import make_engine, migrate
from backend.tasks.context import TaskContext
from backend.tasks.inprocess import InProcessTasks
from tests.backend.api.conftest import LiveServer, api_settings
from tests.backend.api.scenario import open_market
from tests.backend.api.test_auth import sign_in
from tests.backend.conftest import index_all, indexer_settings
from tests.backend.market_round import play_round

#: Cases per operation and generation mode; enough to reach every documented answer of each route.
MAX_EXAMPLES = 25
#: An event stream never ends: Schemathesis reads it this long (and at most this many events).
STREAM_SECONDS = 1.0

# A pattern cannot say "a valid EIP-55 checksum when mixed case"; the format does, and these are its
# valid values: checksummed or all lower case.
_address_bytes = st.binary(min_size=20, max_size=20)
schemathesis.openapi.format(
    ADDRESS_FORMAT,
    st.one_of(_address_bytes.map(to_checksum_address), _address_bytes.map(lambda b: "0x" + b.hex())),
)


class Served:
    def __init__(self, url: str, engine: Engine, token_for: Any):
        self.url = url
        self.engine = engine
        self.token_for = token_for


@pytest.fixture(scope="module")
def served(chain, deployments_dir, session_market, tmp_path_factory) -> Iterator[Served]:
    """The market after a played round with open books, indexed, served with in-process tasks."""
    market = session_market
    snapshot = market.w3.provider.make_request("evm_snapshot", [])["result"]
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('schemathesis')}/store.db")
    migrate(engine)
    try:
        rnd = play_round(market)
        open_market(market, rnd, engine)
        index_all(engine, chain, deployments_dir)
        # Thousands of writes from one client in a minute: the quota (tested in test_first_contact.py)
        # would answer most of them 429.
        settings = api_settings(
            engine, chain, deployments_dir, db_auto_migrate=False, api_write_burst=100_000
        )
        chain_at = {"rpc_url": chain.url, "deployments_dir": deployments_dir, "db_auto_migrate": False}
        tasks = InProcessTasks(TaskContext(indexer_settings(engine, **chain_at), engine)).start()
        try:
            app = create_app(settings, engine=engine, market=market)
            with LiveServer(app) as server, httpx.Client(base_url=server.url, timeout=30) as api:
                yield Served(server.url, engine, lambda account: sign_in(api, account))
        finally:
            tasks.stop()
    finally:
        engine.dispose()
        market.w3.provider.make_request("evm_revert", [snapshot])


@pytest.fixture(scope="module")
def provider(session_market) -> Any:
    return dev_account(1, session_market.chain_id)


@pytest.fixture(scope="module")
def api_schema(served, provider):
    """The OpenAPI document as the server publishes it, signed in as provider 1 (it owns nodes and
    orders, so the routes behind sign-in answer more than 403 and 404)."""
    config = SchemathesisConfig.from_dict(
        {
            "base-url": served.url,
            "request-timeout": 30,
            "generation": {
                "mode": "all",
                "max-examples": MAX_EXAMPLES,
                "deterministic": True,
                "database": "none",
            },
            "checks": {
                "enabled": True,
                # A 400 is the market refusing a well-formed request for what a schema cannot say (an
                # order already expired, a message that is not EIP-4361), each with its code.
                "positive_data_acceptance": {"expected-statuses": ["2xx", 400, 401, 403, 404, 409]},
            },
            "auth": {"openapi": {"HTTPBearer": {"bearer": served.token_for(provider)}}},
            "operations": [
                {"include-path": "/events/stream", "request-timeout": STREAM_SECONDS, "max-stream-events": 20}
            ],
        }
    )
    return schemathesis.openapi.from_url(f"{served.url}/openapi.json", config=config)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
def test_api_conforms_to_its_openapi_document(case, served, provider):
    headers = None
    if case.operation.method.upper() == "POST" and case.operation.path == "/auth/logout":
        # Logging out revokes the token: use one of its own, so the other routes stay signed in.
        headers = {"Authorization": f"Bearer {served.token_for(provider)}"}
    case.call_and_validate(headers=headers)
