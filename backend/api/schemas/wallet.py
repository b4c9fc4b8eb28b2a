"""Requests for unsigned transactions, and the transaction a wallet signs."""

from __future__ import annotations

from typing import Annotated, Literal

from annotated_types import Ge, Le
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from backend.api.schemas.types import (
    HASH_PATTERN,
    Address,
    Amount,
    Hash,
    Id256,
    Uint40,
    Uint256,
    json_integer,
)
from backend.chain.gas import describe_margin

OrderHash = Annotated[Hash, Field(description="an order hash a maker posted")]

_TAKER = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"


class UnsignedTx(BaseModel):
    """What the wallet signs and sends: nothing here is signed by the API. `gas` is the node's
    estimate with a margin, so that what other transactions change before this one is mined does
    not run it out of gas; unused gas is refunded."""

    model_config = ConfigDict(
        populate_by_name=True,
        json_schema_extra={
            "example": {
                "from": _TAKER,
                "to": "0xCf7Ed3AccA5a467e9e704C703E8D87F634fB0Fc9",
                "data": "0x8f2a1c5d…",
                "value": 0,
                "gas": 161234,
                "chainId": 31337,
                "nonce": 7,
                "maxFeePerGas": 2000000000,
                "maxPriorityFeePerGas": 1000000000,
            }
        },
    )

    from_: str = Field(alias="from")
    to: str
    data: str
    value: int
    gas: int = Field(
        description=f"gas limit: {describe_margin()}; a wallet may use it as is or estimate its own"
    )
    chainId: int
    nonce: int
    maxFeePerGas: int | None = None
    maxPriorityFeePerGas: int | None = None
    gasPrice: int | None = None


class PermitSignature(BaseModel):
    """An EIP-2612 permit the taker signed (typed data from POST /tx/permit), used in the same fill."""

    value: Uint256
    deadline: Uint256
    v: Annotated[int, Ge(27), Le(28), BeforeValidator(json_integer)]
    r: str = Field(pattern=HASH_PATTERN)
    s: str = Field(pattern=HASH_PATTERN)


class FillRequest(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"example": {"taker": _TAKER, "order_hash": "0x5b1f…", "amount": 4}}
    )

    taker: Address
    order_hash: OrderHash
    amount: Amount = Field(description="GPU-hours to take from the order")
    permit: PermitSignature | None = Field(None, description="pay through a permit instead of an approval")


class BatchFillItem(BaseModel):
    order_hash: OrderHash
    amount: Amount


class BatchFillRequest(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "taker": _TAKER,
                "fills": [{"order_hash": "0x5b1f…", "amount": 4}, {"order_hash": "0x9c0e…", "amount": 2}],
            }
        }
    )

    taker: Address
    fills: list[BatchFillItem] = Field(min_length=1, max_length=64)


class ActivateRequest(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "example": {"holder": _TAKER, "capacity_id": 3, "start": 1_767_261_600, "hours": 8, "gpus": 4}
        }
    )

    holder: Address
    capacity_id: Id256
    start: Uint40 = Field(description="unix time, on an hour boundary inside the window")
    hours: Annotated[int, Ge(1), Le(2**16 - 1), BeforeValidator(json_integer)]
    gpus: Annotated[int, Ge(1), Le(2**8 - 1), BeforeValidator(json_integer)]


class CancelRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"example": {"maker": _TAKER, "order_hashes": ["0x5b1f…"]}})

    maker: Address
    order_hashes: list[OrderHash] = Field(min_length=1, max_length=64)


class MakerRequest(BaseModel):
    maker: Address


class ClaimRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"example": {"account": _TAKER}})

    account: Address = Field(description="whose credit in escrow (refunds, earnings) is withdrawn")
    to: Address | None = Field(None, description="where the stablecoin goes; the account itself by default")


class ApproveRequest(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"example": {"owner": _TAKER, "spender": "exchange", "amount": 1_000_000_000}}
    )

    owner: Address
    spender: Literal["exchange", "escrow"] = Field(description="exchange: to buy; escrow: a provider's bonds")
    amount: Uint256


class PermitRequest(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"example": {"owner": _TAKER, "value": 8_400_000, "deadline": 1_767_261_600}}
    )

    owner: Address
    value: Uint256
    deadline: Uint256


class TypedData(BaseModel):
    """EIP-712 typed data for `eth_signTypedData_v4`."""

    types: dict
    primaryType: str
    domain: dict
    message: dict
