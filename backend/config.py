"""The backend's settings, one class per process; every value can be set as GPUHOURS_<NAME>.

- `ChainSettings`: what every process needs (the chain's RPC, the deployments); user commands read
  `CliSettings`, which adds where the API is.
- `StoreSettings`: the SQL store and Redis, for the indexer, the API and the tasks.
- `IndexerSettings` (`gpuhours index`), `TaskSettings` (Celery worker and beat, the in-process tasks:
  the indexer is one of them), `ApiSettings` (`gpuhours serve`, which also runs `TaskSettings`' tasks).
- `DeploySettings` (`gpuhours deploy`, scripts/deploy.py): the contracts' parameters and the pool terms.
- `DevChainSettings` (`gpuhours chain`, `gpuhours demo`): the local Anvil.

`load_settings(cls)` reads one from the environment and turns a bad value into a `SettingsError`: one line
naming the variable and the form it wants. The oracle's processes read their own (oracle/settings.py)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Self, TypeVar
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from backend.chain.deployments import DEFAULT_DIR, REPO_ROOT
from backend.chain.pools import PoolTerms
from backend.chain.protocol import HOUR

PREFIX = "GPUHOURS_"


class SettingsError(ValueError):
    """A setting that cannot be used, told in one line that names its GPUHOURS_* variable."""


def _url(value: str, schemes: tuple[str, ...], example: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in schemes or not (parts.netloc or parts.path):
        raise ValueError(f"a URL like {example} ({', '.join(schemes)}), not {value!r}")
    return value


class _Env(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=PREFIX, env_file=".env", extra="ignore")


# What every process needs.


class ChainSettings(_Env):
    rpc_url: str = Field("http://127.0.0.1:8545", description="JSON-RPC endpoint of the chain")
    deployments_dir: Path = Field(DEFAULT_DIR, description="where <chainId>.json and abi/ live")
    tx_timeout: float = Field(60.0, gt=0, description="seconds to wait for a transaction's receipt")

    @field_validator("rpc_url")
    @classmethod
    def _rpc_url(cls, value: str) -> str:
        return _url(value, ("http", "https", "ws", "wss"), "http://127.0.0.1:8545")


class CliSettings(ChainSettings):
    """The user commands (backend/cli_*.py): the chain, and the API they talk to."""

    api_host: str = Field("127.0.0.1", description="the API's host, unless a command is given --api-url")
    api_port: int = Field(8000, ge=1, le=65535)


class DevChainSettings(_Env):
    """`gpuhours chain` and `gpuhours demo`: the local Anvil."""

    node_modules: Path = Field(REPO_ROOT / "node_modules", description="the pinned chain toolchain")
    anvil_host: str = "127.0.0.1"
    anvil_port: int = Field(8545, ge=1, le=65535)


# The store: the indexer, the API and the tasks.


class StoreSettings(ChainSettings):
    # SQLite by default, PostgreSQL in production (postgresql://user@host/db).
    db_url: str = Field(
        f"sqlite:///{REPO_ROOT / '.gpuhours' / 'gpuhours.db'}",
        description="SQLAlchemy URL; postgresql:// URLs use psycopg 3",
    )
    db_echo: bool = Field(False, description="log every SQL statement")
    db_auto_migrate: bool = Field(True, description="run the Alembic migrations when the store is opened")
    # Redis: the indexer's writer lock and Celery's broker. None: the database lock, in-process tasks.
    redis_url: str | None = Field(
        None, description="redis://host:6379/0; when unset or unreachable the database lock is used"
    )
    redis_namespace: str = Field(
        "gpuhours", min_length=1, description="prefix of every Redis key this deployment uses"
    )

    @field_validator("db_url")
    @classmethod
    def _db_url(cls, value: str) -> str:
        if not value.startswith(("sqlite:", "postgresql:", "postgresql+psycopg:")):
            raise ValueError(f"a sqlite:///path or postgresql://user@host/db URL, not {value!r}")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        return value and _url(value, ("redis", "rediss", "unix"), "redis://127.0.0.1:6379/0")


class IndexerSettings(StoreSettings):
    """`gpuhours index`, and the indexer among the tasks."""

    indexer_confirmations: int = Field(
        0, ge=0, description="blocks behind the head left unindexed; raise it on chains that reorg"
    )
    indexer_reorg_window: int = Field(
        128, ge=1, description="recent blocks whose hashes are kept to detect reorgs and roll them back"
    )
    indexer_start_block: int | None = Field(
        None, ge=0, description="first block to index; the deployment block when unset"
    )
    indexer_batch_blocks: int = Field(2_000, ge=1, description="first eth_getLogs range, in blocks")
    indexer_max_batch_blocks: int = Field(100_000, ge=1, description="the range never grows beyond this")
    indexer_poll_interval: float = Field(
        0.1, gt=0, description="seconds between polls once at the head: bounds how late a new block shows"
    )
    indexer_rpc_timeout: float = Field(20.0, gt=0, description="seconds per JSON-RPC request")
    indexer_rpc_retries: int = Field(8, ge=0, description="retries of a request on timeouts, 429 and 5xx")
    indexer_backoff: float = Field(0.5, ge=0, description="first retry delay in seconds; doubles per retry")
    indexer_max_backoff: float = Field(30.0, ge=0, description="longest retry delay in seconds")
    indexer_lock_ttl: float = Field(
        5.0,
        gt=0,
        description="seconds a writer lock lives unless renewed (a heartbeat renews it every third of "
        "that); a crashed writer's successor takes over within it",
    )

    @model_validator(mode="after")
    def _ranges_agree(self) -> Self:
        if self.indexer_batch_blocks > self.indexer_max_batch_blocks:
            raise ValueError(
                f"GPUHOURS_INDEXER_BATCH_BLOCKS ({self.indexer_batch_blocks}) must not exceed "
                f"GPUHOURS_INDEXER_MAX_BATCH_BLOCKS ({self.indexer_max_batch_blocks})"
            )
        if self.indexer_backoff > self.indexer_max_backoff:
            raise ValueError(
                f"GPUHOURS_INDEXER_BACKOFF ({self.indexer_backoff:g}) must not exceed "
                f"GPUHOURS_INDEXER_MAX_BACKOFF ({self.indexer_max_backoff:g})"
            )
        if self.indexer_poll_interval >= self.indexer_lock_ttl:
            raise ValueError(
                f"GPUHOURS_INDEXER_POLL_INTERVAL ({self.indexer_poll_interval:g}) must be shorter than "
                f"GPUHOURS_INDEXER_LOCK_TTL ({self.indexer_lock_ttl:g}): the writer lock must outlive a poll"
            )
        return self


class TaskSettings(IndexerSettings):
    """The periodic tasks (backend/tasks): Celery on redis_url, else the same jobs in-process."""

    task_index_interval: float = Field(1.0, gt=0, description="seconds between index ticks")
    task_expire_interval: float = Field(30.0, gt=0, description="seconds between order-expiry sweeps")
    task_watchdog_interval: float = Field(60.0, gt=0, description="seconds between SLA watchdog runs")
    task_price_interval: float = Field(60.0, gt=0, description="seconds between price-index updates")
    sla_stale_after: float = Field(
        3 * 3600.0,
        gt=0,
        description="a node in an open window with no attested epoch for this long is flagged",
    )

    # Settlement keeper (backend/tasks/keeper.py): settles bookings and windows once they can be.
    keeper_enabled: bool = Field(True, description="run the settlement keeper among the periodic tasks")
    task_keeper_interval: float = Field(30.0, gt=0, description="seconds between settlement keeper ticks")
    keeper_keystore: Path | None = Field(
        None,
        description="keystore of the account that sends settlements; on dev chains a dev account if unset",
    )
    keeper_password_file: Path | None = Field(None, description="file holding the keeper keystore's password")
    keeper_dev_account: int = Field(
        0, ge=0, le=19, description="Anvil dev account that settles on chains 31337/1337 without a keystore"
    )
    keeper_max_calls: int = Field(
        25, ge=1, description="settlement calls tried per tick at most; the rest wait for the next tick"
    )
    keeper_holders_per_call: int = Field(50, ge=1, le=500, description="holders per settleUnused call")

    # Lending keeper (backend/tasks/lending_keeper.py): expired collateral, liquidations, bad debt.
    # It sends from the settlement keeper's account.
    lending_keeper_enabled: bool = Field(True, description="run the lending keeper among the periodic tasks")
    task_lending_keeper_interval: float = Field(
        30.0, gt=0, description="seconds between lending keeper ticks"
    )
    lending_keeper_min_profit: int = Field(
        1_000_000,
        ge=0,
        description="stablecoin base units a liquidation must yield (value seized less the repayment) to "
        "be sent; underwater positions are cleared regardless",
    )
    lending_keeper_max_calls: int = Field(
        25, ge=1, description="lending calls tried per tick at most; the rest wait for the next tick"
    )
    lending_keeper_borrowers_per_call: int = Field(
        50, ge=1, le=500, description="positions per settleExpired call"
    )

    @model_validator(mode="after")
    def _keystore_with_password(self) -> Self:
        if (self.keeper_keystore is None) != (self.keeper_password_file is None):
            raise ValueError(
                "GPUHOURS_KEEPER_KEYSTORE and GPUHOURS_KEEPER_PASSWORD_FILE are set together or not at all"
            )
        return self

    def keeper_keystore_files(self) -> tuple[Path, Path] | None:
        """(keystore, password file) when the keeper sends from a keystore."""
        if self.keeper_keystore is None or self.keeper_password_file is None:
            return None
        return self.keeper_keystore, self.keeper_password_file


# The SLA floor the Settlement contract is deployed with; the API shows it until its SlaSet is indexed.


class _SlaFloor(_Env):
    sla_min_uptime_bps: int = Field(
        9_500, ge=0, le=10_000, description="an hour is delivered at or above this"
    )
    sla_min_gflops_per_joule: int = Field(0, ge=0, le=65_535, description="and at or above this (0: off)")


class ApiSettings(StoreSettings, _SlaFloor):
    """The HTTP API (backend/api): `gpuhours serve`."""

    api_host: str = "127.0.0.1"
    api_port: int = Field(8000, ge=1, le=65535)
    api_domain: str | None = Field(
        None,
        description="the host[:port] Sign-In with Ethereum messages must name (EIP-4361), several "
        "comma-separated; unset: the host and port served on (on a loopback or all-interfaces host "
        "both localhost:PORT and 127.0.0.1:PORT)",
    )
    api_nonce_ttl: float = Field(600.0, gt=0, description="seconds a sign-in nonce can be used")
    api_session_ttl: float = Field(24 * 3600.0, gt=0, description="seconds a bearer token lives")
    api_max_price: int = Field(
        10_000 * 10**6, gt=0, description="highest price per GPU-hour an order may carry, base units"
    )
    api_min_expiry: float = Field(60.0, ge=0, description="an order posted must live at least this long")
    api_page_max: int = Field(500, ge=1, description="largest page a list endpoint returns")
    api_write_rate: float = Field(
        2.0, gt=0, description="writes (orders posted, sign-ins) a client may make a second, on average"
    )
    api_write_burst: int = Field(
        60, ge=1, description="writes a client may make at once before the rate applies"
    )
    api_max_body: int = Field(
        131_072, ge=1024, description="bytes a request body may have; a larger one is a 413 unread"
    )
    api_db_concurrency: int = Field(
        16,
        ge=1,
        le=256,
        description="requests that may use the store at once, per process; the rest wait their turn "
        "before taking a connection or a thread (the pool and the thread pool hold this many plus 4)",
    )
    api_stream_poll: float = Field(
        0.1, gt=0, description="seconds between looks for new events (SSE), one reader a process"
    )
    task_price_interval: float = Field(
        60.0, gt=0, description="seconds between price-index updates: a price older than a few is stale"
    )


class DeploySettings(ChainSettings, _SlaFloor):
    """`gpuhours deploy` (scripts/deploy.py): the contracts' parameters."""

    fee_bps: int = Field(100, ge=0, le=1000, description="protocol fee in basis points")
    treasury: str | None = Field(None, description="fee recipient; the deployer when unset")
    min_bond_per_unit: int = Field(100_000, ge=0, description="bond per GPU-hour of supply, base units")
    metadata_uri: str = "https://gpuhours.xyz/capacity/{id}.json"
    stablecoin: str | None = Field(None, description="stablecoin address; MockUSDC is deployed when unset")
    deployer_alias: str | None = Field(
        None, description="ape keystore alias that deploys outside development chains"
    )

    # The oracle and settlement contracts.
    oracle_signers: list[str] = Field(
        default_factory=list,
        description="oracle signer addresses; on development chains, Anvil's dev accounts 6-8 when unset",
    )
    oracle_threshold: int = Field(2, ge=1, description="signatures a report needs")
    oracle_max_delay: int = Field(
        6 * HOUR, ge=0, le=86_400, description="seconds after an epoch its report is accepted (≤ a day)"
    )
    sla_grace_hours: int = Field(1, ge=0, le=255, description="failed hours per window before slashing")
    sla_slash_per_gpu_hour: int = Field(
        500_000, ge=0, le=2**64 - 1, description="bond slashed per failed GPU-hour, base units"
    )

    # Lending pools: one LendingPool per GPU class, all with these terms.
    pool_classes: list[str] = Field(
        default_factory=lambda: ["H100-SXM5-80GB", "A100-SXM4-80GB"],
        description="GPU classes (a node's gpuModel) that get a lending pool; the demo's two by default",
    )
    pool_lltv_bps: int = Field(
        8_000, gt=0, lt=10_000, description="liquidation loan-to-value: debt up to 80 % of collateral value"
    )
    pool_rate_base_bps: int = Field(100, ge=0, le=10_000, description="borrow rate a year at no utilization")
    pool_rate_slope1_bps: int = Field(400, ge=0, le=10_000, description="added a year up to the kink")
    pool_rate_slope2_bps: int = Field(
        6_000, ge=0, le=80_000, description="added a year from the kink to full utilization"
    )
    pool_rate_kink_bps: int = Field(
        8_000, gt=0, lt=10_000, description="utilization where the slope steepens"
    )
    pool_maturity_buffer_hours: int = Field(
        6, ge=0, le=720, description="hours before a window's end from which its units count for nothing"
    )
    pool_mark_max_age: int = Field(
        3 * HOUR, gt=0, description="seconds after its epoch ended that a mark still allows borrowing"
    )
    pool_min_debt: int = Field(
        1_000_000,
        ge=0,
        description="the smallest debt a position may carry, in stablecoin base units (1 USDC): none too "
        "small to be worth a liquidator's gas",
    )

    @field_validator("treasury", "stablecoin")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        if value is not None and not _is_address(value):
            raise ValueError(f"a 0x-prefixed 20-byte hex address, not {value!r}")
        return value

    @field_validator("oracle_signers")
    @classmethod
    def _signers(cls, value: list[str]) -> list[str]:
        bad = [a for a in value if not _is_address(a)]
        if bad:
            raise ValueError(f"0x-prefixed 20-byte hex addresses, not {bad[0]!r}")
        if len({a.lower() for a in value}) != len(value):
            raise ValueError("each signer once")
        return value

    @model_validator(mode="after")
    def _threshold_reachable(self) -> Self:
        if self.oracle_signers and self.oracle_threshold > len(self.oracle_signers):
            raise ValueError(
                f"GPUHOURS_ORACLE_THRESHOLD ({self.oracle_threshold}) must not exceed the "
                f"{len(self.oracle_signers)} GPUHOURS_ORACLE_SIGNERS"
            )
        return self

    def pool_terms(self) -> PoolTerms:
        return PoolTerms(
            lltv_bps=self.pool_lltv_bps,
            base_bps=self.pool_rate_base_bps,
            slope1_bps=self.pool_rate_slope1_bps,
            slope2_bps=self.pool_rate_slope2_bps,
            kink_bps=self.pool_rate_kink_bps,
            maturity_buffer_hours=self.pool_maturity_buffer_hours,
            mark_max_age=self.pool_mark_max_age,
            min_debt=self.pool_min_debt,
        )


def _is_address(value: str) -> bool:
    return (
        len(value) == 42
        and value[:2] in ("0x", "0X")
        and all(c in "0123456789abcdefABCDEF" for c in value[2:])
    )


AnySettings = TypeVar("AnySettings", bound=BaseSettings)


def load_settings(cls: type[AnySettings]) -> AnySettings:
    """`cls` read from the environment; a bad value raises SettingsError, one line naming its variable."""
    try:
        return cls()
    except ValidationError as exc:
        raise SettingsError(describe(exc)) from None


@lru_cache
def cached_settings(cls: type[AnySettings]) -> AnySettings:
    """`load_settings(cls)`, once per process: for what reads settings no caller hands down."""
    return load_settings(cls)


def describe(exc: ValidationError) -> str:
    """A ValidationError of a settings class in one line: `GPUHOURS_X: the form it wants`."""
    parts = []
    for error in exc.errors(include_url=False):
        message = str(error["msg"]).removeprefix("Value error, ")
        if error["type"] != "value_error":  # the validators here quote the value themselves
            message += f", not {error['input']!r}"
        name = error["loc"][0] if error["loc"] else None
        parts.append(f"{PREFIX}{str(name).upper()}: {message}" if name is not None else message)
    return "; ".join(parts)
