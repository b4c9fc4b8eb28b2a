"""Run the ape deploy script (scripts/deploy.py) against a running chain."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import requests

from backend.chain.deployments import REPO_ROOT


class DeployError(RuntimeError):
    """The deploy script failed; the message carries its output."""


def deploy(rpc_url: str, deployments_dir: Path) -> Path:
    """Deploy with `ape run deploy` to `rpc_url`; returns the folder <chainId>.json was written to.

    The deploy script reads its parameters (fee, bond, SLA, signers) from GPUHOURS_* variables. ape
    connects through its generic node provider, which speaks only standard JSON-RPC, so any node
    serves (Anvil, a Hardhat node); ape-foundry's provider would ask Anvil-only methods."""
    node = {"uri": rpc_url, "chain_id": _chain_id(rpc_url)}
    env = {
        **os.environ,
        "APE_NODE_ETHEREUM": json.dumps({"local": node}),
        # ape-solidity compiles through the repository's solc shim: no compiler download.
        "SOLCX_BINARY_PATH": str(REPO_ROOT / "contracts" / "bin"),
        "GPUHOURS_DEPLOYMENTS_DIR": str(deployments_dir),
    }
    ape = Path(sys.executable).with_name("ape")
    result = subprocess.run(
        [str(ape), "run", "deploy", "--network", "ethereum:local:node"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise DeployError(f"ape run deploy failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return deployments_dir


def _chain_id(rpc_url: str) -> int:
    """The chain id the node at `rpc_url` serves (ape's node provider assumes one rather than asks)."""
    body = {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}
    try:
        answer = requests.post(rpc_url, json=body, timeout=10).json()
        return int(answer["result"], 16)
    except (requests.RequestException, ValueError, KeyError, TypeError) as exc:
        raise DeployError(f"no chain id from {rpc_url}: {exc}") from exc
