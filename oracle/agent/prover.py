"""Proof of compute, the agent's half: derive A and B, multiply them on the GPU, commit to C.

A challenge runs in three calls so that the clock measures the product and nothing else:

1. `prepare(seed, n)`: derive A and B (freivalds.derive_matrices) and move them to the device.
   Untimed: it is O(n^2) work that says nothing about the GPU.
2. `run(id, salt)`: flip the signs of B's rows by the salt, compute C = A·diag(s)·B, and commit to
   C by a Merkle root over its rows. The salt arrives only now, so C could not be precomputed; the
   oracle times this call from its side, and the commitment binds C before step 3.
3. `reveal(id, rows)`: the rows of C the oracle picked, each with its Merkle proof.

The commitment is a Merkle tree shaped like OpenZeppelin's (oracle/protocol/merkle.py) but hashed
with sha256, since only the oracle checks it: leaf i = sha256(sha256(uint64 i ‖ row i as
little-endian floats)), the leaf both sides hash (oracle/protocol/challenge.py). The index is in the
leaf, so a row cannot be passed off as another. C itself never crosses the network, so n can be
large enough for the GPU time to dominate the network time (8192-16384 on data-centre GPUs). What the
oracle times is the product plus the commitment (O(n^2) hashing on the host): a lower bound on the
GPU's speed, tighter the larger n is.

Backends, fastest first: torch with CUDA, CuPy, NumPy (CPU). TF32 is switched off for torch (CuPy
leaves it off unless CUPY_TF32=1): the benchmark is FP32, and TF32 products fail the tolerance.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
import time
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from oracle.agent.telemetry.source import TelemetrySource
from oracle.protocol.challenge import RevealedRows, RunResult, row_leaf
from oracle.protocol.freivalds import DEFAULT_DTYPE, ChallengeError, derive_matrices, row_signs
from oracle.protocol.merkle import MerkleTree, sha256

log = logging.getLogger(__name__)


class UnknownChallenge(ChallengeError):
    """No prepared challenge has this id (never prepared, expired, or already revealed)."""


# Backends --------------------------------------------------------------------------------------


class MatmulBackend(ABC):
    """Computes C = A·diag(signs)·B somewhere, timing only the product."""

    name: str
    device: str

    @abstractmethod
    def load(self, a: np.ndarray, b: np.ndarray) -> Any:
        """Move A and B to the device; the result is passed back to `multiply`."""

    @abstractmethod
    def multiply(self, loaded: Any, signs: np.ndarray) -> tuple[np.ndarray, float]:
        """(C on the host, seconds of device time for the signed product)."""


class NumpyBackend(MatmulBackend):
    name = "numpy"

    def __init__(self) -> None:
        self.device = "cpu"

    def load(self, a: np.ndarray, b: np.ndarray) -> Any:
        return a, b

    def multiply(self, loaded: Any, signs: np.ndarray) -> tuple[np.ndarray, float]:
        a, b = loaded
        start = time.perf_counter()
        c = a @ (b * signs[:, None])
        return c, time.perf_counter() - start


class TorchBackend(MatmulBackend):  # pragma: no cover - needs a CUDA GPU
    name = "torch"

    def __init__(self, gpu: int = 0) -> None:
        import torch

        self._torch = torch
        self._dev = torch.device(f"cuda:{gpu}")
        self.device = torch.cuda.get_device_name(self._dev)
        # Full FP32: TF32 would be faster and fail the tolerance (see freivalds.py).
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False

    def load(self, a: np.ndarray, b: np.ndarray) -> Any:
        return self._torch.from_numpy(a).to(self._dev), self._torch.from_numpy(b).to(self._dev)

    def multiply(self, loaded: Any, signs: np.ndarray) -> tuple[np.ndarray, float]:
        torch = self._torch
        a, b = loaded
        s = torch.from_numpy(signs).to(self._dev)
        torch.cuda.synchronize(self._dev)
        start = time.perf_counter()
        c = a @ (b * s[:, None])
        torch.cuda.synchronize(self._dev)
        seconds = time.perf_counter() - start
        return c.cpu().numpy(), seconds


class CupyBackend(MatmulBackend):  # pragma: no cover - needs a CUDA GPU
    name = "cupy"

    def __init__(self, gpu: int = 0) -> None:
        import cupy

        self._cp = cupy
        self._gpu = gpu
        self.device = cupy.cuda.runtime.getDeviceProperties(gpu)["name"].decode()

    def load(self, a: np.ndarray, b: np.ndarray) -> Any:
        with self._cp.cuda.Device(self._gpu):
            return self._cp.asarray(a), self._cp.asarray(b)

    def multiply(self, loaded: Any, signs: np.ndarray) -> tuple[np.ndarray, float]:
        cp = self._cp
        a, b = loaded
        with cp.cuda.Device(self._gpu) as device:
            s = cp.asarray(signs)
            device.synchronize()
            start = time.perf_counter()
            c = a @ (b * s[:, None])
            device.synchronize()
            seconds = time.perf_counter() - start
            return cp.asnumpy(c), seconds


def _torch_ready() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def _cupy_ready() -> bool:
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # noqa: BLE001 - CuPy raises its own CUDA errors when there is no device or driver
        return False


def select_backend(prefer: str = "auto", gpu: int = 0) -> MatmulBackend:
    """torch (CUDA) if present, else CuPy, else NumPy; `prefer` names one and fails if it is absent."""
    if prefer == "numpy":
        return NumpyBackend()
    if prefer not in ("auto", "torch", "cupy"):
        raise ChallengeError(f"unknown backend {prefer!r}; expected auto, torch, cupy or numpy")
    if prefer in ("auto", "torch") and _torch_ready():
        return TorchBackend(gpu)
    if prefer in ("auto", "cupy") and _cupy_ready():
        return CupyBackend(gpu)
    if prefer != "auto":
        raise ChallengeError(f"{prefer} with a CUDA device is not available")
    return NumpyBackend()


# Commitment ------------------------------------------------------------------------------------


_WORKERS = min(8, os.cpu_count() or 1)
_HASH_POOL = ThreadPoolExecutor(max_workers=_WORKERS, thread_name_prefix="commit")


def _leaf_block(start: int, block: np.ndarray) -> list[bytes]:
    return [row_leaf(start + k, row) for k, row in enumerate(block)]


def commit_rows(c: np.ndarray) -> MerkleTree:
    """The Merkle tree over C's rows. hashlib releases the GIL, so large products hash on every core."""
    if c.nbytes < 64 * 1024 * 1024 or _WORKERS == 1:
        leaves = _leaf_block(0, c)
    else:
        bounds = np.linspace(0, len(c), _WORKERS + 1, dtype=int)
        blocks = _HASH_POOL.map(lambda lo, hi: _leaf_block(lo, c[lo:hi]), bounds[:-1], bounds[1:])
        leaves = [leaf for block in blocks for leaf in block]
    return MerkleTree(leaves, hasher=sha256)


# The prover ------------------------------------------------------------------------------------


@dataclass
class _Challenge:
    n: int
    dtype: str
    gpu: int
    loaded: Any
    c: np.ndarray | None = None
    tree: MerkleTree | None = None


class Prover:
    """Answers challenges on one machine; keeps at most `max_pending` of them (oldest dropped)."""

    def __init__(
        self,
        backend: MatmulBackend | None = None,
        source: TelemetrySource | None = None,
        max_n: int = 16384,
        max_pending: int = 2,
    ) -> None:
        self.backend = backend or select_backend()
        self.source = source
        self.max_n = max_n
        self.max_pending = max_pending
        self._pending: OrderedDict[str, _Challenge] = OrderedDict()
        self._lock = threading.Lock()
        # One product at a time: two would share the GPU and each look half as fast.
        self._run_lock = threading.Lock()

    def prepare(self, seed: int, n: int, dtype: str = DEFAULT_DTYPE, gpu: int = 0) -> str:
        if not 1 <= n <= self.max_n:
            raise ChallengeError(f"challenge size {n} is outside 1..{self.max_n}")
        if self.source is not None and not 0 <= gpu < len(self.source.gpus()):
            raise ChallengeError(f"no GPU {gpu} on this machine")
        a, b = derive_matrices(seed, n, dtype)
        challenge = _Challenge(n, dtype, gpu, self.backend.load(a, b))
        challenge_id = secrets.token_hex(16)
        with self._lock:
            self._pending[challenge_id] = challenge
            while len(self._pending) > self.max_pending:
                self._pending.popitem(last=False)
        return challenge_id

    def _get(self, challenge_id: str) -> _Challenge:
        with self._lock:
            challenge = self._pending.get(challenge_id)
        if challenge is None:
            raise UnknownChallenge(f"no pending challenge {challenge_id}")
        return challenge

    def run(self, challenge_id: str, salt: int) -> RunResult:
        challenge = self._get(challenge_id)
        if challenge.c is not None:
            raise ChallengeError(f"challenge {challenge_id} has already run")
        signs = row_signs(salt, challenge.n, challenge.dtype)
        uuid = self._uuid(challenge.gpu)
        with self._run_lock:
            before = self._energy(uuid)
            c, seconds = self.backend.multiply(challenge.loaded, signs)
            after = self._energy(uuid)
        challenge.loaded = None  # free the device copies now
        challenge.c = c
        challenge.tree = commit_rows(c)
        return RunResult(
            challenge_id,
            challenge.n,
            challenge.dtype,
            self.backend.name,
            self.backend.device,
            uuid,
            seconds,
            before,
            after,
            challenge.tree.root,
        )

    def reveal(self, challenge_id: str, rows: Sequence[int]) -> RevealedRows:
        """The asked rows and their proofs; the challenge is then forgotten."""
        challenge = self._get(challenge_id)
        if challenge.c is None or challenge.tree is None:
            raise ChallengeError(f"challenge {challenge_id} has not run yet")
        if not rows or any(not 0 <= i < challenge.n for i in rows):
            raise ChallengeError(f"rows must be in 0..{challenge.n - 1}")
        with self._lock:
            self._pending.pop(challenge_id, None)
        picked = list(rows)
        return RevealedRows(picked, challenge.c[picked], [challenge.tree.proof(i) for i in picked])

    def _uuid(self, gpu: int) -> str | None:
        if self.source is None:
            return None
        gpus = self.source.gpus()
        return gpus[gpu].uuid if gpu < len(gpus) else None

    def _energy(self, uuid: str | None) -> int | None:
        if self.source is None or uuid is None:
            return None
        try:
            return self.source.energy_mj(uuid)
        except Exception as exc:  # noqa: BLE001 - a telemetry failure must not fail the challenge
            log.warning("energy counter unreadable during a challenge: %s", exc)
            return None


class LocalAgent:
    """A Prover called in-process, shaped like the node's HTTP client of the agent (tests, benchmarks)."""

    def __init__(self, prover: Prover) -> None:
        self.prover = prover

    def prepare(self, seed: int, n: int, dtype: str, gpu: int = 0) -> str:
        return self.prover.prepare(seed, n, dtype, gpu)

    def run(self, challenge_id: str, salt: int) -> RunResult:
        return self.prover.run(challenge_id, salt)

    def reveal(self, challenge_id: str, rows: list[int], n: int, dtype: str) -> RevealedRows:
        return self.prover.reveal(challenge_id, rows)
