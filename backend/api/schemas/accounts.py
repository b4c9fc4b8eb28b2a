"""What an address holds in the market: GPU-hours per capacity, bookings and how they ended, escrow
credit. Amounts are integers in base units (JSON numbers; above 2^53 read them with a big-integer
parser in JavaScript); booking ids are uint256 and may exceed 2^53. Times are unix seconds."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

from backend.api.schemas.page import Page

_HOLDER = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"
_POSITION: JsonDict = {
    "capacity_id": 3,
    "amount": 8,
    "node_id": 1,
    "gpu_class": "H100-SXM5-80GB",
    "start": 1748782800,
    "end": 1748797200,
    "status": "active",
    "close_reason": "none",
    "mark_price": 2200000,
    "mark_value": 17600000,
}
_BOOKING: JsonDict = {
    "booking_id": 1,
    "capacity_id": 3,
    "holder": _HOLDER,
    "start": 1748782800,
    "hours": 3,
    "gpus": 1,
    "close_reason": "provider_failed",
    "activated_block": 60,
    "closed_block": 90,
    "settled": True,
    "delivered_hours": 1,
    "failed_hours": 2,
    "paid": 2079000,
    "refunded": 4200000,
    "slashed": 1000000,
}


class PositionPublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_POSITION]})

    capacity_id: int
    amount: int = Field(description="GPU-hours held")
    node_id: int
    gpu_class: str
    start: int
    end: int
    status: str
    close_reason: str
    mark_price: int | None = Field(description="the oracle's latest mark price of the class, per GPU-hour")
    mark_value: int | None = Field(description="amount × mark_price")


class BookingPublic(BaseModel):
    """N GPUs for H hours of a capacity, and how the booking ended and was settled."""

    model_config = ConfigDict(json_schema_extra={"examples": [_BOOKING]})

    booking_id: int
    capacity_id: int
    holder: str
    start: int
    hours: int
    gpus: int
    close_reason: str
    activated_block: int
    closed_block: int | None
    settled: bool
    delivered_hours: int | None
    failed_hours: int | None
    paid: int | None = Field(description="paid to the provider for this booking")
    refunded: int | None = Field(description="refunded to the holder")
    slashed: int | None = Field(description="bond slashed to the holder")


class BookingPage(Page[BookingPublic]):
    """Bookings, newest first."""


class Positions(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "address": _HOLDER,
                    "claimable": 4200000,
                    "credited": 9400000,
                    "withdrawn": 5200000,
                    "open_orders": 2,
                    "positions": [_POSITION],
                    "positions_total": 1,
                    "limit": 50,
                    "offset": 0,
                    "bookings": [_BOOKING],
                    "bookings_total": 1,
                }
            ]
        }
    )

    address: str
    claimable: int = Field(description="Escrow.claimable: credited and not yet withdrawn")
    credited: int
    withdrawn: int
    open_orders: int = Field(description="posted orders of this maker that can still be filled")
    positions: list[PositionPublic] = Field(description="balances, by capacity id; a page of them")
    positions_total: int
    limit: int
    offset: int
    bookings: list[BookingPublic] = Field(description="the newest bookings, at most `limit`")
    bookings_total: int
