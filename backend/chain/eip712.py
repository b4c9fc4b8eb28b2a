"""What every EIP-712 message of the protocol shares: the domain type and the digest."""

from __future__ import annotations

from typing import Any

from eth_account.messages import encode_typed_data
from eth_utils import keccak

DOMAIN_FIELDS = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]


def digest(full_message: dict[str, Any]) -> bytes:
    """The 32-byte hash a signer signs and a contract's _hashTypedDataV4 computes."""
    signable = encode_typed_data(full_message=full_message)
    return keccak(b"\x19" + signable.version + signable.header + signable.body)
