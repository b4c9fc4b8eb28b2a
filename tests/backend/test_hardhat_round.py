"""The deploy, the market rounds (the indexer tests' and the demo's) and the indexer on a Hardhat
node (npm `hardhat`, pinned in package.json) instead of Anvil: nothing on the product path may need
an Anvil-only RPC method.

The node runs with contracts/hardhat/hardhat.config.js: chain 31337 and the same dev accounts as
Anvil, so the rounds are the ones tests/backend/test_index_round.py and `gpuhours demo` play on
Anvil."""

from __future__ import annotations

import io
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from rich.console import Console

from backend.chain.anvil import free_port
from backend.chain.client import Market
from backend.chain.deploy import deploy
from backend.chain.deployments import REPO_ROOT
from backend.chain.dev_accounts import dev_account
from backend.demo import run_round
from tests.backend.conftest import chain_logs, index_all
from tests.backend.market_round import Round, check_against_chain, play_round

CONFIG_DIR = REPO_ROOT / "contracts" / "hardhat"


@dataclass
class HardhatNode:
    url: str


def _chain_id(url: str) -> int | None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}
    try:
        return int(requests.post(url, json=body, timeout=1).json()["result"], 16)
    except requests.RequestException:
        return None


@pytest.fixture(scope="module")
def hardhat(settings) -> Iterator[HardhatNode]:
    binary = Path(settings.node_modules) / ".bin" / "hardhat"
    if not binary.exists():
        pytest.fail(f"{binary} is missing: `npm ci` installs the pinned Hardhat")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [str(binary), "node", "--hostname", "127.0.0.1", "--port", str(port)],
        cwd=CONFIG_DIR,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while _chain_id(url) is None:
            if process.poll() is not None or time.monotonic() > deadline:
                err = process.stderr.read().decode() if process.stderr and process.poll() is not None else ""
                raise AssertionError(f"the Hardhat node did not answer at {url}: {err}")
            time.sleep(0.2)
        yield HardhatNode(url)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def test_hardhat_node_answers_as_a_hardhat_node(hardhat):
    """The round below runs on Hardhat, not on an Anvil that happens to answer: Anvil's own methods
    are unknown to it."""
    version = requests.post(
        hardhat.url, json={"jsonrpc": "2.0", "id": 1, "method": "web3_clientVersion", "params": []}, timeout=5
    ).json()["result"]
    assert version.startswith("HardhatNetwork/"), version
    answer = requests.post(
        hardhat.url, json={"jsonrpc": "2.0", "id": 1, "method": "anvil_getAutomine", "params": []}, timeout=5
    ).json()
    assert "error" in answer
    assert _chain_id(hardhat.url) == 31337


def test_deploy_round_and_index_on_hardhat(hardhat, make_store, tmp_path):
    deployments_dir = deploy(hardhat.url, tmp_path / "deployments")
    market = Market.connect(hardhat.url, deployments_dir)
    assert market.chain_id == 31337

    rnd = play_round(market)
    engine = make_store()
    summary = index_all(engine, hardhat, deployments_dir)

    logs = chain_logs(market)
    assert len(logs) > 50
    assert summary.events == len(logs)
    assert summary.checkpoint == market.w3.eth.block_number
    counts = check_against_chain(engine, market, rnd)
    assert counts == {"capacities": 2, "bookings": 3, "orders": 4, "balances": 0, "attestations": 3}


def test_demo_round_and_index_on_hardhat(hardhat, make_store, tmp_path):
    """What `gpuhours demo --rpc-url` runs (the oracle's signed reports and settlement included)."""
    deployments_dir = deploy(hardhat.url, tmp_path / "deployments")
    market = Market.connect(hardhat.url, deployments_dir)
    run_round(market, Console(file=io.StringIO()))
    engine = make_store()
    summary = index_all(engine, hardhat, deployments_dir)

    assert summary.events == len(chain_logs(market)) > 50
    assert summary.checkpoint == market.w3.eth.block_number
    rnd = Round([dev_account(i, market.chain_id) for i in range(1, 6)], nodes=[1, 2])
    counts = check_against_chain(engine, market, rnd)
    assert counts["capacities"] == 2 and counts["bookings"] == 2 and counts["attestations"] >= 1
