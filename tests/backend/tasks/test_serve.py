"""`gpuhours serve` on the embedded default: no Redis, so it indexes in-process while serving."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from backend.chain.anvil import free_port
from tests.backend.layout.processes import cmdline, descendants, outliving
from tests.backend.rpc_proxy import FaultyProxy
from tests.backend.serve_process import serve_process
from tests.conftest import USDC


def test_serve_indexes_in_process_without_redis(market, chain, deployments_dir, accounts, tmp_path):
    port = free_port()
    env = {
        **os.environ,
        "GPUHOURS_DB_URL": f"sqlite:///{tmp_path}/store.db",
        "GPUHOURS_RPC_URL": chain.url,
        "GPUHOURS_DEPLOYMENTS_DIR": str(deployments_dir),
        "GPUHOURS_INDEXER_POLL_INTERVAL": "0.05",
    }
    env.pop("GPUHOURS_REDIS_URL", None)
    gpuhours = Path(sys.executable).with_name("gpuhours")
    proc = subprocess.Popen(
        [str(gpuhours), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        market.faucet(accounts[3], 5 * USDC)  # a block after the deployment
        head = market.w3.eth.block_number
        deadline = time.monotonic() + 120
        checks: dict = {}
        while time.monotonic() < deadline:
            try:
                checks = httpx.get(f"{url}/ready", timeout=5).json()["checks"]
                if checks.get("indexed") == head:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=30)
    assert checks.get("indexed") == head, output
    assert "role api+tasks: the API, and the indexer and periodic jobs in this process" in output
    assert proc.returncode == 0, output


def test_ctrl_c_stops_serve_promptly_while_the_node_is_gone(chain, deployments_dir, tmp_path):
    """The embedded default after its chain died (as the Anvil of `demo --serve` does on the same Ctrl-C):
    the indexer and the jobs are retrying the node with backoff, and SIGINT still ends the process
    within seconds, cleanly."""
    with (
        FaultyProxy(chain.url) as proxy,
        serve_process(proxy.url, deployments_dir, tmp_path / "store.db", "--tasks", "inprocess") as server,
    ):
        url = server.printed_url()
        server.wait_ready(url)
        deadline = time.monotonic() + 60
        while httpx.get(f"{url}/ready", timeout=5).json()["checks"].get("indexed") is None:
            assert time.monotonic() < deadline, server.output
            time.sleep(0.1)
        proxy.faults, proxy.fault_every = ("reset",), 1  # every request dropped: the node is gone
        while "retry 3/" not in server.output:  # well into the backoff
            assert time.monotonic() < deadline, server.output
            time.sleep(0.1)
        before = len(server.output)
        seconds = server.interrupt()
    assert server.proc.returncode == 0, server.output
    assert seconds < 10, f"{seconds:.1f} s to stop:\n{server.output}"
    assert "Traceback" not in server.output[before:], server.output  # stopping is not a failure


def test_serve_with_workers_indexes_once_and_stops_whole(market, chain, deployments_dir, accounts, tmp_path):
    """`--workers 2`: two API processes on one port, the tasks once in the command's own process; a
    worker that dies is replaced; Ctrl-C stops every process."""
    market.faucet(accounts[3], 5 * USDC)
    head = market.w3.eth.block_number
    with serve_process(chain.url, deployments_dir, tmp_path / "store.db", "--workers", "2") as serve:
        url = serve.printed_url()
        serve.wait_ready(url)
        deadline = time.monotonic() + 60
        while httpx.get(f"{url}/ready", timeout=5).json()["checks"].get("indexed") != head:
            assert time.monotonic() < deadline, serve.output
            time.sleep(0.1)
        workers = [p for p in descendants(serve.proc.pid) if "spawn_main" in cmdline(p)]
        assert len(workers) == 2, serve.output
        assert httpx.get(f"{url}/health", timeout=10).json()["role"] == "api+tasks"
        os.kill(workers[0], signal.SIGKILL)
        assert [httpx.get(f"{url}/capacities", timeout=10).status_code for _ in range(40)] == [200] * 40
        while len([p for p in descendants(serve.proc.pid) if "spawn_main" in cmdline(p)]) < 2:
            assert time.monotonic() < deadline + 30, serve.output
            time.sleep(0.2)
        everyone = descendants(serve.proc.pid)
        assert serve.interrupt() < 15
    assert "2 workers" in serve.output and "died" in serve.output, serve.output
    assert outliving(everyone) == [], "a worker outlived the command"
