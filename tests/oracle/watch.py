"""A test clock moved by hand, and an hour of polls as a node running all hour would have made them.

An oracle attests uptime only for an hour its own polls covered (oracle/node/epoch_attestation.py), so
tests that observe an hour after the fact first walk the node's clock through it, polling each agent.
"""

from __future__ import annotations

from oracle.node.epoch_attestation import epoch_bounds
from oracle.node.service import OracleNode


class StepClock:
    """Time that stands at `t` until a test moves it."""

    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def watch_hour(
    node: OracleNode, clock: StepClock, epoch: int, since: float = 0.0, every: float = 60.0
) -> None:
    """Poll every agent of `node` each `every` seconds from `since` seconds into `epoch` to its end,
    then set `clock` back where it was."""
    back = clock.t
    start, end = epoch_bounds(epoch)
    clock.t = start + since
    while clock.t < end:
        for target in node.targets:
            node.poll(target)
        clock.t += every
    clock.t = back
