"""EIP-712 orders of the Exchange: build, hash and sign them with eth-account."""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address

from backend.chain import eip712
from backend.chain.protocol import OrderKind

DOMAIN_NAME = "gpuhours Exchange"
DOMAIN_VERSION = "1"
ORDER_FIELDS = [
    {"name": "maker", "type": "address"},
    {"name": "kind", "type": "uint8"},
    {"name": "capacityId", "type": "uint256"},
    {"name": "amount", "type": "uint256"},
    {"name": "price", "type": "uint256"},
    {"name": "expiry", "type": "uint256"},
    {"name": "salt", "type": "uint256"},
    {"name": "counter", "type": "uint256"},
]


@dataclass(frozen=True)
class Order:
    maker: str
    kind: OrderKind
    capacity_id: int
    amount: int
    price: int
    expiry: int
    salt: int
    counter: int

    @classmethod
    def new(
        cls,
        maker: str,
        kind: OrderKind,
        capacity_id: int,
        amount: int,
        price: int,
        expiry: int,
        counter: int = 0,
    ) -> Order:
        return cls(
            to_checksum_address(maker),
            OrderKind(kind),
            capacity_id,
            amount,
            price,
            expiry,
            secrets.randbits(256),
            counter,
        )

    def message(self) -> dict[str, Any]:
        return {
            "maker": self.maker,
            "kind": int(self.kind),
            "capacityId": self.capacity_id,
            "amount": self.amount,
            "price": self.price,
            "expiry": self.expiry,
            "salt": self.salt,
            "counter": self.counter,
        }

    def as_tuple(self) -> tuple:
        """The order as the contract's `Order` struct argument."""
        return tuple(self.message().values())

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["kind"] = int(self.kind)
        return d


@dataclass(frozen=True)
class SignedOrder:
    order: Order
    signature: bytes
    hash: bytes


def typed_data(order: Order, chain_id: int, exchange: str) -> dict[str, Any]:
    return eip712.typed_data(
        eip712.domain(DOMAIN_NAME, DOMAIN_VERSION, chain_id, exchange),
        "Order",
        {"Order": ORDER_FIELDS},
        order.message(),
    )


def order_hash(order: Order, chain_id: int, exchange: str) -> bytes:
    """The EIP-712 digest the maker signs; equal to Exchange.hashOrder(order)."""
    return eip712.digest(typed_data(order, chain_id, exchange))


def sign_order(order: Order, account: LocalAccount, chain_id: int, exchange: str) -> SignedOrder:
    if to_checksum_address(account.address) != order.maker:
        raise ValueError(f"order maker {order.maker} is not the signing account {account.address}")
    full_message = typed_data(order, chain_id, exchange)
    return SignedOrder(order, eip712.sign(full_message, account), eip712.digest(full_message))
