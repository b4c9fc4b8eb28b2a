"""One clock: an oracle node cuts epochs by its own clock, and refuses to run on one the chain is ahead of.

AttestationOracle accepts a report for an epoch only once the chain's time (the block's timestamp)
has passed its end, and only for `maxDelay` after. A node whose clock is behind the chain's (a dev
chain warped forward, a node clock that drifted) would attest hours the chain has long closed, and
never the chain's current ones. So the node compares the chain's latest block with its clock when it
starts and refuses to run when the chain is ahead by more than `max_clock_skew` seconds. A chain
behind the node's clock is not refused: an idle dev chain mines no blocks, and the next block that
carries a report takes the present time.
"""

from __future__ import annotations


def clock_skew_error(latest_block_timestamp: int, now: float, bound: float) -> str | None:
    """None when the chain's latest block is at most `bound` seconds ahead of `now`, else why not."""
    ahead = latest_block_timestamp - now
    if ahead <= bound:
        return None
    return (
        f"the chain's latest block is {ahead:.0f} s ahead of this node's clock, more than "
        f"GPUHOURS_ORACLE_MAX_CLOCK_SKEW ({bound:g} s): set the clock (or the dev chain's time) right"
    )
