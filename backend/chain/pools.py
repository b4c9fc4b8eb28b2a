"""The lending pools' terms, and the one place a LendingPool's constructor arguments are built.

Terms are written the way people read them (basis points, yearly rates, hours) and turned into the
contract's units here: LLTV in WAD, the rate model per second in WAD (ILendingPool.RateModel).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from backend.chain.client import to_bytes32
from backend.chain.protocol import HOUR

WAD = 10**18
BPS = 10_000
YEAR = 365 * 24 * HOUR
"""Seconds in the year the contract's MAX_RATE is written in (365 days)."""
REPAY_ALL_MARGIN_PERCENT = 1
"""What a repay of everything (or a liquidation) approves beyond the debt read now, in percent: the
interest until it is mined (the pool takes exactly what is owed then)."""


def with_repay_margin(amount: int) -> int:
    """`amount` and the margin above, rounded up: what to approve for a repayment of `amount` now."""
    return amount + amount * REPAY_ALL_MARGIN_PERCENT // 100 + 1


@dataclass(frozen=True)
class PoolTerms:
    """What one pool per GPU class is deployed with; every field becomes an immutable of the pool.

    The rate model is a utilization kink: `base_bps` a year at zero utilization, rising by
    `slope1_bps` a year over [0, kink] and by `slope2_bps` a year over [kink, 100 %]."""

    lltv_bps: int
    base_bps: int
    slope1_bps: int
    slope2_bps: int
    kink_bps: int
    maturity_buffer_hours: int
    mark_max_age: int
    min_debt: int

    @property
    def lltv(self) -> int:
        return self.lltv_bps * WAD // BPS

    def rate_model(self) -> tuple[int, int, int, int]:
        """(base, slope1, slope2, kink): the rates per second in WAD, rounded down, the kink in WAD."""
        per_second = [bps * WAD // BPS // YEAR for bps in (self.base_bps, self.slope1_bps, self.slope2_bps)]
        return (*per_second, self.kink_bps * WAD // BPS)  # type: ignore[return-value]

    def constructor_args(
        self, stablecoin: str, gpu_hours: str, oracle: str, gpu_class: str
    ) -> tuple[tuple[Any, ...], str, str]:
        """(PoolParams, vault name, vault symbol) for the LendingPool constructor of `gpu_class`."""
        params = (
            stablecoin,
            gpu_hours,
            oracle,
            to_bytes32(gpu_class),
            self.lltv,
            self.rate_model(),
            self.maturity_buffer_hours,
            self.mark_max_age,
            self.min_debt,
        )
        return params, f"gpuhours {gpu_class} lending", f"ghL-{gpu_class}"

    def as_json(self) -> dict[str, int]:
        return {
            "lltvBps": self.lltv_bps,
            "baseBps": self.base_bps,
            "slope1Bps": self.slope1_bps,
            "slope2Bps": self.slope2_bps,
            "kinkBps": self.kink_bps,
            "maturityBufferHours": self.maturity_buffer_hours,
            "markMaxAge": self.mark_max_age,
            "minDebt": self.min_debt,
        }
