"""A real Anvil chain with gpuhours deployed by the ape script, shared by the session.

Each test runs inside an evm_snapshot that is reverted afterwards, so tests see a fresh deployment.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from backend.chain.anvil import start_anvil
from backend.chain.client import Market
from backend.chain.deploy import deploy
from backend.chain.dev_accounts import dev_account
from backend.config import DevChainSettings

USDC = 10**6


@pytest.fixture(scope="session")
def settings() -> DevChainSettings:
    return DevChainSettings()


@pytest.fixture(scope="session")
def chain(settings, tmp_path_factory):
    with start_anvil(settings.node_modules) as anvil:
        yield anvil


@pytest.fixture(scope="session")
def deployments_dir(chain, tmp_path_factory) -> Path:
    return deploy(chain.url, tmp_path_factory.mktemp("deployments"))


@pytest.fixture(scope="session")
def session_market(chain, deployments_dir) -> Market:
    return Market.connect(chain.url, deployments_dir)


@pytest.fixture
def market(session_market: Market):
    w3 = session_market.w3
    snapshot = w3.provider.make_request("evm_snapshot", [])["result"]
    yield session_market
    w3.provider.make_request("evm_revert", [snapshot])


@pytest.fixture
def accounts(market):
    """Anvil dev accounts: 0 deploys; 1-2 provide; 3-5 rent."""
    return [dev_account(i, market.chain_id) for i in range(6)]


def fund(market: Market, accounts, amount: int) -> None:
    """Each account gets `amount` from the dev faucet and lets the exchange and the escrow spend it."""
    for account in accounts:
        market.faucet(account, amount)
        market.approve(account, market.exchange.address)
        market.approve(account, market.escrow.address)


def warp_to(market: Market, timestamp: int) -> None:
    market.w3.provider.make_request("evm_setNextBlockTimestamp", [timestamp])
    market.w3.provider.make_request("evm_mine", [])


def now(market: Market) -> int:
    return market.w3.eth.get_block("latest")["timestamp"]
