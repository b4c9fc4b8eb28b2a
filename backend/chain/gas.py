"""The gas limit of a transaction built here: the node's estimate plus a margin.

An estimate is exact for the state it was made on. Between building and mining, other transactions
can make the same call dearer: a balance emptied in between turns the slot the call writes from
nonzero-to-nonzero (2,900 gas) into zero-to-nonzero (20,000), 17,100 gas more for each such slot,
enough to run a fill out of gas inside the mint. Unused gas is refunded, so the margin costs the
sender nothing unless it is used.
"""

from __future__ import annotations

#: Added to every estimate, in percent of it ...
GAS_MARGIN_PERCENT = 25
#: ... and never less than this: one fresh storage slot with room to spare.
GAS_MARGIN_MIN = 30_000


def with_margin(estimate: int) -> int:
    """The gas limit for a call the node estimated at `estimate`."""
    return estimate + max(estimate * GAS_MARGIN_PERCENT // 100, GAS_MARGIN_MIN)


def describe_margin() -> str:
    """The margin in words, for the API's documentation of the transactions it builds."""
    return f"the node's estimate plus {GAS_MARGIN_PERCENT} %, at least {GAS_MARGIN_MIN:,} gas more"
