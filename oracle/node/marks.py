"""Mark prices from executed fills: a volume-weighted price per GPU class, robust to thin and washed markets.

For each class, over the trailing window of fills an oracle node reads from the chain (oracle/node/fills.py):

1. Outliers go first. The volume-weighted median price `m` and the volume-weighted median absolute
   deviation `mad` of the window's fills are taken, and a fill whose price is further from `m` than
   the band max(k × mad, m × floor_bps / 10,000) is dropped. A median moves only when more than half
   the window's volume moves it, so fills at any price are harmless until they are the majority; MAD
   scales the band to how dispersed the market really is, where a trimmed mean would drop a fixed
   share of honest fills on a quiet day and keep a fixed share of an attacker's on a busy one. The
   floor keeps honest fills a few percent off a dominant price level (where `mad` is 0) in the
   average.
2. What is left must be a market: at least `min_units` GPU-hours traded, among at least
   `min_counterparties` distinct addresses (makers and takers together). One wash trade between two
   addresses of one person has two; it yields no mark rather than a manipulated one.
3. The mark is the volume-weighted average price of the kept fills, rounded down (a lower mark lends
   less against the same hours).

No mark for a class is a normal outcome: the contract keeps its last mark. AttestationOracle's
MAX_MARK_STEP bounds how far one report may move a mark, and refuses the whole report (attestations
included) past it, so a derived mark is brought within the step of the last one on chain: a market
that moved further gets there over several epochs. For the same reason no mark is derived for a
class that already has one of the epoch or a later one (a late report). A manual override per class
(`--mark`) replaces what the fills gave, as given. docs/mark-price.md states what moving a mark costs.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Protocol

from backend.chain.client import from_bytes32
from oracle.protocol.report import MarkPrice
from oracle.settings import NodeSettings

log = logging.getLogger(__name__)


class FillsUnavailable(Exception):
    """The chain did not answer: the window's fills, or a class's last mark, could not be read."""


@dataclass(frozen=True)
class Trade:
    """One executed fill as the mark sees it: who traded how many GPU-hours of which class, at what price."""

    maker: str
    taker: str
    gpu_class: bytes
    amount: int  # GPU-hours
    price: int  # stablecoin base units per GPU-hour


@dataclass(frozen=True)
class MarkRules:
    min_units: int
    min_counterparties: int
    outlier_k: Fraction  # a fill is an outlier past this many MADs from the median,
    outlier_floor_bps: int  # or past this share of the median, whichever is wider

    @classmethod
    def from_settings(cls, settings: NodeSettings) -> MarkRules:
        return cls(
            settings.mark_min_units,
            settings.mark_min_counterparties,
            Fraction(settings.mark_outlier_k),
            settings.mark_outlier_floor_bps,
        )


@dataclass(frozen=True)
class ClassMark:
    """What a class's fills gave: a price, or None with the reason."""

    price: int | None
    reason: str
    kept: int  # fills kept after outlier rejection
    dropped: int  # fills dropped as outliers
    units: int  # GPU-hours in the kept fills
    counterparties: int  # distinct addresses in the kept fills


def weighted_median(values: Iterable[tuple[int, int]]) -> int:
    """The low weighted median of (value, weight) pairs: the smallest value at or below which lies at
    least half the weight. It is always one of the values."""
    pairs = sorted(values)
    total = sum(w for _, w in pairs)
    if total <= 0:
        raise ValueError("a weighted median needs a positive total weight")
    seen = 0
    for value, weight in pairs:
        seen += weight
        if 2 * seen >= total:
            return value
    raise AssertionError("unreachable: the weights sum to the total")


def derive_mark(trades: Sequence[Trade], rules: MarkRules) -> ClassMark:
    """One class's mark from its window's trades (the rules in the module's docstring)."""
    if not trades:
        return ClassMark(None, "no fills in the window", 0, 0, 0, 0)
    median = weighted_median((t.price, t.amount) for t in trades)
    mad = weighted_median((abs(t.price - median), t.amount) for t in trades)
    band = max(rules.outlier_k * mad, Fraction(median * rules.outlier_floor_bps, 10_000))
    kept = [t for t in trades if abs(t.price - median) <= band]
    units = sum(t.amount for t in kept)
    parties = len({t.maker.lower() for t in kept} | {t.taker.lower() for t in kept})
    dropped = len(trades) - len(kept)
    if units < rules.min_units:
        reason = f"{units} GPU-hours traded, under the minimum of {rules.min_units}"
        return ClassMark(None, reason, len(kept), dropped, units, parties)
    if parties < rules.min_counterparties:
        reason = f"{parties} distinct counterparties, under the minimum of {rules.min_counterparties}"
        return ClassMark(None, reason, len(kept), dropped, units, parties)
    vwap = sum(t.amount * t.price for t in kept) // units
    if vwap == 0:
        return ClassMark(None, "the fills' average price is 0", len(kept), dropped, units, parties)
    reason = f"VWAP of {len(kept)} fills ({dropped} outliers dropped around median {median}, MAD {mad})"
    return ClassMark(vwap, reason, len(kept), dropped, units, parties)


def derive_marks(trades: Iterable[Trade], rules: MarkRules) -> dict[bytes, ClassMark]:
    """Every class that traded in the window, each derived from its own fills only."""
    by_class: dict[bytes, list[Trade]] = defaultdict(list)
    for trade in trades:
        by_class[trade.gpu_class].append(trade)
    return {gpu_class: derive_mark(v, rules) for gpu_class, v in sorted(by_class.items())}


class Fills(Protocol):
    """What a mark needs of the chain (oracle/node/fills.py reads it)."""

    def trades(self, start: int, end: int) -> Sequence[Trade]:
        """The fills of chain time [start, end)."""
        ...

    def bounds(self, gpu_class: bytes, epoch: int) -> tuple[int, int]:
        """The least and greatest mark of `epoch` the contract accepts for the class (least > greatest:
        none, it already has a mark as recent)."""
        ...


class MarkSource:
    """An oracle node's mark prices for an epoch: derived from the fills of the window that ends with the
    epoch, each class's override (when given) in place of what the fills say.

    Without `fills` only overrides are proposed. A class with no mark is left out of the report, and
    so are all derived marks of an epoch whose fills could not be read: a missing mark keeps the last
    one on chain, a guessed one would not."""

    def __init__(
        self,
        fills: Fills | None,
        rules: MarkRules,
        window: int,
        overrides: Mapping[bytes, int],
        epoch_seconds: int,
    ) -> None:
        self._fills = fills
        self.rules = rules
        self.window = window
        self.overrides = dict(overrides)
        self.epoch_seconds = epoch_seconds

    def __call__(self, epoch: int) -> list[MarkPrice]:
        prices = self.derive(epoch) | self.overrides
        return [MarkPrice(c, epoch, p) for c, p in sorted(prices.items())]

    def derive(self, epoch: int) -> dict[bytes, int]:
        """The classes whose fills in the window ending with `epoch` give a mark, and their marks."""
        if self._fills is None:
            return {}
        end = (epoch + 1) * self.epoch_seconds
        try:
            derived = derive_marks(self._fills.trades(end - self.window, end), self.rules)
            prices = {c: m.price for c, m in derived.items() if m.price is not None}
            bounds = {c: self._fills.bounds(c, epoch) for c in prices}
        except FillsUnavailable as exc:
            log.warning("epoch %d: no marks from fills: %s", epoch, exc)
            return {}
        for gpu_class, mark in derived.items():
            name = from_bytes32(gpu_class)
            if mark.price is None:
                log.info("epoch %d: no mark for %s: %s", epoch, name, mark.reason)
                continue
            log.info("epoch %d: mark %d for %s: %s", epoch, mark.price, name, mark.reason)
            low, high = bounds[gpu_class]
            if low > high:
                log.info("epoch %d: %s already has a mark of this epoch or a later one", epoch, name)
                del prices[gpu_class]
            elif not low <= mark.price <= high:
                prices[gpu_class] = min(max(mark.price, low), high)
                log.info(
                    "epoch %d: %s brought to %d, one step from its last mark", epoch, name, prices[gpu_class]
                )
        return prices
