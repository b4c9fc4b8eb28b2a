"""What every EIP-712 message of the protocol shares: the domain, the typed-data shape, digest, signing.

Orders (backend/chain/orders.py), oracle reports (oracle/protocol/report.py) and the stablecoin's permits
(backend/api/routes/wallet.py) only add their own struct types and message.
"""

from __future__ import annotations

from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from eth_utils import keccak, to_checksum_address

Fields = list[dict[str, str]]

#: EIP-2612 `Permit`, as OpenZeppelin's ERC20Permit (MockUSDC) hashes it.
PERMIT_FIELDS: Fields = [
    {"name": "owner", "type": "address"},
    {"name": "spender", "type": "address"},
    {"name": "value", "type": "uint256"},
    {"name": "nonce", "type": "uint256"},
    {"name": "deadline", "type": "uint256"},
]

DOMAIN_FIELDS: Fields = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]


def domain(name: str, version: str, chain_id: int, verifying_contract: str) -> dict[str, Any]:
    """The domain as OpenZeppelin's EIP712(name, version) builds it on `chain_id` at that address."""
    return {
        "name": name,
        "version": version,
        "chainId": chain_id,
        "verifyingContract": to_checksum_address(verifying_contract),
    }


def typed_data(
    domain: dict[str, Any], primary_type: str, types: dict[str, Fields], message: dict[str, Any]
) -> dict[str, Any]:
    """The full message eth_signTypedData_v4 takes: `types` are the structs beside EIP712Domain."""
    return {
        "types": {"EIP712Domain": DOMAIN_FIELDS, **types},
        "primaryType": primary_type,
        "domain": domain,
        "message": message,
    }


def type_string(name: str, fields: Fields) -> str:
    """A struct's encodeType without its referenced types: `Name(type1 name1,type2 name2)`."""
    return f"{name}({','.join(f['type'] + ' ' + f['name'] for f in fields)})"


def digest(full_message: dict[str, Any]) -> bytes:
    """The 32-byte hash a signer signs and a contract's _hashTypedDataV4 computes."""
    signable = encode_typed_data(full_message=full_message)
    return keccak(b"\x19" + signable.version + signable.header + signable.body)


def sign(full_message: dict[str, Any], account: LocalAccount) -> bytes:
    """65-byte signature (r ‖ s ‖ v) over the message's digest."""
    return bytes(Account.sign_typed_data(account.key, full_message=full_message).signature)


def recover(full_message: dict[str, Any], signature: bytes) -> ChecksumAddress:
    """The address that made `signature` over this message."""
    signable = encode_typed_data(full_message=full_message)
    return to_checksum_address(Account.recover_message(signable, signature=signature))
