"""Keccak Merkle trees that OpenZeppelin's `MerkleProof.verify` accepts, built like `StandardMerkleTree`.

Same rules as @openzeppelin/merkle-tree, so a root made here can be checked by the JS library and a
proof made here by the Solidity one:
- a leaf is keccak256(keccak256(abi.encode(values))): hashing twice keeps a 64-byte leaf from ever
  being mistaken for an inner node (second-preimage attack);
- an inner node is keccak256 of its two children sorted as bytes (commutative), so a proof is just
  the sibling hashes, with no left/right flags;
- leaves are sorted by hash, then laid out as a complete binary tree in an array (root at 0, the
  children of i at 2i+1 and 2i+2, leaf j at the end in reverse order).

The hash is keccak256 unless a tree is built with another (`hasher=sha256`), for commitments only
Python ever checks.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from eth_abi import encode

# The C keccak (safe-pysha3) is ~5x faster than eth_hash's default; an hour of samples is ~10^5 hashes.
from eth_hash.backends.pysha3 import keccak256 as keccak

Hasher = Callable[[bytes], bytes]


def sha256(data: bytes) -> bytes:
    """For trees that never go on chain (the proof-of-compute row commitment): far faster here."""
    return hashlib.sha256(data).digest()


class MerkleError(ValueError):
    """A tree with no leaves, or a proof asked for a value the tree does not hold."""


def _word(kind: str, value: Any) -> bytes | None:
    """One static ABI word, or None when the type needs the general encoder."""
    if kind == "bytes32" and isinstance(value, bytes) and len(value) == 32:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        if kind.startswith("uint"):
            bits = int(kind[4:] or 256)
            if 0 <= value < 1 << bits:
                return value.to_bytes(32, "big")
        elif kind.startswith("int"):
            bits = int(kind[3:] or 256)
            if -(1 << (bits - 1)) <= value < 1 << (bits - 1):
                return value.to_bytes(32, "big", signed=True)
    return None


def abi_encode(types: Sequence[str], values: Sequence[Any]) -> bytes:
    """abi.encode(values). Integers and bytes32 (every leaf here) are packed directly, as eth_abi
    would, at a fraction of its cost; anything else, or a value out of range, goes to eth_abi,
    which encodes it or raises."""
    if len(types) == len(values):
        words = [_word(t, v) for t, v in zip(types, values, strict=True)]
        if all(w is not None for w in words):
            return b"".join(words)  # type: ignore[arg-type]
    return encode(list(types), list(values))


def leaf_hash(types: Sequence[str], values: Sequence[Any]) -> bytes:
    """keccak256(bytes.concat(keccak256(abi.encode(values)))), as OZ StandardMerkleTree."""
    return keccak(keccak(abi_encode(types, values)))


def node_hash(a: bytes, b: bytes, hasher: Hasher = keccak) -> bytes:
    """OZ's commutative pair hash: keccak256 of the two children, smaller first."""
    return hasher(a + b) if a <= b else hasher(b + a)


def process_proof(proof: Iterable[bytes], leaf: bytes, hasher: Hasher = keccak) -> bytes:
    """The root that `leaf` and `proof` lead to (MerkleProof.processProof)."""
    computed = leaf
    for sibling in proof:
        computed = node_hash(computed, sibling, hasher)
    return computed


def verify(proof: Iterable[bytes], root: bytes, leaf: bytes, hasher: Hasher = keccak) -> bool:
    """MerkleProof.verify(proof, root, leaf)."""
    return process_proof(proof, leaf, hasher) == root


class MerkleTree:
    """A tree over leaf hashes; `of(types, values)` builds one over ABI-encoded values."""

    def __init__(self, leaves: Sequence[bytes], sort_leaves: bool = True, hasher: Hasher = keccak) -> None:
        if not leaves:
            raise MerkleError("a Merkle tree needs at least one leaf")
        for leaf in leaves:
            if len(leaf) != 32:
                raise MerkleError(f"a leaf is 32 bytes, got {len(leaf)}")
        order = sorted(range(len(leaves)), key=lambda i: leaves[i]) if sort_leaves else range(len(leaves))
        size = 2 * len(leaves) - 1
        tree: list[bytes] = [b""] * size
        # leaf_position[i]: where the i-th leaf as given sits in the array.
        self.leaf_position = [0] * len(leaves)
        for rank, i in enumerate(order):
            position = size - 1 - rank
            tree[position] = leaves[i]
            self.leaf_position[i] = position
        for i in range(size - 1 - len(leaves), -1, -1):
            tree[i] = node_hash(tree[2 * i + 1], tree[2 * i + 2], hasher)
        self.tree = tree
        self.leaves = list(leaves)

    @classmethod
    def of(cls, types: Sequence[str], values: Iterable[Sequence[Any]]) -> MerkleTree:
        return cls([leaf_hash(types, v) for v in values])

    @property
    def root(self) -> bytes:
        return self.tree[0]

    def proof(self, i: int) -> list[bytes]:
        """Sibling hashes from the i-th leaf (in the order given) up to the root."""
        if not 0 <= i < len(self.leaves):
            raise MerkleError(f"leaf {i} is not in a tree of {len(self.leaves)}")
        position = self.leaf_position[i]
        proof = []
        while position > 0:
            sibling = position + 1 if position % 2 == 1 else position - 1
            proof.append(self.tree[sibling])
            position = (position - 1) // 2
        return proof


def root_or_zero(types: Sequence[str], values: Sequence[Sequence[Any]]) -> bytes:
    """The root over `values`, or 32 zero bytes when there are none (an epoch with no samples)."""
    return MerkleTree.of(types, values).root if values else b"\x00" * 32
