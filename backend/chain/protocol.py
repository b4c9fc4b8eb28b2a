"""Constants of the protocol as the contracts define them."""

HOUR = 3_600
"""Seconds in an hour: GPU-hours are sold, booked and attested by the unix hour (GpuHours, the oracle's
epochs)."""

DEV_CHAIN_IDS = frozenset({31337, 1337})
"""Development chains (Anvil, Hardhat): the only chains where the well-known dev accounts may sign and
MockUSDC may be deployed."""
