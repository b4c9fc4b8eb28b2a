"""Prices per GPU class (a node's GPU model) from executed fills, and the oracle's mark price.

Prices are integers in the stablecoin's base units per GPU-hour (JSON numbers; exact in Python, read
them with a big-integer parser in JavaScript above 2^53); volumes are GPU-hours; times unix seconds.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

from backend.api.schemas.page import Page

_PRICE: JsonDict = {
    "gpu_class": "H100-SXM5-80GB",
    "last_price": 2400000,
    "last_time": 1748779260,
    "vwap_24h": 2250000,
    "volume_24h": 96,
    "fills_24h": 7,
    "mark_price": 2200000,
    "mark_epoch": 485773,
}
_FILL: JsonDict = {
    "block_number": 51,
    "log_index": 3,
    "block_time": 1748779260,
    "tx_hash": "0x" + "3c" * 32,
    "order_hash": "0x" + "ab" * 32,
    "maker": "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
    "taker": "0x90F79bf6EB2c4f870365E785982E1f101E93b906",
    "capacity_id": 3,
    "kind": "primary_sell",
    "amount": 8,
    "price": 2100000,
    "fee": 168000,
}


class PricePublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_PRICE]})

    gpu_class: str = Field(description="a GPU model of registered nodes; every one is listed, traded or not")
    last_price: int | None = Field(description="price of the class's latest fill; null when it never traded")
    last_time: int | None
    vwap_24h: int | None = Field(
        description="Σ amount × price ÷ Σ amount over the fills of the last 24 h, "
        "rounded down; null without fills"
    )
    volume_24h: int = Field(description="GPU-hours filled in the last 24 h")
    fills_24h: int
    mark_price: int | None = Field(description="the oracle's latest mark price (MarkPriceSet) for the class")
    mark_epoch: int | None


class PriceList(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [_PRICE], "as_of": 1748779300, "source": "fills"}]}
    )

    items: list[PricePublic]
    as_of: int = Field(description="end of the 24 h window (unix seconds)")
    source: Literal["index", "fills"] = Field(
        description="`index`: the periodic price-index task's rows, fresh; `fills`: computed for this request"
    )


class FillPublic(BaseModel):
    """An executed order (Exchange.OrderFilled)."""

    model_config = ConfigDict(json_schema_extra={"examples": [_FILL]})

    block_number: int
    log_index: int
    block_time: int | None
    tx_hash: str
    order_hash: str
    maker: str
    taker: str
    capacity_id: int
    kind: str = Field(description="primary_sell, sell or buy")
    amount: int = Field(description="GPU-hours")
    price: int = Field(description="base units per GPU-hour")
    fee: int


class FillPage(Page[FillPublic]):
    """Fills, newest first."""
