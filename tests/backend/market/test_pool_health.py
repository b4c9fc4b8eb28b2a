"""The liquidation price against a direct evaluation of the pool's value: the least mark at which the
position is healthy, over capacities with different backings, and none where no mark can make it so."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from backend.market.pool_health import WAD, PledgedCapacity, liquidation_price

LLTV = 8 * WAD // 10


def _value(collateral: list[PledgedCapacity], mark: int) -> Fraction:
    """The position's value at `mark`, as ILendingPool writes it (each capacity at min(mark, backing)),
    before the pool's rounding."""
    return sum(
        (Fraction(c.value_at_backing * min(mark, c.backing), c.backing) for c in collateral), Fraction(0)
    )


def _capacity(backing: int, value_at_backing: int) -> PledgedCapacity:
    return PledgedCapacity(1, 1, backing, 0, value_at_backing)


capacities = st.lists(
    st.builds(_capacity, st.integers(1, 10**7), st.integers(0, 10**12)), min_size=1, max_size=8
)


@given(capacities, st.integers(1, 10**12))
def test_the_price_is_the_least_mark_at_which_the_position_is_healthy(collateral, debt):
    price = liquidation_price(collateral, LLTV, debt)
    best = sum(c.value_at_backing for c in collateral)
    if best * LLTV < debt * WAD:
        assert price is None  # even at every backing the hours cover less than the debt
        return
    assert price is not None
    assert _value(collateral, price) * LLTV >= debt * WAD
    assert _value(collateral, price - 1) * LLTV < debt * WAD


def test_no_debt_has_no_liquidation_price():
    assert liquidation_price([_capacity(2_000_000, 60_000_000)], LLTV, 0) is None


def test_above_the_lowest_backing_only_the_dearer_capacities_grow():
    cheap, dear = _capacity(1_000_000, 10_000_000), _capacity(3_000_000, 30_000_000)
    # At 2.0 the cheap capacity counts its 10 (capped), the dear one 20: 30 × 0.8 = 24.
    assert liquidation_price([cheap, dear], LLTV, 24_000_000) == 2_000_000
