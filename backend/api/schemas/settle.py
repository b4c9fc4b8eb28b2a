"""Requests for settlement transactions: anyone may settle a booking or a window once it is due."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from backend.api.schemas.types import Address, Id256, StoreId

_SENDER = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"


class SettleBookingRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"example": {"sender": _SENDER, "booking_id": 50_331_649}})

    sender: Address = Field(description="the account that signs and pays the gas; anyone may settle")
    booking_id: Id256 = Field(description="a booking whose last hour ended maxDelay ago")


class SettleUnusedRequest(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "sender": _SENDER,
                "capacity_id": 3,
                "holders": ["0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65"],
            }
        }
    )

    sender: Address = Field(description="the account that signs and pays the gas; anyone may settle")
    capacity_id: StoreId
    holders: list[Address] | None = Field(
        None,
        min_length=1,
        max_length=200,
        description="whose unused hours to settle; when left out, the holders the index shows (up to 200)",
    )


class SettleCapacityRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"example": {"sender": _SENDER, "capacity_id": 3}})

    sender: Address = Field(description="the account that signs and pays the gas; anyone may settle")
    capacity_id: StoreId = Field(description="an ended capacity whose every sold unit is settled")


class EndBookingRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"example": {"sender": _SENDER, "booking_id": 50_331_649}})

    sender: Address = Field(description="the booking's holder: only it may end the booking")
    booking_id: Id256 = Field(description="a running booking with hours not yet started")
