"""A borrower's position in a lending pool, re-read from the chain: debt, collateral value, health factor
and the mark price at which it turns liquidatable.

The pool values a capacity's units at min(mark, backing) × (the rest of ILendingPool's formula), so its
value at a mark m is V × min(m, backing) / backing, where V is its value at the backing. The
liquidation price solves Σ V_i × min(m, b_i) / b_i × LLTV = debt for m.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from math import ceil

from web3.contract import Contract

from backend.chain.client import Market

WAD = 10**18
#: A mark above every backing: unitValue then values each unit at its capacity's backing.
NO_CAP = 2**128 - 1


@dataclass(frozen=True)
class PledgedCapacity:
    capacity_id: int
    units: int
    backing: int
    value: int
    """At the current mark."""
    value_at_backing: int
    """At a mark of at least the backing: the most these units can count for."""


@dataclass(frozen=True)
class PositionReading:
    borrower: str
    debt: int
    borrow_shares: int
    collateral: list[PledgedCapacity]
    collateral_value: int
    max_debt: int
    """collateral value × LLTV, rounded down as the pool does."""
    health_factor: float | None
    """collateral value × LLTV / debt; None without debt."""
    liquidation_price: int | None
    """The mark per GPU-hour below which the position is unhealthy (rounded up); None without debt,
    or when no mark can make it healthy (its hours are worth less than the debt even at their backing)."""

    @property
    def healthy(self) -> bool:
        return self.debt <= self.max_debt


def read_position(market: Market, pool: Contract, borrower: str, lltv: int, mark: int) -> PositionReading:
    """`borrower`'s position in `pool` now, at `mark`, from the pool's and GpuHours' views."""
    debt, shares = pool.functions.debtOf(borrower).call()
    ids, units = pool.functions.collateralOf(borrower).call()
    collateral = [
        PledgedCapacity(
            capacity_id,
            n,
            market.hours.functions.terms(capacity_id).call()[0],
            pool.functions.unitValue(capacity_id, n, mark).call(),
            pool.functions.unitValue(capacity_id, n, NO_CAP).call(),
        )
        for capacity_id, n in zip(ids, units, strict=True)
    ]
    value = sum(c.value for c in collateral)
    max_debt = value * lltv // WAD
    return PositionReading(
        borrower,
        debt,
        shares,
        collateral,
        value,
        max_debt,
        value * lltv / WAD / debt if debt else None,
        liquidation_price(collateral, lltv, debt),
    )


def liquidation_price(collateral: list[PledgedCapacity], lltv: int, debt: int) -> int | None:
    """The least mark m (rounded up) with Σ V_i × min(m, b_i) / b_i × LLTV ≥ debt; None as above."""
    if debt == 0:
        return None
    target = Fraction(debt * WAD, lltv)  # the collateral value at which health is exactly 1
    priced = sorted((c for c in collateral if c.backing and c.value_at_backing), key=lambda c: c.backing)
    if sum(c.value_at_backing for c in priced) < target:
        return None
    # Between the (k-1)th and kth backing, value(m) = flat + m × slope: the capacities below have
    # reached their backing, the others still grow with the mark.
    flat = Fraction(0)
    for k, c in enumerate(priced):
        slope = sum(Fraction(d.value_at_backing, d.backing) for d in priced[k:])
        if flat + slope * c.backing >= target:
            return ceil((target - flat) / slope)
        flat += c.value_at_backing
    return None
