"""The main command, as a user runs it: a fresh Anvil, the ape deploy, the market round."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from backend.chain.anvil import free_port
from backend.config import REPO_ROOT


def _gpuhours(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("gpuhours")
    return subprocess.run([str(exe), *args], cwd=REPO_ROOT, env={**os.environ, **env},
                          capture_output=True, text=True, timeout=300)


def test_demo_runs_a_market_round(tmp_path):
    result = _gpuhours("demo", env={"GPUHOURS_ANVIL_PORT": str(free_port()),
                                    "GPUHOURS_DEPLOYMENTS_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "Market round complete." in out
    assert "renter-3 redeemed 50 hours and withdrew $70.00" in out
    # renter-3 ends with 24 bought + 32 resold to it = 56 H100-hours
    assert "│ renter-3   │" in out and "│            56 │" in out
    assert "booking settled: 2 h delivered" in out and "$4.00 slashed" in out
    assert (tmp_path / "31337.json").exists()


def test_demo_reports_a_busy_port_clearly(tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        result = _gpuhours("demo", env={"GPUHOURS_ANVIL_PORT": str(port), "GPUHOURS_DEPLOYMENTS_DIR": str(tmp_path)})
    assert result.returncode == 1
    assert "error:" in result.stdout and "Traceback" not in result.stdout + result.stderr
