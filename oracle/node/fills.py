"""The Exchange's executed fills over a span of chain time, as the trades a mark price is derived from.

A span of time becomes a span of blocks by the blocks' own timestamps (a binary search, about 2·log2 of
the chain's height in header reads), so every oracle node reading the same chain reads the same fills,
whatever its own clock says. Each fill's class is its capacity's node's registered GPU model, read from
GpuHours once per capacity.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from backend.chain.client import Market
from oracle.node.marks import FillsUnavailable, Trade
from oracle.protocol.report import UINT128_MAX
from oracle.protocol.rpc import RPC_ERRORS

LOG_BLOCKS = 2_000  # blocks per eth_getLogs request, under the limits public RPC providers set


class FillReader:
    """The chain as a mark sees it (oracle.node.marks.Fills)."""

    def __init__(self, market: Market, log_blocks: int = LOG_BLOCKS) -> None:
        self.market = market
        self.log_blocks = log_blocks
        self._class_of = cache(self._gpu_class)  # a capacity's node, and a node's model, never change

    def trades(self, start: int, end: int) -> list[Trade]:
        """Every fill in a block whose timestamp is in [start, end), oldest first."""
        try:
            first, last = self.blocks(start, end)
            return [self._trade(e) for e in self._fills(first, last)]
        except RPC_ERRORS as exc:
            raise FillsUnavailable(f"the chain could not be read: {exc}") from None

    def bounds(self, gpu_class: bytes, epoch: int) -> tuple[int, int]:
        """The prices AttestationOracle accepts for the class's mark of `epoch`: within MAX_MARK_STEP of
        its last mark, any before its first, none once it has a mark of this epoch or a later one."""
        try:
            last, last_epoch = self.market.oracle.functions.markPrice(gpu_class).call()
            if last == 0:
                return 1, UINT128_MAX
            step = self.market.oracle.functions.MAX_MARK_STEP().call()
        except RPC_ERRORS as exc:
            raise FillsUnavailable(f"the last mark could not be read: {exc}") from None
        if last_epoch >= epoch:
            return 1, 0
        return -(-last // step), last * step

    def blocks(self, start: int, end: int) -> tuple[int, int]:
        """The first and last block stamped in [start, end); first > last when there is none."""
        latest = self.market.w3.eth.block_number
        return self._first_at(start, latest), self._first_at(end, latest) - 1

    def _first_at(self, timestamp: int, latest: int) -> int:
        """The first block stamped at or after `timestamp`; latest + 1 when none is yet."""
        low, high = 0, latest + 1
        while low < high:
            middle = (low + high) // 2
            if self.market.w3.eth.get_block(middle)["timestamp"] >= timestamp:
                high = middle
            else:
                low = middle + 1
        return low

    def _fills(self, first: int, last: int) -> list[Any]:
        event = self.market.exchange.events.OrderFilled
        logs: list[Any] = []
        for start in range(first, last + 1, self.log_blocks):
            logs.extend(event.get_logs(from_block=start, to_block=min(last, start + self.log_blocks - 1)))
        return logs

    def _trade(self, log: Any) -> Trade:
        args = log["args"]
        return Trade(
            args["maker"], args["taker"], self._class_of(args["capacityId"]), args["amount"], args["price"]
        )

    def _gpu_class(self, capacity_id: int) -> bytes:
        return bytes(self.market.node(self.market.capacity(capacity_id)["nodeId"])["gpuModel"])
