"""A borrower's position in a lending pool, re-read from the chain: debt, collateral value, health factor
and the mark price at which it turns liquidatable.

The pool values a capacity's units at min(mark, backing) × (the rest of ILendingPool's formula), so its
value at a mark m is V × min(m, backing) / backing, where V is its value at the backing. The
liquidation price solves Σ V_i × min(m, b_i) / b_i × LLTV = debt for m.
"""

from __future__ import annotations

from collections.abc import Sequence
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


def read_positions(
    market: Market, pool: Contract, borrowers: Sequence[str], lltv: int, mark: int
) -> list[PositionReading]:
    """Each of `borrowers`' positions in `pool` now, at `mark`, from the pool's and GpuHours' views:
    two rounds of batched calls (Market.call_all) however many positions there are."""
    f = pool.functions
    first = market.call_all([fn for b in borrowers for fn in (f.debtOf(b), f.collateralOf(b))])
    debts, pledges = first[0::2], first[1::2]
    pledged = [(i, c, n) for i, (ids, units) in enumerate(pledges) for c, n in zip(ids, units, strict=True)]
    capacities = sorted({c for _, c, _ in pledged})
    second = market.call_all(
        [fn for _, c, n in pledged for fn in (f.unitValue(c, n, mark), f.unitValue(c, n, NO_CAP))]
        + [market.hours.functions.terms(c) for c in capacities]
    )
    backing = {c: terms[0] for c, terms in zip(capacities, second[2 * len(pledged) :], strict=True)}
    collateral: list[list[PledgedCapacity]] = [[] for _ in borrowers]
    for k, (i, c, n) in enumerate(pledged):
        collateral[i].append(PledgedCapacity(c, n, backing[c], second[2 * k], second[2 * k + 1]))
    return [
        _reading(borrower, debt, shares, held, lltv)
        for borrower, (debt, shares), held in zip(borrowers, debts, collateral, strict=True)
    ]


def _reading(
    borrower: str, debt: int, shares: int, collateral: list[PledgedCapacity], lltv: int
) -> PositionReading:
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
