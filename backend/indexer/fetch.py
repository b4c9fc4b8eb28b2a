"""eth_getLogs over adaptive block ranges.

The range starts at settings.indexer_batch_blocks and doubles after each full-range success, up to
indexer_max_batch_blocks, while an answer holds at most half of `max_logs` logs; an answer with more
than `max_logs` narrows the next range in proportion, so a batch stays a few seconds of work on
dense chains too. When the node refuses a range (too many results, a range limit) it shrinks
to the range the node suggests when its message carries one, else to half; a fixed range limit also
caps later growth. Every refusal strictly shrinks the range, so no range is asked twice in a row, and
a single block the node still refuses is an error rather than a loop. Timeouts, HTTP 429 and 5xx are
retried with backoff by the RPC client (rpc.py).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import msgspec

from backend.indexer.rpc import RangeTooLarge, Rpc, RpcUnavailable

log = logging.getLogger(__name__)


class FetchError(RuntimeError):
    """Logs of a block range could not be fetched."""


class Log(msgspec.Struct, frozen=True):
    """One log as eth_getLogs returns it, with numbers parsed and hex lowercased (a struct: a backfill
    makes a million, and a frozen dataclass costs several times more to create)."""

    block_number: int
    block_hash: str
    block_time: int | None
    tx_hash: str
    tx_index: int
    log_index: int
    address: str
    topics: tuple[str, ...]
    data: str

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Log:
        ts = raw.get("blockTimestamp")
        return cls(
            block_number=int(raw["blockNumber"], 16),
            block_hash=raw["blockHash"].lower(),
            block_time=int(ts, 16) if ts else None,
            tx_hash=raw["transactionHash"].lower(),
            tx_index=int(raw["transactionIndex"], 16),
            log_index=int(raw["logIndex"], 16),
            address=raw["address"].lower(),
            topics=tuple([t.lower() for t in raw["topics"]]),
            data=raw["data"],
        )


class LogFetcher:
    """Logs of `addresses`, one adaptive range at a time."""

    def __init__(
        self,
        rpc: Rpc,
        addresses: Sequence[str],
        span: int = 2_000,
        max_span: int = 100_000,
        max_logs: int = 20_000,
    ):
        self.rpc = rpc
        self.max_logs = max_logs
        self.addresses = [a.lower() for a in addresses]
        self.max_span = max(1, max_span)
        self.span = max(1, min(span, self.max_span))
        self.ceiling: int | None = None  # a node's fixed block-range limit, once it told us

    def fetch(self, start: int, stop: int) -> tuple[int, list[Log]]:
        """Logs of blocks start..end for the largest end ≤ stop the node accepts now; returns (end, logs)."""
        if stop < start:
            raise ValueError(f"empty range {start}..{stop}")
        while True:
            end = min(stop, start + self.span - 1)
            width = end - start + 1
            try:
                raw = self.rpc.get_logs(start, end, self.addresses)
            except RangeTooLarge as exc:
                if width == 1:
                    raise FetchError(
                        f"the node refuses eth_getLogs even for block {start} alone: {exc}"
                    ) from None
                smaller = exc.span if exc.span is not None and 0 < exc.span < width else width // 2
                if exc.hard_limit and exc.span:
                    self.ceiling = min(exc.span, self.ceiling or exc.span)
                log.info(
                    "eth_getLogs %d..%d refused (%s); trying %d blocks", start, end, exc.rpc_message, smaller
                )
                self.span = smaller
                continue
            except RpcUnavailable:
                # A node that keeps timing out may be choking on the range: ask for less next time.
                self.span = max(1, width // 2)
                raise
            if len(raw) > self.max_logs:
                self.span = max(1, width * self.max_logs // len(raw))
            elif width == self.span and 2 * len(raw) <= self.max_logs:
                # A full range went through: try a larger one next time.
                self.span = min(self.span * 2, self.max_span, self.ceiling or self.max_span)
            logs = [Log.from_json(item) for item in raw]
            logs.sort(key=lambda lg: (lg.block_number, lg.log_index))
            return end, logs
