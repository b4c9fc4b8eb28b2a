"""Sampling a telemetry source on a fixed schedule into a bounded buffer, in a background thread.

No drift: missed ticks are skipped, not queued. A bad reading is logged and counted and never stops
the thread.
"""

from __future__ import annotations

import bisect
import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable

from oracle.agent.telemetry.source import TelemetrySource
from oracle.protocol.sample import GpuSample, SourceUnavailable

log = logging.getLogger(__name__)


class SampleBuffer:
    """The last `capacity` samples, oldest dropped first, in timestamp order."""

    def __init__(self, capacity: int) -> None:
        self._samples: deque[GpuSample] = deque(maxlen=capacity)
        self._lock = threading.Lock()

    def extend(self, samples: list[GpuSample]) -> None:
        with self._lock:
            self._samples.extend(samples)

    def between(self, since: float, until: float) -> list[GpuSample]:
        with self._lock:
            snapshot = list(self._samples)
        times = [s.timestamp for s in snapshot]
        return snapshot[bisect.bisect_left(times, since) : bisect.bisect_left(times, until)]

    def __len__(self) -> int:
        return len(self._samples)


class Sampler:
    """Reads the source every `interval` seconds into the buffer, counting what goes wrong."""

    def __init__(
        self,
        source: TelemetrySource,
        buffer: SampleBuffer,
        interval: float = 1.0,
        clock: Callable[[], float] = time.time,
        on_tick: Callable[[], None] | None = None,
    ) -> None:
        self.source = source
        self.on_tick = on_tick  # after every read: seals the hours that have ended (oracle/agent/sealing.py)
        self.buffer = buffer
        self.interval = interval
        self._clock = clock
        self.reads = 0
        self.sample_errors = 0
        self.outages = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def sample_once(self) -> None:
        try:
            reading = self.source.read()
        except SourceUnavailable as exc:
            self.outages += 1
            log.warning("telemetry unavailable: %s", exc)
            return
        except Exception:  # a source bug must not kill the sampling thread
            self.outages += 1
            log.exception("telemetry source failed unexpectedly")
            return
        self.reads += 1
        self.buffer.extend(reading.samples)
        for error in reading.errors:
            self.sample_errors += 1
            log.warning("bad sample: %s", error)

    def backfill(self, seconds: int) -> None:
        """Pre-fill history from a simulated source, so a fresh demo agent has an hour to attest."""
        read_at = getattr(self.source, "read_at", None)
        if read_at is None:
            raise ValueError("only the simulated source can backfill history")
        now = self._clock()
        t = now - seconds
        while t < now:
            with contextlib.suppress(SourceUnavailable):
                self.buffer.extend(read_at(t).samples)
            t += self.interval

    def _loop(self) -> None:
        next_tick = time.monotonic()
        while not self._stop.is_set():
            self.sample_once()
            if self.on_tick is not None:
                try:
                    self.on_tick()
                except Exception:  # sealing must not kill the sampling thread either
                    log.exception("after a read")
            next_tick += self.interval
            now = time.monotonic()
            if next_tick < now:  # fell behind: skip the missed ticks rather than burst
                next_tick = now + self.interval - (now - next_tick) % self.interval
            self._stop.wait(next_tick - now)

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="sampler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
