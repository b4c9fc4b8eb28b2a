"""The main command, as a user runs it: a fresh Anvil, the ape deploy, the market round."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from backend.chain.anvil import free_port
from backend.chain.deployments import REPO_ROOT


def _gpuhours(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("gpuhours")
    return subprocess.run(
        [str(exe), *args],
        cwd=REPO_ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_demo_runs_a_market_round(tmp_path):
    result = _gpuhours(
        "demo", env={"GPUHOURS_ANVIL_PORT": str(free_port()), "GPUHOURS_DEPLOYMENTS_DIR": str(tmp_path)}
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "Market round complete." in out
    assert "renter-3 redeemed 50 hours and withdrew $95.00" in out  # 50 × ($1.40 backing + $0.50 penalty)
    # renter-3 ends with 24 bought + 32 resold to it = 56 H100-hours
    assert "│ renter-3   │" in out and "│            56 │" in out
    assert "booking settled: 2 h delivered" in out and "$4.00 slashed" in out
    # Booking ids in decimal, as the API and `gpuhours portfolio` show them.
    assert re.search(r"renter-2 booked 8 GPUs × 4 h from the window start \(booking \d+\)", out), out
    assert re.search(r"renter-1 booked 4 GPUs × 16 h after it \(booking \d+\)", out), out
    assert (tmp_path / "31337.json").exists()


def test_help_shows_flags_without_a_value():
    """`--serve` takes no value (`--serve=true` is refused), so the help shows none: no `<bool>`."""
    for command in (("demo",), ("index",), ("oracle", "node")):
        result = _gpuhours(*command, "--help", env={"COLUMNS": "100"})
        assert result.returncode == 0, result.stdout + result.stderr
        assert "<bool>" not in result.stdout, result.stdout
    demo = _gpuhours("demo", "--help", env={"COLUMNS": "100"}).stdout
    assert re.search(r"│ --serve +then index the round", demo), demo
    assert re.search(r"│ --rpc-url +<str> +use this running dev chain", demo), demo


def test_demo_reports_a_busy_port_clearly(tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        result = _gpuhours(
            "demo", env={"GPUHOURS_ANVIL_PORT": str(port), "GPUHOURS_DEPLOYMENTS_DIR": str(tmp_path)}
        )
    assert result.returncode == 1
    assert "error:" in result.stdout and "Traceback" not in result.stdout + result.stderr


def test_demo_serve_indexes_the_round_and_serves_it(tmp_path):
    """The embedded default end to end: Anvil, the deploy, the round, the indexer and the API in one
    command, on SQLite, with no Redis."""
    import signal
    import time

    import httpx

    api_port = free_port()
    env = {
        **os.environ,
        "GPUHOURS_ANVIL_PORT": str(free_port()),
        "GPUHOURS_API_PORT": str(api_port),
        "GPUHOURS_DEPLOYMENTS_DIR": str(tmp_path),
        "GPUHOURS_DB_URL": f"sqlite:///{tmp_path}/demo.db",
    }
    env.pop("GPUHOURS_REDIS_URL", None)
    exe = Path(sys.executable).with_name("gpuhours")
    proc = subprocess.Popen(
        [str(exe), "demo", "--serve"],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{api_port}"
    checks: dict = {}
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                checks = httpx.get(f"{url}/ready", timeout=5).json()["checks"]
                if checks.get("lag_blocks") == 0:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        ready = checks.get("lag_blocks") == 0
        orders: dict = {}
        while ready and time.monotonic() < deadline:  # the demo posts its open orders once the API answers
            orders = httpx.get(f"{url}/orders", timeout=10).json()
            if orders["total"] == 3:
                break
            time.sleep(0.2)
        if ready:
            capacities = httpx.get(f"{url}/capacities?status=any", timeout=10).json()
            prices = {p["gpu_class"]: p for p in httpx.get(f"{url}/prices", timeout=10).json()["items"]}
    finally:
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=60)
    assert ready, output
    assert (
        "Market round complete." in output
        and "role api+tasks: the API, and the indexer and periodic jobs in this process" in output
    )
    # The market is left with orders on it: the rest of the H100 hours, a resale and a bid.
    assert sorted((o["kind"], o["order"]["price"], o["state"]) for o in orders["items"]) == [
        ("buy", "1900000", "open"),
        ("primary_sell", "2200000", "open"),
        ("sell", "2500000", "open"),
    ], orders
    h100 = next(c for c in capacities["items"] if c["node"]["gpu_model"] == "H100-SXM5-80GB")
    assert (h100["best_ask"], h100["best_bid"]) == (2_200_000, 1_900_000)
    assert "ahead of yours" in output
    assert capacities["total"] == 2
    assert {c["node"]["gpu_model"] for c in capacities["items"]} == {"H100-SXM5-80GB", "A100-SXM4-80GB"}
    # The last H100 fill was renter-1's resale at $2.60; the A100s sold at $1.40.
    assert prices["H100-SXM5-80GB"]["last_price"] == 2_600_000
    assert prices["A100-SXM4-80GB"]["last_price"] == 1_400_000
    assert proc.returncode == 0, output


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_chain_stops_its_anvil_when_stopped(signum):
    """`gpuhours chain` sent a signal to it alone (a service manager, `kill`): Anvil goes with it, also
    when it was started with SIGINT ignored (in the background by a shell, as this test may be)."""
    port = free_port()
    exe = Path(sys.executable).with_name("gpuhours")
    process = subprocess.Popen(
        [str(exe), "chain", "--port", str(port)],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        children = Path(f"/proc/{process.pid}/task/{process.pid}/children")
        deadline = time.monotonic() + 60
        while not (process.stdout and "Anvil at" in process.stdout.readline()):
            assert process.poll() is None and time.monotonic() < deadline, "the chain did not start"
        (anvil,) = (int(pid) for pid in children.read_text().split())
        process.send_signal(signum)
        assert process.wait(timeout=10) == 0
        deadline = time.monotonic() + 5
        while _alive(anvil):
            assert time.monotonic() < deadline, f"Anvil (pid {anvil}) still runs after {signum.name}"
            time.sleep(0.1)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"
