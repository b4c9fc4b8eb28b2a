"""The mark-price math (oracle/node/marks.py): volume-weighted medians, outliers, thin markets, overrides."""

from __future__ import annotations

import logging
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.chain.protocol import EPOCH_SECONDS
from oracle.node.marks import (
    FillsUnavailable,
    MarkRules,
    MarkSource,
    Trade,
    derive_mark,
    derive_marks,
    weighted_median,
)
from oracle.protocol.report import MarkPrice, gpu_class_id

H100, A100 = gpu_class_id("H100-SXM5-80GB"), gpu_class_id("A100-SXM4-80GB")
RULES = MarkRules(min_units=10, min_counterparties=3, outlier_k=Fraction(3), outlier_floor_bps=500)
ADDRESSES = [f"0x{i:040x}" for i in range(1, 9)]


def trade(maker: int, taker: int, amount: int, price: int, gpu_class: bytes = H100) -> Trade:
    return Trade(ADDRESSES[maker], ADDRESSES[taker], gpu_class, amount, price)


def vwap(trades: list[Trade]) -> int:
    return sum(t.amount * t.price for t in trades) // sum(t.amount for t in trades)


pairs = st.lists(st.tuples(st.integers(0, 10**9), st.integers(1, 10**6)), min_size=1, max_size=40)


@given(pairs)
def test_the_weighted_median_splits_the_weight(values):
    median = weighted_median(values)
    total = sum(w for _, w in values)
    below = sum(w for v, w in values if v < median)
    at_or_below = sum(w for v, w in values if v <= median)
    assert median in {v for v, _ in values}
    assert 2 * below < total <= 2 * at_or_below


def test_a_weighted_median_of_nothing_is_an_error():
    with pytest.raises(ValueError, match="positive total weight"):
        weighted_median([])


trades = st.lists(
    st.builds(
        Trade,
        st.sampled_from(ADDRESSES),
        st.sampled_from(ADDRESSES),
        st.just(H100),
        st.integers(1, 10_000),
        st.integers(1, 10**12),
    ),
    min_size=1,
    max_size=30,
)


@given(trades, st.randoms(use_true_random=False))
def test_a_mark_is_an_average_of_fills_inside_the_band_and_ignores_their_order(window, rng):
    mark = derive_mark(window, RULES)
    shuffled = list(window)
    rng.shuffle(shuffled)
    assert derive_mark(shuffled, RULES) == mark
    if mark.price is None:
        return
    median = weighted_median((t.price, t.amount) for t in window)
    mad = weighted_median((abs(t.price - median), t.amount) for t in window)
    band = max(RULES.outlier_k * mad, Fraction(median * RULES.outlier_floor_bps, 10_000))
    kept = [t for t in window if abs(t.price - median) <= band]
    assert mark.price == vwap(kept) and mark.kept == len(kept) and mark.dropped == len(window) - len(kept)
    assert min(t.price for t in kept) <= mark.price <= max(t.price for t in kept)
    assert mark.units >= RULES.min_units and mark.counterparties >= RULES.min_counterparties


@given(
    st.lists(st.tuples(st.integers(1_000_000, 1_100_000), st.integers(1, 100)), min_size=3, max_size=20),
    st.lists(st.tuples(st.integers(1, 10**12), st.integers(1, 100)), max_size=20),
)
def test_a_minority_of_the_volume_moves_the_mark_no_further_than_the_band(honest, attack):
    """Whatever prices an attacker trades at, with less volume than the honest fills the mark stays
    within the band around the honest prices: max(k × their spread, the floor)."""
    honest_units = sum(w for _, w in honest)
    while attack and sum(w for _, w in attack) >= honest_units:
        attack.pop()
    window = [trade(i % 4, (i + 1) % 4, w, p) for i, (p, w) in enumerate(honest)]
    window += [trade(6, 7, w, p) for p, w in attack]
    mark = derive_mark(window, RULES)
    low, high = min(p for p, _ in honest), max(p for p, _ in honest)
    band = max(RULES.outlier_k * (high - low), Fraction(high * RULES.outlier_floor_bps, 10_000))
    assert mark.price is None or low - band <= mark.price <= high + band


def test_several_fills_give_their_vwap():
    window = [trade(0, 1, 10, 2_000_000), trade(0, 2, 20, 2_100_000), trade(1, 3, 5, 2_050_000)]
    mark = derive_mark(window, RULES)
    assert mark.price == (10 * 2_000_000 + 20 * 2_100_000 + 5 * 2_050_000) // 35 == 2_064_285
    assert (mark.kept, mark.dropped, mark.units, mark.counterparties) == (3, 0, 35, 4)


def test_a_wash_trade_between_two_addresses_gives_no_mark():
    mark = derive_mark([trade(0, 1, 500, 9_000_000), trade(1, 0, 500, 9_000_000)], RULES)
    assert mark.price is None and mark.reason == "2 distinct counterparties, under the minimum of 3"


def test_too_little_volume_gives_no_mark():
    mark = derive_mark([trade(0, 1, 3, 2_000_000), trade(1, 2, 6, 2_000_000)], RULES)
    assert mark.price is None and mark.reason == "9 GPU-hours traded, under the minimum of 10"


def test_an_outlier_is_dropped_and_counted():
    honest = [trade(0, 1, 10, 2_000_000), trade(2, 3, 10, 2_020_000), trade(1, 2, 10, 2_010_000)]
    mark = derive_mark([*honest, trade(4, 5, 25, 20_000_000)], RULES)
    assert mark.price == vwap(honest) and mark.dropped == 1


def test_outliers_can_leave_too_little_for_a_mark():
    """The thin market's volume is counted after the outliers go: they cannot make up the minimum."""
    window = [trade(0, 1, 6, 2_000_000), trade(2, 3, 1, 2_000_000), trade(4, 5, 4, 6_000_000)]
    mark = derive_mark(window, RULES)
    assert mark.price is None and mark.dropped == 1 and "7 GPU-hours" in mark.reason


def test_classes_are_derived_apart():
    h100 = [trade(0, 1, 10, 2_000_000), trade(1, 2, 10, 2_100_000)]
    a100 = [trade(3, 4, 20, 1_000_000, A100), trade(4, 5, 20, 1_040_000, A100)]
    marks = derive_marks([*h100, *a100], RULES)
    assert marks[H100].price == vwap(h100) and marks[A100].price == vwap(a100)


class Chain:
    """Fills of a fixed list and the contract's bounds by class; the spans asked for."""

    def __init__(
        self,
        window: list[Trade] | None = None,
        bounds: dict[bytes, tuple[int, int]] | None = None,
        fail: bool = False,
    ) -> None:
        self.window, self.limits, self.fail, self.asked = window or [], bounds or {}, fail, []

    def trades(self, start: int, end: int) -> list[Trade]:
        self.asked.append((start, end))
        if self.fail:
            raise FillsUnavailable("the chain could not be read: connection refused")
        return self.window

    def bounds(self, gpu_class: bytes, epoch: int) -> tuple[int, int]:
        return self.limits.get(gpu_class, (1, 2**128 - 1))


def test_a_source_reads_the_window_that_ends_with_the_epoch_and_overrides_win():
    fills = [trade(0, 1, 10, 2_000_000), trade(1, 2, 10, 2_100_000), trade(3, 4, 20, 1_000_000, A100)]
    fills.append(trade(4, 5, 20, 1_000_000, A100))
    chain = Chain(fills)
    source = MarkSource(chain, RULES, 24 * 3600, {H100: 2_500_000}, EPOCH_SECONDS)
    epoch = 500_000
    assert source(epoch) == sorted(
        [MarkPrice(H100, epoch, 2_500_000), MarkPrice(A100, epoch, 1_000_000)], key=lambda m: m.gpu_class
    )
    end = (epoch + 1) * EPOCH_SECONDS
    assert chain.asked == [(end - 24 * 3600, end)]


def test_unreadable_fills_leave_only_the_overrides(caplog, monkeypatch):
    # Another test's logging set-up may have disabled or raised the module's logger: this test reads it.
    logger = logging.getLogger(MarkSource.__module__)
    monkeypatch.setattr(logger, "disabled", False)
    source = MarkSource(Chain(fail=True), RULES, 3600, {A100: 900_000}, EPOCH_SECONDS)
    with caplog.at_level(logging.WARNING, logger=logger.name):
        assert source(7) == [MarkPrice(A100, 7, 900_000)]
    assert "no marks from fills" in caplog.text and "connection refused" in caplog.text


def test_without_a_chain_only_overrides_are_proposed():
    assert MarkSource(None, RULES, 3600, {}, EPOCH_SECONDS)(7) == []


@pytest.mark.parametrize(
    ("vwap_price", "bounds", "proposed"),
    [
        (2_050_000, (500_000, 2_000_000), 2_000_000),  # the market doubled and more: one step up
        (2_050_000, (2_100_000, 8_400_000), 2_100_000),  # it halved and more: one step down
        (2_050_000, (1_025_000, 4_100_000), 2_050_000),  # within the step: as derived
        (2_050_000, (1, 0), None),  # the class has a mark of this epoch or later: none
    ],
)
def test_a_derived_mark_moves_at_most_one_step_from_the_last(vwap_price, bounds, proposed):
    fills = [trade(0, 1, 10, vwap_price), trade(1, 2, 10, vwap_price)]
    source = MarkSource(Chain(fills, {H100: bounds}), RULES, 3600, {}, EPOCH_SECONDS)
    assert source(9) == ([] if proposed is None else [MarkPrice(H100, 9, proposed)])


def test_an_override_is_signed_as_given_whatever_the_step():
    fills = [trade(0, 1, 10, 2_000_000), trade(1, 2, 10, 2_000_000)]
    source = MarkSource(Chain(fills, {H100: (1, 2)}), RULES, 3600, {H100: 5_000_000}, EPOCH_SECONDS)
    assert source(9) == [MarkPrice(H100, 9, 5_000_000)]
