"""Whose signature an order carries, accepted exactly as the Exchange accepts it at fill time."""

from __future__ import annotations

from eth_keys import keys
from eth_keys.exceptions import BadSignature, ValidationError
from eth_utils import to_checksum_address

from backend.chain.client import Market

SECP256K1_HALF_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141 // 2
ERC1271_MAGIC = bytes.fromhex("1626ba7e")
ERC1271_ABI = [
    {
        "name": "isValidSignature",
        "type": "function",
        "stateMutability": "view",
        "inputs": [{"name": "hash", "type": "bytes32"}, {"name": "signature", "type": "bytes"}],
        "outputs": [{"name": "", "type": "bytes4"}],
    }
]


def recover(digest: bytes, signature: bytes) -> str | None:
    """The signer of `digest`, accepted exactly as OpenZeppelin's ECDSA.tryRecover does (v 27/28,
    low s), or None."""
    if len(signature) != 65:
        return None
    r, s, v = int.from_bytes(signature[:32]), int.from_bytes(signature[32:64]), signature[64]
    if v not in (27, 28) or s > SECP256K1_HALF_N or r == 0 or s == 0:
        return None
    try:
        key = keys.Signature(vrs=(v - 27, r, s)).recover_public_key_from_msg_hash(digest)
    except (BadSignature, ValidationError, ValueError):
        return None
    return key.to_checksum_address()


def signed_by(market: Market, maker: str, digest: bytes, signature: bytes) -> bool:
    """Exchange._verifySignature: ECDSA by the maker, else ERC-1271 when the maker is a contract."""
    if recover(digest, signature) == maker:
        return True
    address = to_checksum_address(maker)  # as the order's maker already is
    if not market.w3.eth.get_code(address):
        return False
    wallet = market.w3.eth.contract(address=address, abi=ERC1271_ABI)
    try:
        return bytes(wallet.functions.isValidSignature(digest, signature).call()) == ERC1271_MAGIC
    except Exception:  # noqa: BLE001 — a wallet that reverts or answers garbage did not sign
        return False
