"""The one settings object. Every value can be set from the environment as GPUHOURS_<NAME>."""

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent
DEV_CHAIN_IDS = frozenset({31337, 1337})


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GPUHOURS_", env_file=".env", extra="ignore")

    rpc_url: str = Field("http://127.0.0.1:8545", description="JSON-RPC endpoint of the chain")
    deployments_dir: Path = Field(REPO_ROOT / "deployments", description="where <chainId>.json and abi/ live")
    node_modules: Path = Field(REPO_ROOT / "node_modules", description="the pinned chain toolchain")

    anvil_host: str = "127.0.0.1"
    anvil_port: int = 8545
    anvil_block_time: float | None = Field(None, description="seconds between blocks; None mines on demand")

    # Deployment parameters.
    fee_bps: int = Field(100, ge=0, le=1000, description="protocol fee in basis points")
    treasury: str | None = Field(None, description="fee recipient; the deployer when unset")
    min_bond_per_unit: int = Field(100_000, ge=0, description="bond per GPU-hour of supply, base units")
    metadata_uri: str = "https://gpuhours.xyz/capacity/{id}.json"
    stablecoin: str | None = Field(None, description="stablecoin address; MockUSDC is deployed when unset")
    deployer_alias: str | None = Field(
        None, description="ape keystore alias that deploys outside development chains"
    )

    confirmations: int = Field(1, ge=1, description="receipts to wait for per transaction")
    tx_timeout: float = 60.0


@lru_cache
def get_settings() -> Settings:
    return Settings()
