"""Capacities as the market shows them: windows of a node's GPU-hours with their best prices, the
escrow behind them and their order books.

Amounts and prices are integers in the stablecoin's base units (6 decimals: 2100000 = 2.10 per
GPU-hour); units are GPU-hours. uint256 values are JSON numbers: exact in Python and most JSON
libraries, but JavaScript's `Number` loses precision above 2^53 (read them with a big-integer
parser there). Times are unix seconds.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

from backend.api.schemas.nodes import NodeSummary
from backend.api.schemas.page import Page

_MAKER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
_NODE: JsonDict = {
    "node_id": 1,
    "owner": _MAKER,
    "gpu_model": "H100-SXM5-80GB",
    "gpu_count": 4,
    "vram_gb": 80,
    "region": "eu-west",
    "interconnect": "NVLink",
}
_CAPACITY: JsonDict = {
    "capacity_id": 3,
    "node_id": 1,
    "provider": _MAKER,
    "start": 1748782800,
    "end": 1748797200,
    "hours": 4,
    "status": "active",
    "close_reason": "none",
    "supply_cap": 16,
    "minted": 4,
    "supply": 4,
    "units_available": 12,
    "activated": 0,
    "bond": 160000000,
    "unit_backing": 2100000,
    "created_block": 42,
    "created_time": 1748775600,
    "node": _NODE,
    "best_ask": 2300000,
    "best_bid": 1900000,
    "reliability_bps": 9850,
    "epochs_attested": 312,
}


class CapacityPublic(BaseModel):
    """A delivery window of a node: one ERC-1155 id, 1 unit = 1 GPU-hour."""

    model_config = ConfigDict(json_schema_extra={"examples": [_CAPACITY]})

    capacity_id: int
    node_id: int
    provider: str
    start: int = Field(description="window start, unix seconds (a whole hour)")
    end: int = Field(description="window end, unix seconds")
    hours: int = Field(description="hours in the window")
    status: str = Field(description="active, cancelled or closed")
    close_reason: str = Field(
        description="none, completed, expired_unused, provider_failed, liquidated or provider_cancelled"
    )
    supply_cap: int = Field(description="GPUs × hours: the most GPU-hours that can ever exist at once")
    minted: int = Field(description="GPU-hours minted so far (primary sales)")
    supply: int = Field(description="GPU-hours held now (minted − burned)")
    units_available: int = Field(description="GPU-hours the provider can still mint: supply_cap − minted")
    activated: int = Field(description="GPU-hours burned into bookings")
    bond: int = Field(description="bond posted at creation, base units")
    unit_backing: int = Field(
        description="stablecoin escrowed behind every unit, fixed at creation: what a "
        "holder gets back for an hour not delivered, whatever it paid"
    )
    created_block: int
    created_time: int | None
    node: NodeSummary
    best_ask: int | None = Field(
        description="lowest price of an open primary sell or sell order, base units "
        "per GPU-hour; null when none"
    )
    best_bid: int | None = Field(description="highest price of an open buy order; null when none")
    reliability_bps: int = Field(
        description="the node's uptime weighted toward recent hours, unattested hours "
        "counting 0 (AttestationOracle.reliabilityBps, half-life a week), "
        "up to its last attested hour; 0 when never attested"
    )
    epochs_attested: int = Field(description="attested hours of the node, all windows")


class CapacityPage(Page[CapacityPublic]):
    """Capacities matching the filters, in the order asked for."""


class EscrowFundsPublic(BaseModel):
    """Escrow.funds(capacityId) as indexed."""

    backing: int = Field(description="unit backing × units sold and not yet paid out")
    bond: int = Field(description="the provider's bond still held")
    refundable_units: int = Field(description="GPU-hours refundable after a cancel")
    penalty_per_unit: int = Field(
        description="bond each unit refunded after a cancel takes besides its backing"
    )
    premium: int = Field(
        description="primary sales above the backing, held until the window settles: "
        "paid for delivered hours, the rest to the treasury"
    )
    released: int = Field(description="paid out to the provider so far")
    refunded: int = Field(description="credited back to holders so far")
    slashed: int = Field(description="bond slashed to holders so far")


class BookingsSummary(BaseModel):
    count: int
    open: int = Field(description="bookings not closed yet")
    gpu_hours: int = Field(description="Σ gpus × hours of every booking")
    by_close_reason: dict[str, int]
    settled: int = Field(description="bookings settled by the Settlement contract")
    delivered_hours: int = Field(description="Σ delivered hours of settled bookings")
    failed_hours: int = Field(description="Σ failed hours of settled bookings")
    paid: int = Field(description="Σ paid to the provider for settled bookings")
    refunded: int = Field(description="Σ refunded to holders for settled bookings")
    slashed: int = Field(description="Σ bond slashed to holders for settled bookings")


class CapacityDetail(CapacityPublic):
    """A capacity with its escrow, bookings and how it ended."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    **_CAPACITY,
                    "status": "closed",
                    "close_reason": "completed",
                    "best_ask": None,
                    "best_bid": None,
                    "redeemed": 0,
                    "expired": 0,
                    "units_sold_at_cancel": None,
                    "closed_block": 97,
                    "delivered_hours": 4,
                    "failed_hours": 0,
                    "escrow": {
                        "backing": 0,
                        "bond": 0,
                        "refundable_units": 0,
                        "penalty_per_unit": 0,
                        "premium": 0,
                        "released": 8316000,
                        "refunded": 0,
                        "slashed": 0,
                    },
                    "bookings": {
                        "count": 1,
                        "open": 0,
                        "gpu_hours": 4,
                        "by_close_reason": {"completed": 1},
                        "settled": 1,
                        "delivered_hours": 4,
                        "failed_hours": 0,
                        "paid": 8316000,
                        "refunded": 0,
                        "slashed": 0,
                    },
                }
            ]
        }
    )

    redeemed: int = Field(description="GPU-hours refunded after a cancel")
    expired: int = Field(description="GPU-hours expired unused after the window")
    units_sold_at_cancel: int | None
    closed_block: int | None
    delivered_hours: int | None = Field(description="window hours attested as delivered (once settled)")
    failed_hours: int | None = Field(description="window hours attested as failed (once settled)")
    escrow: EscrowFundsPublic | None
    bookings: BookingsSummary


class BookLevel(BaseModel):
    price: int = Field(description="base units per GPU-hour")
    remaining: int = Field(description="GPU-hours still fillable at this price")
    orders: int


class BookOrder(BaseModel):
    order_hash: str
    maker: str
    kind: str = Field(description="primary_sell, sell or buy")
    price: int
    amount: int
    remaining: int
    expiry: int


class BookSide(BaseModel):
    levels: list[BookLevel] = Field(description="best first, at most `depth`")
    orders: list[BookOrder] = Field(
        description="the best orders, at most `depth`, best price first, then earliest posted"
    )


class OrderBook(BaseModel):
    """Open posted orders of a capacity, by price level. Asks are primary sells and resales."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "capacity_id": 3,
                    "depth": 10,
                    "as_of": 1748779200,
                    "asks": {
                        "levels": [{"price": 2300000, "remaining": 12, "orders": 2}],
                        "orders": [
                            {
                                "order_hash": "0x" + "ab" * 32,
                                "maker": _MAKER,
                                "kind": "primary_sell",
                                "price": 2300000,
                                "amount": 10,
                                "remaining": 8,
                                "expiry": 1748782800,
                            }
                        ],
                    },
                    "bids": {
                        "levels": [{"price": 1900000, "remaining": 4, "orders": 1}],
                        "orders": [
                            {
                                "order_hash": "0x" + "cd" * 32,
                                "maker": _MAKER,
                                "kind": "buy",
                                "price": 1900000,
                                "amount": 4,
                                "remaining": 4,
                                "expiry": 1748782800,
                            }
                        ],
                    },
                }
            ]
        }
    )

    capacity_id: int
    depth: int
    as_of: int = Field(description="the market time the book was read at (unix seconds)")
    asks: BookSide
    bids: BookSide
