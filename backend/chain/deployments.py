"""deployments/<chainId>.json: where the contracts of one chain live, and the ABIs they were built from."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from eth_typing import ChecksumAddress
from eth_utils import keccak, to_checksum_address
from pydantic import BaseModel, Field

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
DEFAULT_DIR = REPO_ROOT / "deployments"
"""The repository's deployments/: <chainId>.json and abi/, where the deploy script writes by default."""

CORE_CONTRACTS = ("MockUSDC", "Escrow", "GpuHours", "Exchange", "AttestationOracle", "Settlement")
POOL_CONTRACT = "LendingPool"
"""Every lending pool is a deployment of this contract for one GPU class; its ABI: abi/LendingPool.json."""
LIQUIDATOR_CONTRACT = "BidLiquidator"
"""Beside each pool, the contract through which a keeper with no capital flash-liquidates into a bid."""


class DeploymentError(RuntimeError):
    """A deployment file is missing, or does not match the ABIs beside it."""


def abi_hash(abi: list[dict[str, Any]]) -> str:
    """keccak256 of the ABI in canonical JSON (sorted keys, no whitespace)."""
    return "0x" + keccak(text=json.dumps(abi, sort_keys=True, separators=(",", ":"))).hex()


class Deployed(BaseModel):
    address: str
    abi_hash: str = Field(alias="abiHash")
    block: int

    model_config = {"populate_by_name": True}


class Deployment(BaseModel):
    chain_id: int = Field(alias="chainId")
    deploy_block: int = Field(alias="deployBlock")
    deployer: str
    params: dict[str, Any]
    contracts: dict[str, Deployed]
    pools: dict[str, Deployed] = Field(
        default_factory=dict, description="the LendingPool of each GPU class, by the class's name"
    )
    liquidators: dict[str, Deployed] = Field(
        default_factory=dict, description="the BidLiquidator beside each pool, by the pool's GPU class"
    )

    model_config = {"populate_by_name": True}

    def address(self, name: str) -> ChecksumAddress:
        return to_checksum_address(self.contracts[name].address)

    def pool_addresses(self) -> dict[str, ChecksumAddress]:
        """GPU class -> its pool's address."""
        return {gpu_class: to_checksum_address(d.address) for gpu_class, d in self.pools.items()}

    def liquidator_addresses(self) -> dict[str, ChecksumAddress]:
        """GPU class -> the BidLiquidator beside its pool."""
        return {gpu_class: to_checksum_address(d.address) for gpu_class, d in self.liquidators.items()}


def write(directory: Path, deployment: Deployment, abis: dict[str, list[dict[str, Any]]]) -> Path:
    """Write the ABIs to abi/<Name>.json and the deployment to <chainId>.json."""
    (directory / "abi").mkdir(parents=True, exist_ok=True)
    for name, abi in abis.items():
        (directory / "abi" / f"{name}.json").write_text(json.dumps(abi, indent=2, sort_keys=True) + "\n")
    path = directory / f"{deployment.chain_id}.json"
    path.write_text(deployment.model_dump_json(by_alias=True, indent=2) + "\n")
    return path


def read(directory: Path, chain_id: int) -> Deployment:
    """Read <chainId>.json alone: addresses, for a process that calls no contract (an oracle node)."""
    path = directory / f"{chain_id}.json"
    if not path.exists():
        raise DeploymentError(f"no deployment for chain {chain_id} at {path}; deploy first")
    return Deployment.model_validate_json(path.read_text())


def load(directory: Path, chain_id: int) -> tuple[Deployment, dict[str, list[dict[str, Any]]]]:
    """Read a deployment and its ABIs, checking each ABI against the hash recorded at deploy time."""
    deployment = read(directory, chain_id)
    deployed_as = [
        *deployment.contracts.items(),
        *((POOL_CONTRACT, d) for d in deployment.pools.values()),
        *((LIQUIDATOR_CONTRACT, d) for d in deployment.liquidators.values()),
    ]
    abis = {}
    for name, deployed in deployed_as:
        abi = json.loads((directory / "abi" / f"{name}.json").read_text())
        if abi_hash(abi) != deployed.abi_hash:
            raise DeploymentError(
                f"{name}: abi/{name}.json does not match the ABI deployed on chain {chain_id}"
            )
        abis[name] = abi
    return deployment, abis
