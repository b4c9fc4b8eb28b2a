"""Proof of compute, the verifier's half: the challenge matrices and Freivalds' test.

A challenge is (seed, n). Both sides derive A and B from the seed with NumPy's PCG64, so nothing
big crosses the network; before the timed run the oracle sends a salt whose ±1 signs scale the rows
of B (`row_signs`), so C = A·diag(s)·B cannot be computed before the clock starts.

**dtype: float32.** Every GPU runs FP32 GEMM at full rate, while FP64 runs at 1/32-1/64 of it on
most inference and consumer parts (L4, A10, RTX); an FP64 benchmark would rank those GPUs far below
their useful throughput. FP32 also halves the bytes to derive, move and check. Entries are uniform
in [-1, 1): zero-mean, so entries of C stay near sqrt(n/9) and the rounding error is predictable.

**Tolerance.** A float product is never exact, so the test compares within a bound derived from n
and the dtype's unit roundoff u (2^-24 for float32, 2^-53 for float64):

    tolerance(n, dtype) = 4 · u · n^(3/2)

and a check accepts a row i when |(C r)_i − (A (B r))_i| ≤ tolerance / 2. Why n^(3/2): each entry
of C carries rounding error growing like u·n (recursive summation, the worst order a BLAS may use)
and a ±1 vector sums n of them with random signs, another √n (the probabilistic error analysis of
Higham & Mary, 2019). Measured on honest FP32 products for n = 256..4096, residuals had a standard
deviation ≤ 0.12·u·n^(3/2) (verifier's own FP32 rounding included) and never exceeded 0.37, so
the acceptance threshold of 2·u·n^(3/2) sits ≥ 16 standard deviations out: an honest answer is
rejected with probability below 10^-50 (Gaussian tail). Lower-precision shortcuts are not honest
FP32 and fail: a TF32-style product (inputs rounded to 10 mantissa bits) left residuals with a
standard deviation of 93 down to 22·u·n^(3/2) for n = 256 up to 4096 (falling as 1/√n, so still
≈ 10 at n = 16384), far past the threshold of 2 in every row; FP16 and BF16 inputs are coarser.

**False-accept bound.** In exact arithmetic with r uniform in {0,1}^n, Freivalds accepts a wrong C
with probability ≤ 1/2 per vector, so ≤ 2^-k for k vectors. Here r is uniform in {−1,+1}^n and the
same bound holds for floats: if some entry C_ij is off from the exact product by more than the
tolerance, then for any fixed other signs, flipping r_j moves the residual of row i by more than
2·tolerance − (honest noise) > tolerance, the width of the acceptance window, so at most one of the
two signs passes. Each vector therefore accepts that row with probability ≤ 1/2, and k independent
vectors with probability ≤ 2^-k. A single corrupted entry is caught by every vector.

When the oracle sees only s rows of C (sampled after the agent committed to all of them, see
prover.py), a C whose wrong entries lie in a fraction f of its rows escapes with probability
≤ (1 − f)^s + 2^-k.

Cost: k·(B r, A(B r), C r) is 3k matrix-vector products, O(k·n^2), against 2n^3 flops to recompute.
In practice it is memory-bound: every vector (or every batch of vectors, see `check`) streams A, B
and C from memory, 12·n^2 bytes in float32.

**The oracle's check is prepared before the answer** (`Expectation`). Everything but C is known to
the verifier before the agent answers: the seed, the salt, the rows it will ask for and its own
secret vectors R. So it computes y = A_S·diag(s)·B·R up front, while the agent is busy: the rows of A
it needs straight from the stream (PCG64 jumps ahead, A is never derived whole) and B·R block by
block as B is derived, while each block is still in cache (B is never held whole either: the memory
is O(n·block), not 2n^2). Once the rows arrive, the test is C_S·R against y: s·n·k multiply-adds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

DTYPES: dict[str, type[np.floating]] = {"float32": np.float32, "float64": np.float64}
DEFAULT_DTYPE = "float32"
TOLERANCE_FACTOR = 4.0
_BLOCK_BYTES = 512 * 1024  # a block of B's rows that stays in a core's L2 while it is multiplied


class ChallengeError(ValueError):
    """A challenge that cannot be run: bad size, unknown dtype."""


def _dtype(name: str) -> type[np.floating]:
    try:
        return DTYPES[name]
    except KeyError:
        raise ChallengeError(f"dtype must be one of {', '.join(DTYPES)}, not {name!r}") from None


def unit_roundoff(dtype: str) -> float:
    """u = 2^-(mantissa bits + 1): 2^-24 for float32, 2^-53 for float64."""
    return float(np.finfo(_dtype(dtype)).eps) / 2


def tolerance(n: int, dtype: str = DEFAULT_DTYPE) -> float:
    """Entries of C further than this from the exact product are caught (see the module docstring)."""
    return TOLERANCE_FACTOR * unit_roundoff(dtype) * n**1.5


def flops(n: int) -> int:
    """Floating-point operations of an n×n by n×n product: n^2 dot products of n multiply-adds."""
    return 2 * n**3


def _check_challenge(seed: int, n: int) -> None:
    if n < 1:
        raise ChallengeError(f"challenge size must be positive, got {n}")
    if seed < 0:
        raise ChallengeError("challenge seed must be non-negative")


def _uniform(out: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Fill `out` with the stream's next entries, uniform in [-1, 1)."""
    rng.random(out=out, dtype=out.dtype.type)
    out *= 2
    out -= 1
    return out


def _stream_at(seed: int, entry: int, dtype: str) -> np.random.Generator:
    """A generator whose next draw is the challenge stream's `entry`-th entry.

    PCG64 jumps ahead in O(log) steps. A float64 entry takes one 64-bit output; a float32 entry takes
    half of one (low half first), so an odd float32 entry starts one entry early and skips it.
    """
    t = _dtype(dtype)
    per_output = 2 if np.dtype(t).itemsize == 4 else 1
    bits = np.random.PCG64(seed)
    bits.advance(entry // per_output)
    rng = np.random.Generator(bits)
    if entry % per_output:
        rng.random(1, dtype=t)
    return rng


def derive_matrices(seed: int, n: int, dtype: str = DEFAULT_DTYPE) -> tuple[np.ndarray, np.ndarray]:
    """A and B for a challenge, uniform in [-1, 1), from PCG64(seed): A's entries first, then B's.

    `Generator.random` in float32 draws 24-bit multiples of 2^-24, so 2x - 1 is exact and A, B are
    bit-identical on every machine running the same NumPy.
    """
    _check_challenge(seed, n)
    t = _dtype(dtype)
    rng = np.random.Generator(np.random.PCG64(seed))
    return _uniform(np.empty((n, n), t), rng), _uniform(np.empty((n, n), t), rng)


def derive_rows(seed: int, n: int, rows: Sequence[int], dtype: str = DEFAULT_DTYPE) -> np.ndarray:
    """Rows of the challenge's A, equal to `derive_matrices(seed, n)[0][rows]`, without deriving A."""
    _check_challenge(seed, n)
    out = np.empty((len(rows), n), _dtype(dtype))
    for k, i in enumerate(rows):
        if not 0 <= i < n:
            raise ChallengeError(f"row {i} is outside 0..{n - 1}")
        _uniform(out[k], _stream_at(seed, i * n, dtype))
    return out


def b_times(seed: int, n: int, vectors: np.ndarray, dtype: str = DEFAULT_DTYPE) -> np.ndarray:
    """B·vectors for the challenge's B, derived block by block and multiplied while in cache."""
    _check_challenge(seed, n)
    t = _dtype(dtype)
    rng = _stream_at(seed, n * n, dtype)
    out = np.empty((n, *vectors.shape[1:]), t)
    block = np.empty((max(1, min(n, _BLOCK_BYTES // (n * np.dtype(t).itemsize))), n), t)
    for start in range(0, n, len(block)):
        part = block[: n - start]
        np.matmul(_uniform(part, rng), vectors, out=out[start : start + len(part)])
    return out


def row_signs(salt: int, n: int, dtype: str = DEFAULT_DTYPE) -> np.ndarray:
    """±1 per row of B from PCG64(salt); the run computes C = A · (signs[:, None] * B)."""
    rng = np.random.Generator(np.random.PCG64(salt))
    return (rng.integers(0, 2, n, dtype=np.int8) * 2 - 1).astype(_dtype(dtype))


@dataclass(frozen=True)
class FreivaldsResult:
    accepted: bool
    rounds: int
    max_residual: float
    threshold: float
    failed_row: int | None = None  # index into the rows checked, when rejected

    @property
    def false_accept_bound(self) -> float:
        """Probability that a C with an entry off by more than the tolerance passed: ≤ 2^-k."""
        return 2.0**-self.rounds


def sign_vectors(rng: np.random.Generator, n: int, k: int, dtype: str = DEFAULT_DTYPE) -> np.ndarray:
    """k vectors uniform in {-1, +1}^n, as the columns of an n×k matrix."""
    return (rng.integers(0, 2, (n, k), dtype=np.int8) * 2 - 1).astype(_dtype(dtype))


def _worst_row(residual: np.ndarray) -> tuple[int, float]:
    """(row, residual) of the worst row of |C r - A(B r)| (rows × vectors, or rows); NaN counts as inf."""
    per_row = residual.max(axis=1) if residual.ndim == 2 else residual
    per_row = np.where(np.isfinite(per_row), per_row, np.inf)
    row = int(np.argmax(per_row))
    return row, float(per_row[row])


def check(
    a_rows: np.ndarray,
    b: np.ndarray,
    c_rows: np.ndarray,
    *,
    rounds: int,
    rng: np.random.Generator,
    signs: np.ndarray | None = None,
    dtype: str = DEFAULT_DTYPE,
) -> FreivaldsResult:
    """Freivalds' test on some rows: does c_rows = a_rows · diag(signs) · b hold?

    `a_rows` and `c_rows` are the same rows of A and C (all of them for a full check); `rng` must
    be the verifier's own, unknown to the prover. Rejects at the first row whose residual exceeds
    tolerance/2; see the module docstring for the bound.
    """
    n = b.shape[0]
    if b.shape != (n, n) or a_rows.shape[1:] != (n,) or c_rows.shape != a_rows.shape:
        raise ChallengeError(f"shapes do not fit: A rows {a_rows.shape}, B {b.shape}, C rows {c_rows.shape}")
    if rounds < 1:
        raise ChallengeError("Freivalds needs at least one round")
    threshold = tolerance(n, dtype) / 2
    worst = 0.0
    # Each vector streams A, B and C from memory once. From four vectors on, one skinny GEMM over
    # all of them reads each matrix once and beats k matrix-vector products; below that it does not.
    batch = rounds if rounds >= 4 else 1
    for _ in range(0, rounds, batch):
        r = sign_vectors(rng, n, batch, dtype)
        if batch == 1:
            r = r[:, 0]  # a matrix-vector product, not an n×1 GEMM
        br = b @ r
        if signs is not None:
            br *= signs[:, None] if br.ndim == 2 else signs
        row, residual = _worst_row(np.abs(c_rows @ r - a_rows @ br))
        worst = max(worst, residual)
        if residual > threshold:
            return FreivaldsResult(False, rounds, worst, threshold, row)
    return FreivaldsResult(True, rounds, worst, threshold)


@dataclass(frozen=True)
class Expectation:
    """The answer-independent half of the test on rows S of C: y = A_S·diag(s)·B·R (see `expect`)."""

    rows: tuple[int, ...]
    vectors: np.ndarray  # n × k, the verifier's secret ±1 vectors R
    expected: np.ndarray  # len(rows) × k
    threshold: float

    def check(self, c_rows: np.ndarray) -> FreivaldsResult:
        """Freivalds' test on the revealed rows: C_S·R against y, s·n·k multiply-adds."""
        n, rounds = self.vectors.shape
        if c_rows.shape != (len(self.rows), n):
            raise ChallengeError(f"expected {len(self.rows)} rows of {n}, got an array of {c_rows.shape}")
        row, worst = _worst_row(np.abs(c_rows @ self.vectors - self.expected))
        if worst > self.threshold:
            return FreivaldsResult(False, rounds, worst, self.threshold, row)
        return FreivaldsResult(True, rounds, worst, self.threshold)


def expect(
    seed: int,
    salt: int,
    n: int,
    rows: Sequence[int],
    *,
    rounds: int,
    rng: np.random.Generator,
    dtype: str = DEFAULT_DTYPE,
) -> Expectation:
    """Prepare the check of rows S of the challenge (seed, salt, n) before the agent answers.

    Equivalent to `check(A[rows], B, C[rows], rounds=rounds, rng=rng, signs=row_signs(salt, n))`
    with every vector in one batch, but it never holds A or B: A's rows come straight from the
    stream and B·R is accumulated block by block as B is derived.
    """
    if rounds < 1:
        raise ChallengeError("Freivalds needs at least one round")
    vectors = sign_vectors(rng, n, rounds, dtype)
    br = b_times(seed, n, vectors, dtype)
    br *= row_signs(salt, n, dtype)[:, None]
    expected = derive_rows(seed, n, rows, dtype) @ br
    return Expectation(tuple(int(i) for i in rows), vectors, expected, tolerance(n, dtype) / 2)


def verify_product(
    a: np.ndarray,
    b: np.ndarray,
    c: np.ndarray,
    *,
    rounds: int = 2,
    rng: np.random.Generator | None = None,
    signs: np.ndarray | None = None,
    dtype: str = DEFAULT_DTYPE,
) -> FreivaldsResult:
    """Freivalds' test on the whole product (all rows)."""
    return check(a, b, c, rounds=rounds, rng=rng or np.random.default_rng(), signs=signs, dtype=dtype)
