"""Constants of the protocol as the contracts define them."""

HOUR = 3_600
"""Seconds in an hour: GPU-hours are sold, booked and attested by the unix hour (GpuHours, the oracle's
epochs)."""
