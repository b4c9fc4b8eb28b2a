"""The chain's RPC down: an API serves the market from its store, says it is degraded, and answers
what needs the chain with 503 and Retry-After; all of it comes back when the chain does."""

from __future__ import annotations

import time

import httpx

from tests.backend.rpc_proxy import FaultyProxy
from tests.backend.serve_process import serve_process


def test_an_api_started_without_its_chain_serves_the_store(
    market, chain, deployments_dir, accounts, tmp_path
):
    market.register_node(accounts[1], "H100", 8, 80, "eu-west", "NVLink", ["gpu-a"])
    head = market.w3.eth.block_number
    db = tmp_path / "store.db"
    with FaultyProxy(chain.url) as proxy:
        with serve_process(proxy.url, deployments_dir, db, "--tasks", "inprocess") as indexing:
            url = indexing.printed_url()
            indexing.wait_ready(url)
            deadline = time.monotonic() + 60
            while httpx.get(f"{url}/ready", timeout=5).json()["checks"].get("indexed") != head:
                assert time.monotonic() < deadline, indexing.output
                time.sleep(0.1)
            nodes = httpx.get(f"{url}/nodes", timeout=5).json()
            indexing.interrupt()
        assert nodes["items"], nodes

        proxy.faults, proxy.fault_every = ("reset",), 1  # every call to the chain dropped
        with serve_process(proxy.url, deployments_dir, db, "--tasks", "off") as api:
            url = api.printed_url()
            api.wait_ready(url)
            served = httpx.get(f"{url}/nodes", timeout=30)
            assert served.json() == nodes
            # As of which block, and how old it is: the chain is down, so the client can judge.
            assert served.headers["x-indexed-head"] == str(head)
            block_time = market.w3.eth.get_block(head)["timestamp"]
            assert abs(int(served.headers["x-indexed-head-age"]) - max(0, time.time() - block_time)) <= 2
            approve = {"owner": accounts[3].address, "spender": "exchange", "amount": 1}
            refused = httpx.post(f"{url}/tx/approve", json=approve, timeout=60)
            assert refused.status_code == 503, refused.text
            assert refused.headers["retry-after"] == "5"
            assert refused.json()["error"]["code"] == "chain_unreachable"
            health = httpx.get(f"{url}/health", timeout=60).json()
            assert health["status"] == "degraded" and health["role"] == "api", health
            assert health["chain"].startswith("unreachable for"), health

            proxy.fault_every = 0  # the chain is back: /health asks it again within a second
            time.sleep(1.0)
            assert httpx.get(f"{url}/health", timeout=30).json() == {
                "status": "ok",
                "role": "api",
                "chain": "ok",
            }
            built = httpx.post(f"{url}/tx/approve", json=approve, timeout=30)
            assert built.status_code == 200, built.text
            assert "role api: tasks off" in api.output
