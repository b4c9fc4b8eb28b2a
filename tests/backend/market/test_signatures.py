"""Signatures accepted exactly as OpenZeppelin's ECDSA.tryRecover accepts them."""

from __future__ import annotations

from eth_keys import keys

from backend.market.signatures import SECP256K1_HALF_N, recover

DIGEST = bytes(range(32))
KEY = keys.PrivateKey(b"\x01" * 32)


def _signature() -> tuple[int, int, int]:
    sig = KEY.sign_msg_hash(DIGEST)
    return sig.r, sig.s, sig.v + 27


def _pack(r: int, s: int, v: int) -> bytes:
    return r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([v])


def test_recovers_the_signer() -> None:
    assert recover(DIGEST, _pack(*_signature())) == KEY.public_key.to_checksum_address()


def test_refuses_what_try_recover_refuses() -> None:
    r, s, v = _signature()
    n = 2 * SECP256K1_HALF_N + 1
    assert recover(DIGEST, _pack(r, n - s, 55 - v)) is None  # the malleable twin: high s
    assert recover(DIGEST, _pack(r, s, v - 27)) is None  # v 0/1
    assert recover(DIGEST, _pack(r, s, v)[:64]) is None  # 64 bytes
    assert recover(DIGEST, _pack(0, s, v)) is None
