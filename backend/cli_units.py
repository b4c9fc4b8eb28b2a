"""Dollars and times as people write them, to and from what the contracts take.

Prices are dollars per GPU-hour, in the stablecoin's base units on chain (6 decimals for USDC and
MockUSDC): "$2.10" is 2_100_000. Times are the chain's unix seconds.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

_DURATION = re.compile(r"(\d+)\s*([smhd])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3_600, "d": 86_400}


class UnitError(ValueError):
    """Text that is not a dollar amount, a duration or a time."""


def parse_usd(text: str, decimals: int) -> int:
    """'2.10' or '$2.10' as base units; more places than the stablecoin has, or not positive, refused."""
    try:
        value = Decimal(text.strip().removeprefix("$").replace(",", ""))
    except InvalidOperation:
        raise UnitError(f"{text!r} is not a dollar amount (write it as 2.10)") from None
    if not value.is_finite() or value <= 0:
        raise UnitError(f"{text!r}: a price or amount must be more than $0")
    units = value.scaleb(decimals)
    if units != units.to_integral_value():
        raise UnitError(f"{text!r} has more than {decimals} decimal places, the stablecoin's precision")
    return int(units)


def show_usd(amount: int, decimals: int) -> str:
    """Base units as dollars: at least cents, every place the amount has beyond them."""
    value = Decimal(amount).scaleb(-decimals)
    places = max(2, -value.normalize().as_tuple().exponent)  # type: ignore[operator]
    return f"${value:,.{places}f}"


def plain_usd(amount: int, decimals: int) -> str:
    """The same without the sign and separators, for JSON: '2.10'."""
    return show_usd(amount, decimals).removeprefix("$").replace(",", "")


def parse_duration(text: str) -> int:
    """'90m', '24h', '1d12h' as seconds."""
    compact = text.replace(" ", "")
    parts = _DURATION.findall(compact)
    if not parts or "".join(n + u for n, u in parts) != compact:
        raise UnitError(f"{text!r} is not a duration (write 30m, 24h or 2d)")
    return sum(int(n) * _UNIT_SECONDS[u] for n, u in parts)


def parse_time(text: str) -> int:
    """Unix seconds, or an ISO 8601 time (UTC unless it says otherwise)."""
    if text.isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UnitError(f"{text!r} is not a time (unix seconds or 2026-12-04T09:00Z)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


def show_time(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")
