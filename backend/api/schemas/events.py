"""The live stream's events: one indexed chain log each, as `data:` of a Server-Sent Event."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

EXAMPLE: JsonDict = {
    "id": 118,
    "contract": "Exchange",
    "event": "OrderFilled",
    "block": 51,
    "block_hash": "0x" + "7d" * 32,
    "time": 1748779260,
    "tx": "0x" + "3c" * 32,
    "log_index": 3,
    "address": "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0",
    "args": {
        "orderHash": "0x" + "ab" * 32,
        "maker": "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
        "taker": "0x90F79bf6EB2c4f870365E785982E1f101E93b906",
        "capacityId": 3,
        "kind": 0,
        "amount": 8,
        "price": 2100000,
        "fee": 168000,
    },
}


class StreamEvent(BaseModel):
    """`id:` is the same id; `event:` is `<contract>.<event>`."""

    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE]})

    id: int = Field(description="the store's event id: increasing; send it back as Last-Event-ID to resume")
    contract: str
    event: str
    block: int
    block_hash: str
    time: int | None = Field(description="block timestamp, unix seconds")
    tx: str
    log_index: int
    address: str
    args: dict[str, Any] = Field(
        description="the decoded event arguments: ints as JSON numbers, bytes as 0x hex, structs as objects"
    )
