"""Run the ape deploy script (scripts/deploy.py) against a running chain."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from backend.chain.deployments import REPO_ROOT


class DeployError(RuntimeError):
    """The deploy script failed; the message carries its output."""


def deploy(rpc_url: str, deployments_dir: Path) -> Path:
    """Deploy with `ape run deploy` to `rpc_url`; returns the folder <chainId>.json was written to.

    The deploy script reads its parameters (fee, bond, SLA, signers) from GPUHOURS_* variables."""
    env = {
        **os.environ,
        "APE_FOUNDRY_HOST": rpc_url,
        # ape-solidity compiles through the repository's solc shim: no compiler download.
        "SOLCX_BINARY_PATH": str(REPO_ROOT / "contracts" / "bin"),
        "GPUHOURS_DEPLOYMENTS_DIR": str(deployments_dir),
    }
    ape = Path(sys.executable).with_name("ape")
    result = subprocess.run(
        [str(ape), "run", "deploy", "--network", "ethereum:local:foundry"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise DeployError(f"ape run deploy failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return deployments_dir
