"""How the lending keeper sizes a liquidation: the whole debt from the most valuable capacity when
its units cover it at the incentive, else every unit of that capacity; the incentive shrunk to
value / debt and never below 1, as the pool does."""

from __future__ import annotations

from backend.market.pool_health import PledgedCapacity, PositionReading
from backend.tasks.lending_keeper import Plan, plan_liquidation

LIF = 1_063_829_787_234_042_553  # 1 / (1 - 0.3 × (1 - 0.8)), rounded down


def _reading(debt: int, *values: int) -> PositionReading:
    collateral = [PledgedCapacity(i + 1, 10 * (i + 1), 2_000_000, v, v) for i, v in enumerate(values)]
    value = sum(values)
    return PositionReading("0xB", debt, 7 * debt, collateral, value, value * 8 // 10, None, None)


def test_the_whole_debt_when_the_richest_capacity_covers_it_at_the_full_incentive():
    plan = plan_liquidation(_reading(100_000_000, 50_000_000, 150_000_000), LIF)
    assert plan == Plan(2, 0, 700_000_000, 106_382_978, 100_000_000)
    assert plan.profit == 6_382_978


def test_the_incentive_shrinks_to_value_over_debt():
    plan = plan_liquidation(_reading(100_000_000, 104_000_000), LIF)  # value / debt = 1.04 < LIF
    assert plan == Plan(1, 0, 700_000_000, 104_000_000, 100_000_000)


def test_every_unit_of_the_richest_capacity_when_it_cannot_cover_the_debt():
    plan = plan_liquidation(_reading(100_000_000, 60_000_000, 60_000_001), LIF)
    # 60_000_001 / LIF = 56_400_000.9…, rounded up against the liquidator.
    assert plan == Plan(2, 20, 0, 60_000_001, 56_400_001)
    assert plan.profit == 3_600_000


def test_underwater_the_incentive_is_one_and_nothing_is_earned():
    plan = plan_liquidation(_reading(100_000_000, 50_000_000), LIF)
    assert plan == Plan(1, 10, 0, 50_000_000, 50_000_000)
    assert plan.profit == 0
