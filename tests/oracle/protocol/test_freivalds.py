"""Freivalds' test: correct products pass, corrupted ones fail, and the stated bounds hold."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oracle.protocol import freivalds
from oracle.protocol.freivalds import (
    ChallengeError,
    b_times,
    check,
    derive_matrices,
    derive_rows,
    expect,
    row_signs,
    sign_vectors,
    tolerance,
    verify_product,
)


def product(seed: int, n: int, dtype: str = "float32", salt: int | None = None):
    a, b = derive_matrices(seed, n, dtype)
    signs = None if salt is None else row_signs(salt, n, dtype)
    c = a @ (b if signs is None else b * signs[:, None])
    return a, b, c, signs


def test_matrices_are_deterministic_uniform_and_distinct():
    a1, b1 = derive_matrices(7, 64)
    a2, b2 = derive_matrices(7, 64)
    assert a1.dtype == np.float32 and np.array_equal(a1, a2) and np.array_equal(b1, b2)
    assert not np.array_equal(a1, b1)
    assert not np.array_equal(a1, derive_matrices(8, 64)[0])
    assert a1.min() >= -1 and a1.max() < 1


def test_tolerance_from_n_and_dtype():
    assert freivalds.unit_roundoff("float32") == 2.0**-24
    assert freivalds.unit_roundoff("float64") == 2.0**-53
    assert tolerance(2048) == pytest.approx(4 * 2**-24 * 2048**1.5)
    assert tolerance(1024, "float64") < tolerance(1024, "float32")
    with pytest.raises(ChallengeError):
        tolerance(16, "float16")


@pytest.mark.parametrize("n", [1, 2, 17, 128, 512, 1024])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_correct_products_are_accepted(n, dtype):
    a, b, c, signs = product(n, n, dtype, salt=n + 1)
    result = verify_product(a, b, c, rounds=8, rng=np.random.default_rng(0), signs=signs, dtype=dtype)
    assert result.accepted, result
    assert result.max_residual <= result.threshold
    assert result.false_accept_bound == 2.0**-8


def test_honest_noise_stays_far_below_the_threshold():
    """The margin the tolerance is built on: honest residuals are a small share of the threshold."""
    a, b, c, _ = product(3, 2048)
    result = verify_product(a, b, c, rounds=4, rng=np.random.default_rng(1))
    assert result.accepted and result.max_residual < result.threshold / 4


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(8, 96),
    seed=st.integers(0, 2**32),
    i=st.integers(0, 95),
    j=st.integers(0, 95),
    factor=st.floats(1.0, 1e6),
    negative=st.booleans(),
    rounds=st.integers(1, 4),
)
def test_an_entry_off_by_more_than_the_tolerance_is_rejected(n, seed, i, j, factor, negative, rounds):
    a, b, c, _ = product(seed, n)
    i, j = i % n, j % n
    delta = tolerance(n) * factor * (1.0001 if factor == 1.0 else 1)
    c = c.copy()
    c[i, j] += np.float32(-delta if negative else delta)
    result = verify_product(a, b, c, rounds=rounds, rng=np.random.default_rng(seed))
    assert not result.accepted
    assert result.failed_row == i


def test_many_corrupted_entries_in_a_row_escape_with_at_most_half_per_round():
    """Errors in one row can cancel under one sign vector, but not under most: ≤ 2^-k over k."""
    n, trials, rounds = 64, 400, 1
    a, b, c, _ = product(11, n)
    rng = np.random.default_rng(5)
    accepted = 0
    for _ in range(trials):
        bad = c.copy()
        bad[3, :8] += np.float32(50 * tolerance(n))  # eight equal errors: cancel when signs balance
        accepted += verify_product(a, b, bad, rounds=rounds, rng=rng).accepted
    assert accepted / trials <= 0.5  # observed ~C(8,4)/2^8 = 0.27


def test_low_precision_shortcut_is_rejected():
    """A TF32-style product (inputs rounded to a 10-bit mantissa) is not FP32 work."""
    n = 512
    a, b, _, _ = product(2, n)

    def tf32(x):
        m, e = np.frexp(x.astype(np.float64))
        return np.ldexp(np.round(m * 2**11) / 2**11, e).astype(np.float32)

    result = verify_product(a, b, tf32(a) @ tf32(b), rounds=2, rng=np.random.default_rng(0))
    assert not result.accepted


def test_signs_matter():
    a, b, c, signs = product(4, 64, salt=9)
    assert check(a, b, c, rounds=2, rng=np.random.default_rng(0), signs=signs).accepted
    other = row_signs(10, 64)
    assert not check(a, b, c, rounds=2, rng=np.random.default_rng(0), signs=other).accepted


def test_a_subset_of_rows_is_checked_against_the_full_b():
    a, b, c, signs = product(5, 256, salt=3)
    rows = [0, 17, 255]
    assert check(a[rows], b, c[rows], rounds=4, rng=np.random.default_rng(0), signs=signs).accepted
    bad = c[rows].copy()
    bad[1, 100] += 1
    assert not check(a[rows], b, bad, rounds=4, rng=np.random.default_rng(0), signs=signs).accepted


def test_nan_is_rejected():
    a, b, c, _ = product(6, 32)
    c = c.copy()
    c[5, 5] = np.nan
    result = verify_product(a, b, c, rounds=1, rng=np.random.default_rng(0))
    assert not result.accepted and result.failed_row == 5


def test_bad_inputs_are_clear_errors():
    a, b, c, _ = product(1, 16)
    with pytest.raises(ChallengeError, match="shapes"):
        check(a, b, c[:, :8], rounds=1, rng=np.random.default_rng(0))
    with pytest.raises(ChallengeError):
        check(a, b, c, rounds=0, rng=np.random.default_rng(0))
    with pytest.raises(ChallengeError):
        derive_matrices(1, 0)


@pytest.mark.parametrize("n", [1, 7, 64, 333])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_rows_of_a_and_b_times_vectors_come_from_the_stream_without_the_matrices(n, dtype):
    """n = 333 in float64 spans two blocks of B; odd n makes float32 rows start mid-output."""
    a, b = derive_matrices(21, n, dtype)
    rows = sorted({0, n // 2, n - 1})
    assert np.array_equal(derive_rows(21, n, rows, dtype), a[rows])
    v = sign_vectors(np.random.default_rng(0), n, 3, dtype)
    assert np.allclose(b_times(21, n, v, dtype), b @ v, rtol=0, atol=tolerance(n, dtype))
    with pytest.raises(ChallengeError, match="outside"):
        derive_rows(21, n, [n], dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_prepared_check_accepts_the_honest_rows_and_rejects_a_corrupted_one(dtype):
    n, rows = 512, [3, 100, 511]
    _, _, c, _ = product(8, n, dtype, salt=5)
    expectation = expect(8, 5, n, rows, rounds=8, rng=np.random.default_rng(1), dtype=dtype)
    honest = expectation.check(c[rows])
    assert honest.accepted and honest.max_residual <= honest.threshold / 4
    assert honest.false_accept_bound == 2.0**-8
    bad = c[rows].copy()
    bad[2, 40] += 2 * tolerance(n, dtype)
    rejected = expectation.check(bad)
    assert not rejected.accepted and rejected.failed_row == 2
    bad[2, 40] = np.nan
    assert expectation.check(bad).failed_row == 2
    # the wrong salt is a different product
    assert (
        not expect(8, 6, n, rows, rounds=8, rng=np.random.default_rng(1), dtype=dtype).check(c[rows]).accepted
    )
    with pytest.raises(ChallengeError, match="rows"):
        expectation.check(c[:2])


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32), n=st.integers(8, 96), row=st.integers(0, 95), col=st.integers(0, 95))
def test_a_prepared_check_catches_any_entry_off_by_the_tolerance(seed, n, row, col):
    _, _, c, _ = product(seed, n, salt=seed + 1)
    rows = sorted({0, row % n})
    bad = c[rows].copy()
    bad[rows.index(row % n), col % n] -= np.float32(1.0001 * tolerance(n))
    expectation = expect(seed, seed + 1, n, rows, rounds=1, rng=np.random.default_rng(seed))
    assert expectation.check(c[rows]).accepted
    assert not expectation.check(bad).accepted
