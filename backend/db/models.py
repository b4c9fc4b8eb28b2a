"""SQLModel tables: what the indexer writes and the API reads.

Three kinds of table:

- **indexer state** — `raw_event` (every log of the gpuhours contracts, decoded, keyed by chain id,
  block hash and log index), `block` (hashes of recent blocks, to detect reorgs), `checkpoint` (the
  last indexed block per chain), `journal` (before-images of projection rows written in recent
  blocks, to undo them on a reorg) and `indexer_lock` (the database writer lock);
- **projections** with a state that events change (`node`, `capacity`, `booking`, `order_state`,
  `balance`, `pool`, `pool_position`, `pool_collateral`, ...): restored from the journal on a reorg;
- **event tables** (`fill`, `attestation`, `mark_price`, `settlement`, `slash`, `pool_event`): one row
  per event,
  keyed by (chain id, block number, log index) and removed block by block on a reorg.

Every row carries its chain id. Addresses are checksummed, hashes are 0x-prefixed lowercase hex,
uint256 amounts are `U256` (exact), times are unix seconds.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import BigInteger, Index, Integer, Table, UniqueConstraint, inspect
from sqlmodel import Field, SQLModel

from backend.chain.protocol import CLOSE_REASONS, ORDER_KINDS, CapacityStatusName, CloseReasonName
from backend.db.types import U256, JSONDoc

# SQLite autoincrements only an INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT identity.
AutoId = BigInteger().with_variant(Integer(), "sqlite")

ADDRESS = 42
HASH = 66

# The contracts' enums by value, as the store writes them (re-exported for the indexer and the API).
__all__ = ["CLOSE_REASONS", "ORDER_KINDS"]


def _u256(default: int | None = 0, **kw: Any) -> Any:
    return Field(default=default, sa_type=U256, **kw)


def _int64(default: int | None = 0, **kw: Any) -> Any:
    return Field(default=default, sa_type=BigInteger, **kw)


@cache  # hot in the indexer's per-row paths; a model's table never changes
def table_of(model: type[SQLModel]) -> Table:
    """The Core table of a table model, typed (SQLModel sets `__table__` but does not declare it)."""
    found = inspect(model).local_table
    if not isinstance(found, Table):
        raise TypeError(f"{model.__name__} is not a table model")
    return found


# ---------------------------------------------------------------------------- indexer state


class RawEvent(SQLModel, table=True):
    """One log of an indexed contract, decoded with the deployment's ABI."""

    __tablename__ = "raw_event"
    __table_args__ = (
        UniqueConstraint("chain_id", "block_hash", "log_index", name="uq_raw_event_log"),
        Index("ix_raw_event_block", "chain_id", "block_number", "log_index"),
        Index("ix_raw_event_name", "chain_id", "contract", "event"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=AutoId)
    chain_id: int
    block_number: int = _int64()
    block_hash: str = Field(max_length=HASH)
    block_time: int | None = _int64(None)
    tx_hash: str = Field(max_length=HASH)
    tx_index: int
    log_index: int
    address: str = Field(max_length=ADDRESS)
    contract: str = Field(max_length=64, description="the deployment's name for the emitting contract")
    event: str = Field(max_length=64, description="event name; 'unknown' when no ABI entry matches")
    args: dict[str, Any] = Field(default_factory=dict, sa_type=JSONDoc)


class Block(SQLModel, table=True):
    """A recent block the indexer has seen, to detect reorgs by hash and parent hash."""

    __tablename__ = "block"

    chain_id: int = Field(primary_key=True)
    number: int = Field(primary_key=True, sa_type=BigInteger)
    hash: str = Field(max_length=HASH)
    parent_hash: str = Field(max_length=HASH)
    timestamp: int = _int64()


class Checkpoint(SQLModel, table=True):
    """The last block indexed on a chain: everything up to it is in the store, nothing after it."""

    __tablename__ = "checkpoint"

    chain_id: int = Field(primary_key=True)
    block_number: int = _int64()
    block_hash: str = Field(max_length=HASH)
    genesis_hash: str = Field(max_length=HASH, description="block 0 of the chain this store indexes")
    start_block: int = _int64()
    updated_at: float = 0.0


class Journal(SQLModel, table=True):
    """The before-image of a projection row, first written in a block (None: the row did not exist).

    Kept for the blocks within the reorg window; a rollback to block F restores, for every row, the
    earliest image above F."""

    __tablename__ = "journal"
    __table_args__ = (Index("ix_journal_block", "chain_id", "block_number"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=AutoId)
    chain_id: int
    block_number: int = _int64()
    table_name: str = Field(max_length=64)
    pk: list[Any] = Field(sa_type=JSONDoc)
    before: dict[str, Any] | None = Field(default=None, sa_type=JSONDoc)


class IndexerLock(SQLModel, table=True):
    """The database writer lock: one row per lock name, held by `owner` until `expires_at`."""

    __tablename__ = "indexer_lock"

    name: str = Field(primary_key=True, max_length=128)
    owner: str = Field(max_length=128)
    expires_at: float


# ---------------------------------------------------------------------------- projections


class Node(SQLModel, table=True):
    """A GPU machine in the GpuHours registry (NodeRegistered, NodeTransferred)."""

    __tablename__ = "node"

    chain_id: int = Field(primary_key=True)
    node_id: int = Field(primary_key=True, sa_type=BigInteger)
    owner: str = Field(max_length=ADDRESS, index=True)
    gpu_model: str
    gpu_count: int
    vram_gb: int
    region: str
    interconnect: str
    gpu_uuids_hash: str = Field(max_length=HASH)
    early_ends: int = _int64(
        description="bookings its holders ended early (BookingEnded): against the provider"
    )
    registered_block: int = _int64()
    registered_time: int | None = _int64(None)


class Provider(SQLModel, table=True):
    """An address that owns nodes or set a revenue split (RevenueSplitSet)."""

    __tablename__ = "provider"

    chain_id: int = Field(primary_key=True)
    address: str = Field(primary_key=True, max_length=ADDRESS)
    node_count: int = 0
    revenue_split: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSONDoc)


class Capacity(SQLModel, table=True):
    """A node's delivery window: one ERC-1155 id; 1 unit = 1 GPU-hour.

    `supply` = minted − burned = Σ balances. Burns are `activated` (booked), `redeemed` (refunded
    after a cancel) and `expired` (unused after the window)."""

    __tablename__ = "capacity"
    __table_args__ = (Index("ix_capacity_window", "chain_id", "status", "start", "end"),)

    chain_id: int = Field(primary_key=True)
    capacity_id: int = Field(primary_key=True, sa_type=BigInteger)
    node_id: int = Field(sa_type=BigInteger, index=True)
    provider: str = Field(max_length=ADDRESS, index=True)
    start: int = _int64()
    end: int = _int64()
    supply_cap: int = _int64()
    bond: int = _u256(description="bond posted at creation")
    unit_backing: int = _u256(description="stablecoin escrowed behind every unit, fixed at creation")
    slash_per_gpu_hour: int = _u256(description="bond slashed per failed GPU-hour past the grace (terms)")
    max_delay: int = _int64(description="seconds an hour's attestation is awaited (terms)")
    min_uptime_bps: int = _int64(description="SLA: least attested uptime of a delivered hour (terms)")
    min_gflops_per_joule: int = _int64(description="SLA: least verified efficiency (terms)")
    grace_hours: int = _int64(description="failed hours of the window forgiven before slashing (terms)")
    status: str = Field(
        default=CapacityStatusName.ACTIVE.value, max_length=16, description="active, cancelled or closed"
    )
    close_reason: str = Field(default=CloseReasonName.NONE.value, max_length=24)
    minted: int = _int64()
    burned: int = _int64()
    supply: int = _int64()
    activated: int = _int64()
    redeemed: int = _int64()
    expired: int = _int64()
    units_sold_at_cancel: int | None = _int64(None)
    delivered_hours: int | None = _int64(None)
    failed_hours: int | None = _int64(None)
    created_block: int = _int64()
    created_time: int | None = _int64(None)
    closed_block: int | None = _int64(None)


class Booking(SQLModel, table=True):
    """Hours activated into a booking of N GPUs for H hours (HoursActivated), and how it ended."""

    __tablename__ = "booking"

    chain_id: int = Field(primary_key=True)
    booking_id: int = Field(primary_key=True, sa_type=U256)
    capacity_id: int = Field(sa_type=BigInteger, index=True)
    holder: str = Field(max_length=ADDRESS, index=True)
    start: int = _int64()
    hours: int
    hours_returned: int = _int64(description="hours given back by an early end (BookingEnded), refunded")
    gpus: int
    close_reason: str = Field(default=CloseReasonName.NONE.value, max_length=24)
    activated_block: int = _int64()
    closed_block: int | None = _int64(None)
    delivered_hours: int | None = _int64(None)
    failed_hours: int | None = _int64(None)
    paid: int | None = _u256(None)
    refunded: int | None = _u256(None)
    slashed: int | None = _u256(None)


class OrderState(SQLModel, table=True):
    """What the chain says about a signed order: filled amount, fees, cancellation.

    Orders themselves are signed off-chain; a row appears when an order is first filled or cancelled.
    Makers' counters (CounterIncremented) invalidate every order signed under a lower counter."""

    __tablename__ = "order_state"

    chain_id: int = Field(primary_key=True)
    order_hash: str = Field(primary_key=True, max_length=HASH)
    maker: str = Field(max_length=ADDRESS, index=True)
    capacity_id: int | None = Field(default=None, sa_type=BigInteger, index=True)
    kind: str | None = Field(default=None, max_length=16)
    price: int | None = _u256(None)
    filled: int = _u256()
    fees: int = _u256()
    fills: int = 0
    cancelled: bool = False
    cancelled_block: int | None = _int64(None)
    last_fill_block: int | None = _int64(None)


class MakerCounter(SQLModel, table=True):
    __tablename__ = "maker_counter"

    chain_id: int = Field(primary_key=True)
    maker: str = Field(primary_key=True, max_length=ADDRESS)
    counter: int = _u256()
    block_number: int = _int64()


class Balance(SQLModel, table=True):
    """GPU-hours a holder has of a capacity (TransferSingle, TransferBatch); zero rows are deleted."""

    __tablename__ = "balance"

    chain_id: int = Field(primary_key=True)
    holder: str = Field(primary_key=True, max_length=ADDRESS)
    capacity_id: int = Field(primary_key=True, sa_type=BigInteger, index=True)
    amount: int = _u256()


class EscrowFunds(SQLModel, table=True):
    """Escrow.funds(capacityId) as the events tell it: backing held, bond, refundable units."""

    __tablename__ = "escrow_funds"

    chain_id: int = Field(primary_key=True)
    capacity_id: int = Field(primary_key=True, sa_type=BigInteger)
    backing: int = _u256(description="unit backing × units sold and not yet paid out")
    bond: int = _u256()
    refundable_units: int = _int64()
    penalty_per_unit: int = _u256(description="bond each unit refunded after a cancel also takes")
    premium: int = _u256(description="primary sales above the backing, held until the window settles")
    released: int = _u256(description="paid out to the provider so far")
    refunded: int = _u256(description="credited back to holders so far")
    slashed: int = _u256()


class EscrowAccount(SQLModel, table=True):
    """Escrow.claimable(account): credited minus withdrawn."""

    __tablename__ = "escrow_account"

    chain_id: int = Field(primary_key=True)
    account: str = Field(primary_key=True, max_length=ADDRESS)
    claimable: int = _u256()
    credited: int = _u256()
    withdrawn: int = _u256()


class Parameter(SQLModel, table=True):
    """The latest admin event of each kind per contract (SlaSet, SignerSetChanged, MaxDelaySet, ...)."""

    __tablename__ = "parameter"

    chain_id: int = Field(primary_key=True)
    contract: str = Field(primary_key=True, max_length=64)
    name: str = Field(primary_key=True, max_length=64)
    value: dict[str, Any] = Field(default_factory=dict, sa_type=JSONDoc)
    block_number: int = _int64()


class Pool(SQLModel, table=True):
    """A lending pool's totals as its events tell them (LendingPool, one per GPU class).

    `cash` counts what the events move (deposits and repayments in, withdrawals and loans out), not
    stablecoin sent to the pool by a plain transfer. `borrow_assets` is the debt as of the pool's last
    event: interest accrues on chain every second, and is written here when an event brings it in
    (InterestAccrued)."""

    __tablename__ = "pool"

    chain_id: int = Field(primary_key=True)
    address: str = Field(primary_key=True, max_length=ADDRESS)
    supply_shares: int = _u256(description="vault shares outstanding (Deposit adds, Withdraw burns)")
    cash: int = _u256()
    borrow_assets: int = _u256()
    borrow_shares: int = _u256()
    interest: int = _u256(description="interest accrued since the pool was deployed")
    bad_debt: int = _u256(description="debt written off against lenders")


class PoolPosition(SQLModel, table=True):
    """A borrower's debt in a pool, in borrow shares; its collateral is in `pool_collateral`."""

    __tablename__ = "pool_position"

    chain_id: int = Field(primary_key=True)
    pool: str = Field(primary_key=True, max_length=ADDRESS)
    borrower: str = Field(primary_key=True, max_length=ADDRESS)
    borrow_shares: int = _u256()
    borrowed: int = _u256(description="stablecoin borrowed, in total")
    repaid: int = _u256(description="stablecoin repaid, in total, by anyone")
    updated_block: int = _int64()


class PoolCollateral(SQLModel, table=True):
    """GPU-hour units of a capacity a borrower pledged to a pool (Pledged, Unpledged); zero rows are
    deleted."""

    __tablename__ = "pool_collateral"

    chain_id: int = Field(primary_key=True)
    pool: str = Field(primary_key=True, max_length=ADDRESS)
    borrower: str = Field(primary_key=True, max_length=ADDRESS)
    capacity_id: int = Field(primary_key=True, sa_type=BigInteger)
    units: int = _u256()


# ---------------------------------------------------------------------------- event tables


class _EventRow(SQLModel):
    chain_id: int = Field(primary_key=True)
    block_number: int = Field(primary_key=True, sa_type=BigInteger)
    log_index: int = Field(primary_key=True)
    block_hash: str = Field(max_length=HASH)
    block_time: int | None = _int64(None)
    tx_hash: str = Field(max_length=HASH)


class IndexedFill(_EventRow, table=True):
    """An executed order (OrderFilled): the source of prices and volumes."""

    __tablename__ = "fill"
    __table_args__ = (Index("ix_fill_capacity_time", "chain_id", "capacity_id", "block_time"),)

    order_hash: str = Field(max_length=HASH, index=True)
    maker: str = Field(max_length=ADDRESS, index=True)
    taker: str = Field(max_length=ADDRESS, index=True)
    capacity_id: int = Field(sa_type=BigInteger)
    kind: str = Field(max_length=16)
    amount: int = _u256()
    price: int = _u256()
    fee: int = _u256()


class IndexedAttestation(_EventRow, table=True):
    """What the oracle attested a node delivered in an epoch (a unix hour)."""

    __tablename__ = "attestation"
    __table_args__ = (UniqueConstraint("chain_id", "node_id", "epoch", name="uq_attestation_epoch"),)

    node_id: int = Field(sa_type=BigInteger)
    epoch: int = _int64()
    uptime_bps: int
    load_bps: int
    gpu_seconds: int = _int64()
    mflops_per_joule: int = _int64()
    gflops: int = _int64()
    samples_root: str = Field(max_length=HASH)


class IndexedMarkPrice(_EventRow, table=True):
    """A GPU class's mark price per GPU-hour for an epoch (MarkPriceSet)."""

    __tablename__ = "mark_price"
    __table_args__ = (Index("ix_mark_price_class", "chain_id", "gpu_class", "epoch"),)

    gpu_class: str = Field(max_length=64, description="the class name (ASCII bytes32), else its hex")
    epoch: int = _int64()
    price: int = _u256()


class Settlement(_EventRow, table=True):
    """A settlement: kind 'booking' (BookingSettled), 'unused' (UnusedSettled), 'capacity'
    (CapacitySettled)."""

    __tablename__ = "settlement"
    __table_args__ = (Index("ix_settlement_capacity", "chain_id", "capacity_id"),)

    kind: str = Field(max_length=16)
    capacity_id: int = Field(sa_type=BigInteger)
    booking_id: int | None = Field(default=None, sa_type=U256)
    holder: str | None = Field(default=None, max_length=ADDRESS)
    delivered_hours: int | None = _int64(None)
    failed_hours: int | None = _int64(None)
    units: int | None = _int64(None)
    paid: int = _u256()
    refunded: int = _u256()
    slashed: int = _u256()
    bond_returned: int = _u256()


class Slash(_EventRow, table=True):
    """Bond slashed from a capacity to a holder (BondSlashed)."""

    __tablename__ = "slash"
    __table_args__ = (Index("ix_slash_capacity", "chain_id", "capacity_id"),)

    capacity_id: int = Field(sa_type=BigInteger)
    to: str = Field(max_length=ADDRESS)
    amount: int = _u256()


class PoolEvent(_EventRow, table=True):
    """A lending pool's event, by `kind`: supply (Deposit), withdraw (Withdraw), pledge, unpledge,
    borrow, repay, interest (InterestAccrued), expired (ExpiredCollected: what an ended or cancelled
    capacity's pledged units returned, reserved for their positions), expiry_credit (ExpiredCredited:
    a position's share, `shares` of its debt burnt), liquidation (Liquidated: `counterparty` the
    liquidator, `units` seized of `capacity_id`, `assets` repaid), bad_debt (BadDebt: `assets` written
    off against lenders).

    `account` is whose position or vault shares changed (the borrower, the vault shares' owner);
    `counterparty` the other side where there is one (the borrow's receiver, the payer of a repay,
    whoever receives unpledged hours or withdrawn stablecoin); `assets` the stablecoin (the interest
    for kind interest)."""

    __tablename__ = "pool_event"
    __table_args__ = (Index("ix_pool_event_account", "chain_id", "pool", "account"),)

    pool: str = Field(max_length=ADDRESS)
    kind: str = Field(max_length=16)
    account: str | None = Field(default=None, max_length=ADDRESS)
    counterparty: str | None = Field(default=None, max_length=ADDRESS)
    capacity_id: int | None = Field(default=None, sa_type=BigInteger)
    units: int | None = _u256(None)
    assets: int = _u256()
    shares: int | None = _u256(None)
    rate_per_second: int | None = _u256(None, description="kind interest: the rate, WAD a second")
    total_borrow: int | None = _u256(None, description="kind interest: the pool's debt after it")


#: Projections restored from the journal on a reorg.
STATE_TABLES: tuple[type[SQLModel], ...] = (
    Node,
    Provider,
    Capacity,
    Booking,
    OrderState,
    MakerCounter,
    Balance,
    EscrowFunds,
    EscrowAccount,
    Parameter,
    Pool,
    PoolPosition,
    PoolCollateral,
)
#: One row per event: removed by block number on a reorg.
EVENT_TABLES: tuple[type[SQLModel], ...] = (
    IndexedFill,
    IndexedAttestation,
    IndexedMarkPrice,
    Settlement,
    Slash,
    PoolEvent,
)


# ---------------------------------------------------------------------------- API state
# Written by the API and the tasks, never by the indexer: not journaled, untouched by reorgs.


class PostedOrder(SQLModel, table=True):
    """An EIP-712 order posted to the API, signature checked. Its on-chain state (filled, cancelled,
    counter) lives in `order_state` and `maker_counter`, joined at read time.

    `status` is the off-chain lifecycle: `open`, `withdrawn` (the maker took it off the book) or
    `expired` (past its expiry, marked by the expiry task)."""

    __tablename__ = "signed_order"
    # No index on expiry: the expiry sweep reads every open order anyway, and SQLite's planner, without
    # statistics, would take (chain, status, expiry) over the book index and scan every open order to
    # answer one capacity's book.
    __table_args__ = (
        Index("ix_signed_order_book", "chain_id", "capacity_id", "status", "kind", "price"),
        Index("ix_signed_order_updated", "updated_at"),
    )

    chain_id: int = Field(primary_key=True)
    order_hash: str = Field(primary_key=True, max_length=HASH)
    maker: str = Field(max_length=ADDRESS, index=True)
    kind: str = Field(max_length=16)
    capacity_id: int = Field(sa_type=BigInteger)
    amount: int = _u256()
    price: int = _u256()
    expiry: int = _int64()
    salt: int = _u256()
    counter: int = _u256()
    signature: str = Field(max_length=1024, description="0x hex; 65 bytes for an EOA, any for ERC-1271")
    status: str = Field(default="open", max_length=16)
    posted_at: float = 0.0
    updated_at: float = Field(
        default=0.0, description="last change of this row: the API's caches key on the latest"
    )


class NodeMetadata(SQLModel, table=True):
    """What a provider says of a registered node beyond the registry: name, endpoint, description."""

    __tablename__ = "node_metadata"

    chain_id: int = Field(primary_key=True)
    node_id: int = Field(primary_key=True, sa_type=BigInteger)
    owner: str = Field(max_length=ADDRESS)
    name: str = Field(max_length=64)
    description: str = Field(default="", max_length=2000)
    endpoint: str | None = Field(default=None, max_length=256)
    tags: list[str] = Field(default_factory=list, sa_type=JSONDoc)
    updated_at: float = 0.0


class AuthNonce(SQLModel, table=True):
    """A Sign-In with Ethereum nonce: issued once, consumed once."""

    __tablename__ = "auth_nonce"
    __table_args__ = (Index("ix_auth_nonce_expiry", "expires_at"),)

    nonce: str = Field(primary_key=True, max_length=64)
    issued_at: float
    expires_at: float
    used_at: float | None = None


class ApiSession(SQLModel, table=True):
    """A bearer token issued after a Sign-In with Ethereum, stored by its SHA-256 only."""

    __tablename__ = "api_session"

    token_hash: str = Field(primary_key=True, max_length=64)
    address: str = Field(max_length=ADDRESS, index=True)
    chain_id: int
    issued_at: float
    expires_at: float


class PriceIndex(SQLModel, table=True):
    """Per GPU class, from executed fills: last price and the 24 h volume-weighted average (price index
    task)."""

    __tablename__ = "price_index"

    chain_id: int = Field(primary_key=True)
    gpu_class: str = Field(primary_key=True, max_length=64)
    last_price: int = _u256()
    last_time: int | None = _int64(None)
    vwap_24h: int | None = _u256(None)
    volume_24h: int = _u256(description="GPU-hours filled in the last 24 h")
    fills_24h: int = 0
    updated_at: float = 0.0


class NodeHealth(SQLModel, table=True):
    """The SLA watchdog's view of a node with a window open now: its last attested epoch and whether
    attestations have gone stale."""

    __tablename__ = "node_health"

    chain_id: int = Field(primary_key=True)
    node_id: int = Field(primary_key=True, sa_type=BigInteger)
    last_epoch: int | None = _int64(None)
    stale: bool = False
    flagged_at: float | None = None
    checked_at: float = 0.0
