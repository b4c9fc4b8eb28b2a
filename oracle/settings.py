"""Settings of the oracle's three processes, each read from GPUHOURS_ORACLE_* variables (and .env).

Each process is handed only its own class: the agent on a provider's GPU node, the oracle node run by an
oracle operator, and the aggregator that lands reports. The few values they share with the backend keep
the backend's names (GPUHOURS_RPC_URL, GPUHOURS_DEPLOYMENTS_DIR, GPUHOURS_TX_TIMEOUT).

The three classes live in this one module, under the agent, node and aggregator packages: they share
the prefix and its error sentences (oracle/cli.py), values that must agree across processes (the
aggregator's epoch_grace mirrors the nodes') sit side by side, and the module imports only pydantic
and backend.chain, so reading it costs the agent's install nothing.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal, Self

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from backend.chain.deployments import DEFAULT_DIR
from backend.chain.protocol import HOUR

ENV_PREFIX = "GPUHOURS_ORACLE_"


class _OracleSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_file=".env", extra="ignore", frozen=True)


class AgentSettings(_OracleSettings):
    """`gpuhours oracle agent`: serves a GPU node's telemetry and answers proof-of-compute challenges."""

    source: Literal["nvml", "dcgm", "simulated"] = Field(
        "simulated", description="where the agent reads telemetry"
    )
    dcgm_url: str = Field("http://127.0.0.1:9400/metrics", description="a dcgm-exporter endpoint")
    http_timeout: float = Field(30.0, gt=0, description="seconds per request to the dcgm-exporter")
    agent_host: str = "127.0.0.1"
    agent_port: int = Field(9410, ge=1, le=65535)
    sample_interval: float = Field(1.0, gt=0, description="seconds between samples of every GPU")
    buffer_seconds: int = Field(7200, ge=60, description="how much sample history the agent keeps")
    max_challenge_n: int = Field(16384, ge=16, description="largest challenge the agent accepts")
    sim_seed: int = Field(0, description="seed of the simulated source")
    sim_gpus: int = Field(8, ge=1, le=64, description="GPUs of the simulated source")
    sim_model: str = "NVIDIA H100 80GB HBM3"
    sim_backfill: int = Field(
        0, ge=0, description="seconds of simulated history to pre-fill, so a fresh demo agent can be attested"
    )

    @model_validator(mode="after")
    def _backfill_is_simulated(self) -> Self:
        if self.sim_backfill and self.source != "simulated":
            raise ValueError(
                f"{ENV_PREFIX}SIM_BACKFILL pre-fills the simulated source only, not {self.source}"
            )
        return self


class NodeSettings(_OracleSettings):
    """`gpuhours oracle node`: polls agents, challenges them, aggregates an epoch and signs it."""

    agents: dict[int, str] = Field(
        default_factory=dict, description='node id -> agent URL, as JSON: {"1": "http://10.0.0.5:9410"}'
    )
    http_timeout: float = Field(30.0, gt=0, description="seconds per agent request")
    poll_interval: float = Field(10.0, gt=0, description="seconds between polls of an agent")
    challenge_n: int = Field(
        2048, ge=16, description="each agent's first challenge size, and the smallest it is given"
    )
    challenge_seconds: float = Field(
        0.5,
        ge=0,
        description="double an agent's challenge size (up to the largest it accepts) while its "
        "product takes under a quarter of this, halve it past four times; 0 keeps challenge_n",
    )
    challenge_rows: int = Field(32, ge=1, description="rows of C the oracle asks to see per challenge")
    freivalds_rounds: int = Field(8, ge=1, le=64, description="random vectors per Freivalds check")
    challenges_per_epoch: int = Field(4, ge=1, description="challenges per node per hour (watch mode)")

    keystore: Path | None = Field(None, description="encrypted eth-account keystore of this oracle")
    password_file: Path | None = Field(None, description="file holding the keystore password")
    keystore_password: SecretStr | None = Field(None, description="the keystore password itself")

    # Mark prices from the Exchange's fills (oracle/node/marks.py): all the node reads from the chain.
    rpc_url: str | None = Field(
        None,
        validation_alias="GPUHOURS_RPC_URL",
        description="JSON-RPC endpoint to read fills from; unset, only --mark prices are signed",
    )
    mark_window: int = Field(
        24 * HOUR, ge=HOUR, le=7 * 24 * HOUR, description="seconds of chain time of fills behind each mark"
    )
    mark_min_units: int = Field(
        100, ge=1, description="GPU-hours of a class that must trade in the window for it to get a mark"
    )
    mark_min_counterparties: int = Field(
        3, ge=2, description="distinct addresses (makers and takers) among those fills, at least"
    )
    mark_outlier_k: float = Field(
        3.0, ge=0, le=100, description="fills priced more than this many MADs from the median are dropped"
    )
    mark_outlier_floor_bps: int = Field(
        500, ge=0, le=10_000, description="fills within this share of the median, in bps, are never outliers"
    )

    # Reports are signed for a configured EIP-712 domain, not one read from the chain.
    chain_id: int = Field(31337, description="chain id of the EIP-712 domain")
    contract: str | None = Field(
        None, description="AttestationOracle address; read from deployments/<chainId>.json when unset"
    )
    deployments_dir: Path = Field(
        DEFAULT_DIR, validation_alias="GPUHOURS_DEPLOYMENTS_DIR", description="where <chainId>.json lives"
    )
    signer_set: int = Field(1, ge=0, description="version of the oracle signer set")

    # Consensus (oracle/protocol/consensus.py): whose signed observations a report may be derived from.
    peers: list[str] = Field(
        default_factory=list,
        description='addresses of the signer set, this node\'s own included, as JSON: ["0xAb..", ...]; '
        "unset, the node signs no report",
    )
    quorum: int = Field(
        2, ge=1, description="signed observations a report field needs (the signer set's threshold)"
    )
    max_clock_skew: float = Field(
        120.0,
        gt=0,
        description="seconds the chain's latest block may be ahead of this clock; more, the node won't run",
    )
    epoch_grace: float = Field(
        30.0, ge=0, description="seconds after an epoch ends before it is attested, for its last samples"
    )
    watch_gap: float = Field(
        180.0,
        gt=0,
        description="longest stretch of an hour, its start and end included, without a poll of this "
        "node for it to attest the hour's uptime (oracle/node/epoch_attestation.py)",
    )
    max_delay: int = Field(
        6 * HOUR,
        ge=0,
        le=86_400,
        description="seconds after an epoch its report is accepted (the AttestationOracle's maxDelay)",
    )

    # `gpuhours oracle node --serve` (oracle/node/api.py).
    node_host: str = "127.0.0.1"
    node_port: int = Field(9420, ge=1, le=65535)

    @field_validator("peers")
    @classmethod
    def _peers_are_addresses(cls, peers: list[str]) -> list[str]:
        for peer in peers:
            if not re.fullmatch(r"0x[0-9a-fA-F]{40}", peer):
                raise ValueError(f"{peer[:50]!r} is not an address (0x and 40 hex digits)")
        return peers

    @model_validator(mode="after")
    def _grace_within_delay(self) -> Self:
        if self.epoch_grace >= self.max_delay:
            raise ValueError(
                f"{ENV_PREFIX}EPOCH_GRACE ({self.epoch_grace:g} s) must be under {ENV_PREFIX}MAX_DELAY "
                f"({self.max_delay} s): a report signed after the grace would be refused on chain"
            )
        return self


class AggregatorSettings(_OracleSettings):
    """`gpuhours oracle aggregate`: gathers the nodes' observations, gets the median signed, lands it."""

    nodes: list[str] = Field(
        default_factory=list, description='oracle node URLs, as JSON: ["http://10.0.1.1:9420", ...]'
    )
    http_timeout: float = Field(30.0, gt=0, description="seconds per oracle node request")
    sender_keystore: Path | None = Field(
        None, description="keystore of the account that submits reports; on dev chains a dev account if unset"
    )
    sender_password_file: Path | None = Field(None, description="file holding its password")
    aggregate_interval: float = Field(60.0, gt=0, description="seconds between tries in watch mode")
    epoch_grace: float = Field(
        30.0, ge=0, description="the oracle nodes' grace: an epoch is asked for twice this after it ends"
    )

    rpc_url: str = Field(
        "http://127.0.0.1:8545",
        validation_alias="GPUHOURS_RPC_URL",
        description="JSON-RPC endpoint of the chain",
    )
    deployments_dir: Path = Field(
        DEFAULT_DIR,
        validation_alias="GPUHOURS_DEPLOYMENTS_DIR",
        description="where <chainId>.json and abi/ live",
    )
    tx_timeout: float = Field(60.0, gt=0, validation_alias="GPUHOURS_TX_TIMEOUT")
