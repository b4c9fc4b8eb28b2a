"""Pieces the market's read endpoints share: page bounds, address parameters, a node's reliability
as SQL expressions. The bind parameters of the query templates and the market clock are the market
layer's (backend/market/templates.py)."""

from __future__ import annotations

import re
from typing import Any

from eth_utils import is_checksum_address, to_checksum_address
from sqlalchemy import BigInteger, ColumnElement, Connection, case, cast, func, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from backend.api.errors import ApiError
from backend.chain.protocol import HOUR
from backend.config import ApiSettings
from backend.db.models import Booking, Capacity, IndexedAttestation, Parameter, table_of

att = table_of(IndexedAttestation)
bkg = table_of(Booking)
cap = table_of(Capacity)
param = table_of(Parameter)

_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")


class least(FunctionElement):  # named like the SQL function it renders
    """The smaller of two values, NULL only when both are (PostgreSQL's LEAST ignores NULLs)."""

    inherit_cache = True

    def __init__(self, a: Any, b: Any, type_: Any):
        super().__init__(a, b)
        self.type = type_


@compiles(least)
def _least(element: least, compiler: Any, **kw: Any) -> str:
    a, b = (compiler.process(arg, **kw) for arg in element.clauses)
    return f"LEAST({a}, {b})"


@compiles(least, "sqlite")
def _least_sqlite(element: least, compiler: Any, **kw: Any) -> str:
    # SQLite's two-argument min() is NULL when either is.
    a, b = (compiler.process(arg, **kw) for arg in element.clauses)
    return f"min(coalesce({a}, {b}), coalesce({b}, {a}))"


#: Items per page when the request does not say (or settings.api_page_max, when lower).
DEFAULT_PAGE = 50


def page_bounds(
    settings: ApiSettings, limit: int | None, offset: int, name: str = "limit"
) -> tuple[int, int]:
    """`limit` (by default DEFAULT_PAGE) checked against settings.api_page_max: 422 beyond it."""
    if limit is None:
        return min(DEFAULT_PAGE, settings.api_page_max), offset
    if limit > settings.api_page_max:
        raise ApiError(422, "invalid_request", f"{name}: at most {settings.api_page_max} per page")
    return limit, offset


def checked_address(value: str, name: str = "address") -> str:
    """A 0x address as its EIP-55 checksum; 422 when it is not 20 hex bytes, or when it is mixed case
    with a wrong checksum (all lower or all upper case carries no checksum and is accepted)."""
    if not _ADDRESS.fullmatch(value):
        raise ApiError(422, "invalid_address", f"{name}: {value!r} is not a 0x-prefixed 20-byte hex address")
    body = value[2:]
    if body != body.lower() and body != body.upper() and not is_checksum_address(value):
        raise ApiError(
            422,
            "invalid_address",
            f"{name}: {value} fails its EIP-55 checksum; expected {to_checksum_address(value)}",
        )
    return to_checksum_address(value)


# AttestationOracle's reliability weight per epoch of age: 2^(-1/168), a half-life of one week.
RELIABILITY_STEP = 2 ** (-1 / 168)


def reliability_bps(chain_id: int | ColumnElement[int], node_id: Any) -> ColumnElement[int]:
    """AttestationOracle.reliabilityBps(node) in SQL, evaluated at the node's latest attested epoch: the
    exponentially weighted mean uptime Σ u(e)·w^(last-e) / Σ w^(last-e) over every epoch from its first
    attested one to its last, an unattested one counting 0, w = RELIABILITY_STEP, rounded down; 0 for a
    node never attested. `node_id` may be a column of an outer query (correlated).

    An approximation of the chain's number, which also counts as failures the hours after the node's
    last attestation that can no longer be attested (the API does not know the chain's clock): the two
    agree within 1 bps (floating point here, fixed point there) for a node attested up to its latest
    closed hour, and this one is higher for a node gone silent since."""
    mine = (att.c.chain_id == chain_id, att.c.node_id == node_id)
    latest = att.alias("latest_attestation")  # its own FROM: not correlated to the sum's rows
    last = (
        select(func.max(latest.c.epoch))
        .where(latest.c.chain_id == chain_id, latest.c.node_id == node_id)
        .scalar_subquery()
    )
    weighted = func.sum(att.c.uptime_bps * func.power(RELIABILITY_STEP, last - att.c.epoch))
    # Σ_{k<n} w^k = (1 - w^n) / (1 - w), n = last - first + 1
    span = (1 - func.power(RELIABILITY_STEP, func.max(att.c.epoch) - func.min(att.c.epoch) + 1)) / (
        1 - RELIABILITY_STEP
    )
    # No rows: a NULL mean, which SQLAlchemy's Python floor() on SQLite would raise on.
    mean = select(func.floor(func.coalesce(weighted / span, 0))).where(*mine).scalar_subquery()
    return func.coalesce(cast(mean, BigInteger), 0)


def epochs_attested(chain_id: int | ColumnElement[int], node_id: Any) -> ColumnElement[int]:
    return select(func.count()).where(att.c.chain_id == chain_id, att.c.node_id == node_id).scalar_subquery()


def sla_thresholds(conn: Connection, chain_id: int, settings: ApiSettings) -> tuple[int, int]:
    """(min uptime bps, min GFLOP per joule) of the Settlement contract's SLA: its last indexed SlaSet
    event, else the deployment settings."""
    value = conn.execute(
        select(param.c.value).where(
            param.c.chain_id == chain_id, param.c.contract == "Settlement", param.c.name == "SlaSet"
        )
    ).scalar()
    sla = _find_sla(value) if value else None
    if sla is None:
        return settings.sla_min_uptime_bps, settings.sla_min_gflops_per_joule
    return int(sla["minUptimeBps"]), int(sla.get("minGflopsPerJoule", 0))


def _find_sla(value: Any) -> dict[str, Any] | None:
    if isinstance(value, dict):
        if "minUptimeBps" in value:
            return value
        for inner in value.values():
            found = _find_sla(inner)
            if found is not None:
                return found
    return None


def meets_sla(min_uptime_bps: int, min_gflops_per_joule: int) -> ColumnElement[bool]:
    """An attested epoch counts as delivered, as Settlement's per-hour rule has it: uptime and
    efficiency at or above the terms of the node's capacity whose window holds the hour (the given
    SLA where none does), and GPU-seconds at least booked GPUs × 3,600 × min uptime ÷ 10,000, rounded
    up, where booked GPUs are those of the node's bookings in that hour (after early ends). The oracle
    stores min(MFLOP/J ÷ 1000, 65535) as GFLOP/J."""
    hour_start = att.c.epoch * HOUR
    window = (
        (cap.c.chain_id == att.c.chain_id)
        & (cap.c.node_id == att.c.node_id)
        & (cap.c.start <= hour_start)
        & (cap.c.end > hour_start)
    )
    min_uptime = func.coalesce(
        select(cap.c.min_uptime_bps).where(window).limit(1).scalar_subquery(), min_uptime_bps
    )
    min_per_joule = func.coalesce(
        select(cap.c.min_gflops_per_joule).where(window).limit(1).scalar_subquery(), min_gflops_per_joule
    )
    booked = (
        select(func.coalesce(func.sum(bkg.c.gpus), 0))
        .select_from(
            bkg.join(cap, (cap.c.chain_id == bkg.c.chain_id) & (cap.c.capacity_id == bkg.c.capacity_id))
        )
        .where(window, bkg.c.start <= hour_start, bkg.c.start + bkg.c.hours * HOUR > hour_start)
        .scalar_subquery()
    )
    per_joule = case((att.c.mflops_per_joule // 1000 > 0xFFFF, 0xFFFF), else_=att.c.mflops_per_joule // 1000)
    required = (booked * HOUR * min_uptime + 9_999) // 10_000
    return (att.c.uptime_bps >= min_uptime) & (per_joule >= min_per_joule) & (att.c.gpu_seconds >= required)
