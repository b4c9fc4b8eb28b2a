"""EIP-712 orders as JSON: what a maker posts, what the book shows, what a withdrawal returns.

uint256 fields are accepted as JSON numbers or decimal strings (JavaScript loses integers above
2^53) and returned as decimal strings; the `order` object of a response is the EIP-712 message
exactly as signed, ready for `Exchange.fill`.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    WithJsonSchema,
)
from pydantic.config import JsonDict

from backend.api.schemas.page import Page
from backend.api.schemas.types import UINT256_MAX, Address, Hash, Uint256
from backend.api.schemas.wallet import UnsignedTx
from backend.chain.orders import Order, OrderKind
from backend.db.models import ORDER_KINDS

_DECIMAL = re.compile(r"[0-9]{1,78}")


def _uint256(value: Any) -> int:
    # ValueError throughout: pydantic reports it as a validation error (422), a TypeError it does not.
    malformed = ValueError("must be a non-negative integer, as a JSON number or a decimal string")
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # JSON Schema's integer: 12.0 is 12
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise malformed
    if isinstance(value, str):
        if not _DECIMAL.fullmatch(value):
            raise malformed
        value = int(value)
    if not 0 <= value <= UINT256_MAX:
        raise ValueError("must be between 0 and 2^256 - 1")
    return value


#: A uint256 in a request: a JSON number or a decimal string.
U256In = Annotated[
    int,
    PlainValidator(_uint256),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "integer", "minimum": 0, "maximum": UINT256_MAX},
                {"type": "string", "pattern": "^[0-9]{1,78}$"},
            ],
            "description": "uint256, as a JSON number or a decimal string",
        }
    ),
]
#: A uint256 in a response: always a decimal string.
U256Out = Annotated[
    int,
    PlainSerializer(str, return_type=str),
    WithJsonSchema(
        {"type": "string", "pattern": "^[0-9]{1,78}$", "description": "uint256 as a decimal string"}
    ),
]

HexSignature = Annotated[
    str, Field(pattern=r"^0x([0-9a-fA-F]{2})+$", max_length=1024), AfterValidator(str.lower)
]
OrderHash = Hash

_MAKER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
_MESSAGE: JsonDict = {
    "maker": _MAKER,
    "kind": 0,
    "capacityId": "1",
    "amount": "12",
    "price": "2100000",
    "expiry": "1748782800",
    "salt": "81736415923048218739582357198347329871234987123948712398471239847123984712",
    "counter": "0",
}
_SIGNATURE = "0x" + "5c" * 64 + "1b"
_HASH = "0x3f0a4b5e6c7d8e9fa0b1c2d3e4f5061728394a5b6c7d8e9f0a1b2c3d4e5f6071"


class OrderBase(BaseModel):
    """The EIP-712 `Order` message of the Exchange, field for field."""

    model_config = ConfigDict(populate_by_name=True)

    maker: Address
    kind: OrderKind = Field(
        description="0 primary sell (the provider mints), 1 sell (a holder resells), 2 buy"
    )
    capacity_id: U256In = Field(alias="capacityId")
    amount: U256In = Field(description="GPU-hours")
    price: U256In = Field(description="stablecoin base units per GPU-hour")
    expiry: U256In = Field(description="unix seconds; the order cannot be filled after it")
    salt: U256In
    counter: U256In = Field(description="the maker's counter on the Exchange when signing")

    def to_order(self) -> Order:
        return Order(
            self.maker,
            OrderKind(self.kind),
            self.capacity_id,
            self.amount,
            self.price,
            self.expiry,
            self.salt,
            self.counter,
        )


class OrderCreate(OrderBase):
    signature: HexSignature = Field(
        description="the maker's EIP-712 signature (65 bytes), or any bytes its ERC-1271 contract accepts"
    )
    chain_id: Uint256 | None = Field(
        None,
        alias="chainId",
        description="the domain's chainId the maker signed "
        "for; checked when given, so a wrong domain is named as such",
    )
    verifying_contract: Address | None = Field(
        None, alias="verifyingContract", description="the domain's verifyingContract; checked when given"
    )

    model_config = ConfigDict(
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    **_MESSAGE,
                    "signature": _SIGNATURE,
                    "chainId": 31337,
                    "verifyingContract": "0xCf7Ed3AccA5a467e9e704C703E8D87F634fB0Fc9",
                }
            ]
        },
    )


_ORDER: JsonDict = {
    "hash": _HASH,
    "chain_id": 31337,
    "order": _MESSAGE,
    "signature": _SIGNATURE,
    "kind": "primary_sell",
    "state": "partially_filled",
    "filled": "8",
    "remaining": "4",
    "posted_at": 1748779200.0,
}


class OrderMessage(BaseModel):
    """The order as signed, uint256 values as decimal strings."""

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    maker: str
    kind: int
    capacity_id: U256Out = Field(alias="capacityId")
    amount: U256Out
    price: U256Out
    expiry: U256Out
    salt: U256Out
    counter: U256Out


class OrderPublic(BaseModel):
    hash: str = Field(description="the EIP-712 digest, Exchange.hashOrder(order)")
    chain_id: int
    order: OrderMessage
    signature: str
    kind: str = Field(description=" | ".join(ORDER_KINDS))
    state: str = Field(
        description="open | partially_filled | filled | cancelled | expired | withdrawn: the order now, "
        "on chain (filled, cancelled) and on this book (withdrawn by its maker, expired)"
    )
    filled: U256Out
    remaining: U256Out
    posted_at: float

    model_config = ConfigDict(json_schema_extra={"examples": [_ORDER]})


class OrderPage(Page[OrderPublic]):
    """Orders, newest first."""


class OrderWithdrawn(BaseModel):
    order: OrderPublic
    cancel_tx: UnsignedTx = Field(
        description="Exchange.cancel([order]) from the maker: the only cancel that "
        "binds; until it is mined the signed order can still be filled "
        "by anyone who holds it"
    )

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "order": {
                        **_ORDER,
                        "status": "withdrawn",
                        "state": "withdrawn",
                    },
                    "cancel_tx": {
                        "from": _MAKER,
                        "to": "0xCf7Ed3AccA5a467e9e704C703E8D87F634fB0Fc9",
                        "data": "0x6f0e1f3a" + "00" * 32,
                        "value": 0,
                        "gas": 61234,
                        "chainId": 31337,
                        "nonce": 7,
                        "maxFeePerGas": 2000000000,
                        "maxPriorityFeePerGas": 1000000000,
                    },
                }
            ]
        }
    )
