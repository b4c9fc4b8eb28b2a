"""A proof-of-compute challenge on the wire between the agent (the prover) and the oracle node (the verifier).

The agent answers `run` with a RunResult, whose commitment is the root of a Merkle tree over C's rows,
and `reveal` with RevealedRows, each row with its proof against that root. Both sides hash a row into
its leaf with `row_leaf`: the agent to commit, the node to check.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from oracle.protocol.merkle import sha256


def row_leaf(index: int, row: np.ndarray) -> bytes:
    """sha256(sha256(uint64 index ‖ row as little-endian floats)): hashed twice, as OZ leaves are."""
    h = hashlib.sha256(int(index).to_bytes(8, "big"))
    h.update(np.ascontiguousarray(row, dtype=row.dtype.newbyteorder("<")).data)
    return sha256(h.digest())


@dataclass(frozen=True)
class RunResult:
    challenge_id: str
    n: int
    dtype: str
    backend: str
    device: str
    gpu_uuid: str | None
    compute_seconds: float  # the agent's own measure of the product; the oracle times the call itself
    energy_mj_before: int | None
    energy_mj_after: int | None
    commitment: bytes


@dataclass(frozen=True)
class RevealedRows:
    rows: list[int]
    data: np.ndarray  # len(rows) × n
    proofs: list[list[bytes]]
