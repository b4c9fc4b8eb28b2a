"""A simulated GPU machine for tests and the local demo: deterministic from a seed.

Every value at time t is a function of (seed, GPU, whole second of t) and of the faults injected so
far, and the energy counter integrates the simulated power between reads, so two sources with the
same seed read at the same times give the same samples. Faults come on demand: an outage of the
whole source, a throttled GPU, an Xid or ECC error, a GPU lost off the bus, a malformed reading.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from oracle.agent.telemetry.source import TelemetrySource
from oracle.protocol.sample import GpuInfo, GpuSample, GpuUnreadable, Reading, SampleError, SourceUnavailable

GIB = 1024**3
THERMAL_SLOWDOWN = 0x20 | 0x40  # NVML: software and hardware thermal slowdown
_MASK64 = 2**64 - 1


def _mix(*words: int) -> float:
    """splitmix64 over the words: a cheap, stateless uniform in [0, 1)."""
    x = 0x9E3779B97F4A7C15
    for w in words:
        x = (x ^ (w & _MASK64)) & _MASK64
        x = (x + 0x9E3779B97F4A7C15) & _MASK64
        z = x
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
        x = z ^ (z >> 31)
    return x / 2**64


@dataclass
class SimulatedGpuModel:
    """The hardware being pretended. Defaults resemble an H100 SXM."""

    name: str = "NVIDIA H100 80GB HBM3"
    idle_power_w: float = 70.0
    max_power_w: float = 700.0
    max_sm_clock_mhz: int = 1980
    memory_bytes: int = 80 * GIB
    idle_temp_c: int = 32
    max_temp_c: int = 78


@dataclass
class _GpuState:
    load_pct: float
    throttle: float = 1.0
    dropped: bool = False
    corrupt_next: bool = False
    xid_count: int = 0
    last_xid: int = 0
    ecc_dbe: int = 0
    energy_mj: float = 0.0
    last_t: float | None = None


class SimulatedSource(TelemetrySource):
    """`gpus` simulated GPUs whose readings depend only on `seed`, the clock and injected faults."""

    name = "simulated"

    def __init__(
        self,
        seed: int = 0,
        gpus: int = 8,
        model: SimulatedGpuModel | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if gpus < 1:
            raise ValueError("a simulated machine needs at least one GPU")
        self.seed = seed
        self.model = model or SimulatedGpuModel()
        self._clock = clock
        self._infos = [GpuInfo(uuid=_uuid(seed, i), index=i, model=self.model.name) for i in range(gpus)]
        self._state = [
            _GpuState(load_pct=60 + 35 * _mix(seed, i, 1), energy_mj=1e9 * (1 + _mix(seed, i, 2)))
            for i in range(gpus)
        ]
        self._outages: list[tuple[float, float]] = []
        self._down = False
        self._lock = threading.Lock()  # the sampler thread and a challenge both advance the counters

    # Faults on demand ------------------------------------------------------------------------

    def start_outage(self) -> None:
        """Every read raises SourceUnavailable until `end_outage()`."""
        self._down = True

    def end_outage(self) -> None:
        self._down = False

    def schedule_outage(self, start: float, end: float) -> None:
        """Reads at clock times in [start, end) raise SourceUnavailable."""
        self._outages.append((start, end))

    def throttle(self, gpu: int, factor: float) -> None:
        """Clocks and power scale by `factor` (0 < factor <= 1), with thermal slowdown reasons set."""
        if not 0 < factor <= 1:
            raise ValueError("throttle factor must be in (0, 1]")
        self._state[gpu].throttle = factor

    def set_load(self, gpu: int, load_pct: float) -> None:
        self._state[gpu].load_pct = max(0.0, min(100.0, load_pct))

    def inject_xid(self, gpu: int, code: int = 79) -> None:
        """An Xid error (79: GPU fell off the bus; 48: double-bit ECC; 13: graphics engine exception)."""
        self._state[gpu].xid_count += 1
        self._state[gpu].last_xid = code

    def inject_ecc(self, gpu: int, count: int = 1) -> None:
        self._state[gpu].ecc_dbe += count

    def drop(self, gpu: int) -> None:
        """The GPU stops answering (GpuUnreadable) until `restore`."""
        self._state[gpu].dropped = True

    def restore(self, gpu: int) -> None:
        self._state[gpu].dropped = False

    def corrupt_next(self, gpu: int) -> None:
        """The GPU's next reading is impossible (negative power): a MalformedSample."""
        self._state[gpu].corrupt_next = True

    # TelemetrySource ---------------------------------------------------------------------------

    def gpus(self) -> list[GpuInfo]:
        return list(self._infos)

    def read(self) -> Reading:
        return self.read_at(self._clock())

    def read_at(self, t: float) -> Reading:
        """The reading the machine gives at time t (history for backfill, or now)."""
        if self._down or any(start <= t < end for start, end in self._outages):
            raise SourceUnavailable("simulated outage")
        reading = Reading()
        with self._lock:
            for info, state in zip(self._infos, self._state, strict=True):
                try:
                    reading.samples.append(self._sample(info, state, t))
                except SampleError as exc:
                    reading.errors.append(exc)
        return reading

    def _load_and_power(self, info: GpuInfo, state: _GpuState, t: float) -> tuple[float, float]:
        jitter = _mix(self.seed, info.index, int(t)) - 0.5
        load = max(0.0, min(100.0, state.load_pct + 10 * jitter))
        m = self.model
        return load, (m.idle_power_w + (m.max_power_w - m.idle_power_w) * load / 100) * state.throttle

    def _advance(self, info: GpuInfo, state: _GpuState, t: float) -> tuple[float, float]:
        """Integrate the energy counter up to t; returns (load, power) at t."""
        load, power = self._load_and_power(info, state, t)
        if state.last_t is not None and t > state.last_t:
            state.energy_mj += power * (t - state.last_t) * 1000
        if state.last_t is None or t > state.last_t:
            state.last_t = t
        return load, power

    def _sample(self, info: GpuInfo, state: _GpuState, t: float) -> GpuSample:
        load, power = self._advance(info, state, t)
        if state.dropped:
            raise GpuUnreadable(info.uuid, "simulated: GPU lost")
        if state.corrupt_next:
            state.corrupt_next = False
            power = -power
        m = self.model
        return GpuSample.build(
            uuid=info.uuid,
            index=info.index,
            timestamp=t,
            utilization_pct=round(load, 1),
            sm_active_pct=round(load * 0.85, 1),
            power_w=round(power, 3),
            energy_mj=int(state.energy_mj),
            sm_clock_mhz=int(m.max_sm_clock_mhz * state.throttle),
            memory_used_bytes=int(m.memory_bytes * (0.2 + 0.7 * load / 100)),
            temperature_c=int(
                m.idle_temp_c
                + (m.max_temp_c - m.idle_temp_c) * load / 100
                + (12 if state.throttle < 1 else 0)
            ),
            ecc_dbe_errors=state.ecc_dbe,
            xid_count=state.xid_count,
            last_xid=state.last_xid,
            throttle_reasons=THERMAL_SLOWDOWN if state.throttle < 1 else 0,
        )

    def energy_mj(self, uuid: str) -> int | None:
        """The energy counter advanced to now, without building samples."""
        t = self._clock()
        for info, state in zip(self._infos, self._state, strict=True):
            if info.uuid == uuid:
                if state.dropped or self._down:
                    return None
                with self._lock:
                    self._advance(info, state, t)
                    return int(state.energy_mj)
        return None


def _uuid(seed: int, index: int) -> str:
    h = hashlib.sha256(f"gpuhours-sim:{seed}:{index}".encode()).hexdigest()
    return f"GPU-{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"
