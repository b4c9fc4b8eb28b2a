"""Dollars and times as people type them, to the stablecoin's base units and the chain's seconds."""

from __future__ import annotations

import pytest

from backend.cli_units import UnitError, parse_duration, parse_time, parse_usd, plain_usd, show_usd


@pytest.mark.parametrize(
    ("text", "units"),
    [("2.10", 2_100_000), ("$2.1", 2_100_000), ("0.000001", 1), ("1,234.5", 1_234_500_000), ("7", 7_000_000)],
)
def test_dollars_to_base_units(text, units):
    assert parse_usd(text, 6) == units


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("2.1234567", "more than 6 decimal places"),
        ("0", "more than $0"),
        ("-1", "more than $0"),
        ("NaN", "more than $0"),
        ("two", "not a dollar amount"),
    ],
)
def test_bad_dollars_are_refused(text, reason):
    with pytest.raises(UnitError, match=reason.replace("$", r"\$")):
        parse_usd(text, 6)


def test_base_units_shown_as_dollars():
    assert show_usd(2_100_000, 6) == "$2.10"
    assert show_usd(33_264_000, 6) == "$33.264"
    assert show_usd(1_234_500_000_000, 6) == "$1,234,500.00"
    assert show_usd(0, 6) == "$0.00"
    assert plain_usd(1_234_500_001, 6) == "1234.500001"


def test_durations_and_times():
    assert parse_duration("90m") == 5_400
    assert parse_duration("1d12h") == 129_600
    assert parse_time("1767261600") == 1_767_261_600
    assert parse_time("2026-01-01T10:00") == parse_time("2026-01-01T10:00+00:00") == 1_767_261_600
    assert parse_time("2026-01-01T11:00+01:00") == 1_767_261_600
    for bad in ("24", "h", "3w", "1h x"):
        with pytest.raises(UnitError, match="not a duration"):
            parse_duration(bad)
    with pytest.raises(UnitError, match="not a time"):
        parse_time("tomorrow")
