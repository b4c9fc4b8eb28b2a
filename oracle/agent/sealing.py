"""Sealed hours: each ended hour's samples frozen once, so every oracle fetching it gets the same bytes.

A buffer read is a moving view: the oldest hour is trimmed sample by sample while newer ones come in,
so oracles asking at different times for it would get different sets and different samples roots.
Once an hour has ended and `settle` more seconds have passed (its last reads are in the buffer), it
is sealed: its samples are encoded once and served as those bytes for as long as it is kept. Sealing
runs on every sampler tick and on every request, so an hour is sealed while it is whole in the
buffer. An hour not sealed yet is `NotSealed` (HTTP 425: ask again); one sealed longer ago than the
buffer lasts, or ending before the agent's history begins, is `NotKept` (404).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable

from backend.chain.protocol import EPOCH_SECONDS
from oracle.agent.sampling import SampleBuffer


class NotSealed(Exception):
    """The hour has not ended here (plus its settle time) yet."""


class NotKept(Exception):
    """The agent holds no sealed set of that hour: before its history began, or already dropped."""


class SealedHours:
    """The last `keep` ended hours of `buffer`, each sealed once as JSON bytes."""

    def __init__(
        self,
        buffer: SampleBuffer,
        *,
        history_since: float,
        keep: int,
        settle: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._buffer = buffer
        self._first = int(history_since // EPOCH_SECONDS)  # the first hour the agent has samples of
        self._keep = max(1, keep)
        self._settle = settle
        self._clock = clock
        self._sealed: dict[int, bytes] = {}
        self._lock = threading.Lock()

    def seal_ended(self) -> None:
        """Seal every hour that has ended and settled and is not sealed yet, oldest first."""
        last = int((self._clock() - self._settle) // EPOCH_SECONDS) - 1
        with self._lock:
            first = max(self._first, last - self._keep + 1, max(self._sealed, default=self._first - 1) + 1)
            for epoch in range(first, last + 1):
                start = epoch * EPOCH_SECONDS
                samples = self._buffer.between(start, start + EPOCH_SECONDS)
                body = {"epoch": epoch, "samples": [s.model_dump() for s in samples]}
                self._sealed[epoch] = json.dumps(body, separators=(",", ":")).encode()
            for old in [e for e in self._sealed if e <= last - self._keep]:
                del self._sealed[old]

    def get(self, epoch: int) -> bytes:
        """The sealed samples of `epoch`, the same bytes on every call."""
        self.seal_ended()
        with self._lock:
            if epoch in self._sealed:
                return self._sealed[epoch]
            kept = sorted(self._sealed)
        if epoch >= self._first and epoch > max(kept, default=self._first - 1):
            end = (epoch + 1) * EPOCH_SECONDS
            raise NotSealed(
                f"hour {epoch} is not sealed yet: it ends at {end}, sealed {self._settle:g} s later"
            )
        raise NotKept(f"hour {epoch} is not kept here: the sealed hours are {kept}")
