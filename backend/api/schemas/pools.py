"""Lending pools: each pool's terms and state, borrowers' positions, and requests for pool transactions
(a lender's, a borrower's, a liquidator's, and the settlement of expired collateral).

Amounts are in the stablecoin's base units; rates per second and the LLTV in WAD (1e18 = 100 %), as
the contract keeps them; APYs and utilization as fractions (0.05 = 5 %)."""

from __future__ import annotations

from typing import Annotated

from annotated_types import Ge, Le
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from backend.api.schemas.page import Page
from backend.api.schemas.types import UINT256_MAX, Address, Id256, Uint256, json_integer
from backend.api.schemas.wallet import UnsignedTx

#: Stablecoin or GPU-hour units a pool call takes: uint256, at least one.
PoolAmount = Annotated[int, Ge(1), Le(UINT256_MAX), BeforeValidator(json_integer)]

_BORROWER = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"
_LIQUIDATOR = "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65"


class RateModelPublic(BaseModel):
    base: int = Field(description="per second, WAD, at no utilization")
    slope1: int = Field(description="per second, WAD, added from 0 to the kink")
    slope2: int = Field(description="per second, WAD, added from the kink to full utilization")
    kink: int = Field(description="utilization, WAD")


class PoolTermsPublic(BaseModel):
    lltv: int = Field(description="liquidation loan-to-value, WAD")
    rate_model: RateModelPublic
    maturity_buffer_hours: int = Field(description="hours before a window's end from which its units count 0")
    mark_max_age: int = Field(description="seconds after its epoch ended that a mark allows borrowing")


class PoolPublic(BaseModel):
    gpu_class: str
    address: str
    terms: PoolTermsPublic
    total_supplied: int = Field(description="the vault's totalAssets: cash plus debt, interest to now")
    total_borrowed: int = Field(description="debt of all borrowers, interest to now")
    cash: int = Field(description="stablecoin the pool holds: what lenders can withdraw and borrowers borrow")
    supply_shares: int = Field(description="vault shares outstanding")
    utilization: float = Field(description="borrowed / (cash + borrowed), as the rate model reads it")
    borrow_rate_per_second: int = Field(description="the rate now, WAD a second")
    borrow_apy: float = Field(description="the rate now, compounded over a year")
    supply_apy: float = Field(description="what lenders earn at the rate now: borrow rate × utilization")
    total_bad_debt: int = Field(description="debt written off against lenders, from the index")
    mark: int = Field(description="the class's latest mark per GPU-hour (0 before the first)")
    mark_epoch: int = Field(description="the epoch of that mark")
    borrowers: int = Field(description="positions in the index with debt or collateral")


class PoolPage(Page[PoolPublic]):
    pass


class CollateralPublic(BaseModel):
    capacity_id: int
    units: int
    backing: int = Field(description="stablecoin escrowed behind each unit: the most the pool values it at")
    value: int = Field(description="what the units count for at the current mark")


class PoolPositionPublic(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "pool": "0x2279B7A0a67DB372996a5FaB50D91eAA73d2eBe6",
                "borrower": _BORROWER,
                "debt": 16_000_000,
                "borrow_shares": 16_000_000_000_000,
                "collateral": [{"capacity_id": 1, "units": 30, "backing": 2_000_000, "value": 60_000_000}],
                "collateral_value": 60_000_000,
                "max_debt": 48_000_000,
                "health_factor": 3.0,
                "liquidation_price": 666_667,
                "healthy": True,
                "borrowed": 16_000_000,
                "repaid": 0,
            }
        }
    )

    pool: str
    borrower: str
    debt: int = Field(description="owed now, interest to now, rounded up (on chain)")
    borrow_shares: int
    collateral: list[CollateralPublic]
    collateral_value: int = Field(description="at the current mark, whatever its age (on chain)")
    max_debt: int = Field(description="collateral value × LLTV: the most the position may owe")
    health_factor: float | None = Field(description="collateral value × LLTV / debt; null without debt")
    liquidation_price: int | None = Field(
        description="the mark per GPU-hour below which the position is unhealthy, rounded up; null without "
        "debt, or when the hours cannot cover the debt at any mark"
    )
    healthy: bool = Field(description="debt ≤ max debt: it cannot be liquidated")
    borrowed: int = Field(description="borrowed in total (index)")
    repaid: int = Field(description="repaid in total, by anyone (index)")


class PositionPage(Page[PoolPositionPublic]):
    pass


class LiquidationPublic(BaseModel):
    """A liquidation (`liquidation`: debt repaid by a liquidator for seized hours) or a write-off
    (`bad_debt`: debt lenders lost), as the pool's events record them."""

    kind: str = Field(description="liquidation or bad_debt")
    borrower: Address
    liquidator: Address | None = Field(description="who repaid and seized; null for a write-off")
    capacity_id: Id256 | None = Field(description="the capacity whose hours were seized")
    units: int | None = Field(description="GPU-hours seized")
    assets: int = Field(description="stablecoin repaid (liquidation) or written off (bad_debt)")
    shares: int | None = Field(description="borrow shares burnt")
    block_number: int
    block_time: int | None
    tx_hash: str


class LiquidationPage(Page[LiquidationPublic]):
    pass


# ---------------------------------------------------------------------------- transactions


class SupplyRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"example": {"owner": _BORROWER, "assets": 1_000_000_000}})

    owner: Address = Field(description="who deposits and receives the vault shares")
    assets: PoolAmount


class WithdrawRequest(BaseModel):
    owner: Address = Field(description="whose vault shares are burnt; the stablecoin goes to them")
    assets: PoolAmount


class PledgeRequest(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"example": {"borrower": _BORROWER, "capacity_id": 1, "units": 30}}
    )

    borrower: Address
    capacity_id: Id256
    units: PoolAmount


class BorrowRequest(BaseModel):
    borrower: Address = Field(description="whose collateral secures the loan; the stablecoin goes to them")
    assets: PoolAmount


class RepayRequest(BaseModel):
    payer: Address
    borrower: Address = Field(description="whose debt is paid")
    assets: PoolAmount = Field(description=f"base units; {UINT256_MAX} repays exactly what is owed")


class LiquidateRequest(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "liquidator": _LIQUIDATOR,
                "borrower": _BORROWER,
                "capacity_id": 1,
                "seized_units": 10,
            }
        }
    )

    liquidator: Address = Field(description="who repays and receives the seized hours")
    borrower: Address = Field(description="whose unhealthy position is liquidated")
    capacity_id: Id256 = Field(description="which of the position's capacities the hours are seized from")
    seized_units: Uint256 = Field(0, description="GPU-hours to seize; the repayment follows from them")
    repaid_shares: Uint256 = Field(
        0, description="borrow shares to repay; the hours seized follow from them. Exactly one is non-zero"
    )


#: Positions one settle-expired transaction credits at most: a few million gas.
MAX_SETTLE_BORROWERS = 100


class SettleExpiredRequest(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"example": {"caller": _LIQUIDATOR, "capacity_id": 1, "borrowers": [_BORROWER]}}
    )

    caller: Address = Field(description="who sends it: anyone")
    capacity_id: Id256 = Field(description="an ended or cancelled capacity whose hours the pool holds")
    borrowers: list[Address] = Field(
        max_length=MAX_SETTLE_BORROWERS,
        description="the positions to credit with what their pledged hours returned (others are skipped)",
    )


class PoolTxs(BaseModel):
    """The transactions to send, in order. When a step needs an approval first, `transactions` holds
    only the approval and `then` names the step: ask again once the approval is mined (its gas cannot
    be estimated before)."""

    transactions: list[UnsignedTx]
    then: str | None = Field(None, description="the step to ask for again after these are mined")
