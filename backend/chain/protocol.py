"""Constants of the protocol as the contracts define them (tests/test_protocol.py holds them to the
Solidity sources, so a change on one side fails until the other follows)."""

from __future__ import annotations

from enum import IntEnum, StrEnum

HOUR = 3_600
"""Seconds in an hour: GPU-hours are sold, booked and attested by the unix hour (GpuHours, the oracle's
epochs)."""

EPOCH_SECONDS = HOUR
"""An oracle epoch (AttestationOracle.EPOCH): epoch = floor(timestamp / EPOCH_SECONDS)."""

DEV_CHAIN_IDS = frozenset({31337, 1337})
"""Development chains (Anvil, Hardhat): the only chains where the well-known dev accounts may sign and
MockUSDC may be minted."""


class OrderKind(IntEnum):
    """IExchange.OrderKind."""

    PRIMARY_SELL = 0
    SELL = 1
    BUY = 2


class CloseReason(IntEnum):
    """IGpuHours.CloseReason: why a capacity or a booking ended."""

    NONE = 0
    COMPLETED = 1
    EXPIRED_UNUSED = 2
    PROVIDER_FAILED = 3
    LIQUIDATED = 4
    PROVIDER_CANCELLED = 5


class CapacityStatus(IntEnum):
    """IGpuHours.CapacityStatus: the lifecycle of a capacity (one ERC-1155 id)."""

    NONE = 0
    ACTIVE = 1
    CANCELLED = 2
    CLOSED = 3


class CloseReasonName(StrEnum):
    """CloseReason as the store and the API write it (CLOSE_REASONS)."""

    NONE = "none"
    COMPLETED = "completed"
    EXPIRED_UNUSED = "expired_unused"
    PROVIDER_FAILED = "provider_failed"
    LIQUIDATED = "liquidated"
    PROVIDER_CANCELLED = "provider_cancelled"


class CapacityStatusName(StrEnum):
    """CapacityStatus as the store and the API write it (CAPACITY_STATUSES)."""

    NONE = "none"
    ACTIVE = "active"
    CANCELLED = "cancelled"
    CLOSED = "closed"


def names(enum: type[IntEnum]) -> tuple[str, ...]:
    """The members' names in snake case, by value: what the store and the API write."""
    return tuple(member.name.lower() for member in sorted(enum))


ORDER_KINDS = names(OrderKind)
CLOSE_REASONS = names(CloseReason)
CAPACITY_STATUSES = names(CapacityStatus)
