"""Requests for unsigned transactions, and the transaction a wallet signs."""

from __future__ import annotations

from typing import Annotated, Literal

from eth_utils import is_address, to_checksum_address
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

HASH_PATTERN = r"^0x[0-9a-fA-F]{64}$"


def _address(value: str) -> str:
    if not is_address(value):
        raise ValueError(f"{value!r} is not an address (0x and 40 hex digits, EIP-55 checksum if mixed case)")
    return to_checksum_address(value)


Address = Annotated[str, AfterValidator(_address)]
OrderHash = Annotated[str, Field(pattern=HASH_PATTERN, description="an order hash a maker posted")]
Uint = Annotated[int, Field(ge=0, lt=2**256)]

_TAKER = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"


class UnsignedTx(BaseModel):
    """What the wallet signs and sends: nothing here is signed by the API."""

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
    gas: int
    chainId: int
    nonce: int
    maxFeePerGas: int | None = None
    maxPriorityFeePerGas: int | None = None
    gasPrice: int | None = None


class PermitSignature(BaseModel):
    """An EIP-2612 permit the taker signed (typed data from POST /tx/permit), used in the same fill."""

    value: Uint
    deadline: Uint
    v: int = Field(ge=27, le=28)
    r: str = Field(pattern=HASH_PATTERN)
    s: str = Field(pattern=HASH_PATTERN)


class FillRequest(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"example": {"taker": _TAKER, "order_hash": "0x5b1f…", "amount": 4}}
    )

    taker: Address
    order_hash: OrderHash
    amount: int = Field(gt=0, lt=2**128, description="GPU-hours to take from the order")
    permit: PermitSignature | None = Field(None, description="pay through a permit instead of an approval")


class BatchFillItem(BaseModel):
    order_hash: OrderHash
    amount: int = Field(gt=0, lt=2**128)


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
    capacity_id: int = Field(gt=0)
    start: int = Field(ge=0, lt=2**40, description="unix time, on an hour boundary inside the window")
    hours: int = Field(gt=0, lt=2**16)
    gpus: int = Field(gt=0, lt=2**8)


class CancelRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"example": {"maker": _TAKER, "order_hashes": ["0x5b1f…"]}})

    maker: Address
    order_hashes: list[OrderHash] = Field(min_length=1, max_length=64)


class MakerRequest(BaseModel):
    maker: Address


class ApproveRequest(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"example": {"owner": _TAKER, "spender": "exchange", "amount": 1_000_000_000}}
    )

    owner: Address
    spender: Literal["exchange", "escrow"] = Field(description="exchange: to buy; escrow: a provider's bonds")
    amount: Uint


class PermitRequest(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"example": {"owner": _TAKER, "value": 8_400_000, "deadline": 1_767_261_600}}
    )

    owner: Address
    value: Uint
    deadline: Uint


class TypedData(BaseModel):
    """EIP-712 typed data for `eth_signTypedData_v4`."""

    types: dict
    primaryType: str
    domain: dict
    message: dict
