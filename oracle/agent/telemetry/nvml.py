"""Telemetry from NVML through nvidia-ml-py (`import pynvml`).

What NVML gives directly: UUID, utilization (share of time a kernel ran), power (mW), the total
energy counter (mJ since the driver loaded; Volta and newer), SM clock, memory used, temperature,
uncorrected volatile ECC errors, and the current clock event (throttle) reasons.

What it does not: there is no per-device Xid counter in NVML (no `nvmlDeviceGetXidErrors`). Xid
errors reach an NVML client only as events, so this source registers an event set for
`nvmlEventTypeXidCriticalError` when it opens and drains it on every read: `xid_count` counts Xids
*since the source opened* and `last_xid` is the latest code. Where the driver refuses event
registration (some vGPU and MIG setups), both stay None rather than pretending to be zero. Nor does
NVML have SM activity (that is a DCGM profiling metric), so `sm_active_pct` is None here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from types import ModuleType
from typing import Any

from oracle.agent.telemetry.source import TelemetrySource
from oracle.protocol.sample import (
    GpuInfo,
    GpuSample,
    GpuUnreadable,
    MalformedSample,
    Reading,
    SampleError,
    SourceUnavailable,
)

log = logging.getLogger(__name__)


def _load_pynvml() -> ModuleType:
    try:
        import pynvml
    except ImportError as exc:  # pragma: no cover - nvidia-ml-py is a dependency
        raise SourceUnavailable("nvidia-ml-py is not installed") from exc
    return pynvml


class NvmlSource(TelemetrySource):
    """Every GPU NVML can see on this machine.

    `nvml` is the pynvml module; tests pass a stand-in, since NVML itself needs a GPU and driver.
    """

    name = "nvml"

    def __init__(self, nvml: ModuleType | None = None, clock: Callable[[], float] = time.time) -> None:
        self._nvml = nvml or _load_pynvml()
        self._clock = clock
        try:
            self._nvml.nvmlInit()
        except self._nvml.NVMLError as exc:
            raise SourceUnavailable(f"NVML did not initialise: {exc}") from exc
        try:
            count = self._nvml.nvmlDeviceGetCount()
            self._handles = [self._nvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
            self._gpus = [
                GpuInfo(
                    uuid=_text(self._nvml.nvmlDeviceGetUUID(h)),
                    index=i,
                    model=_text(self._nvml.nvmlDeviceGetName(h)),
                )
                for i, h in enumerate(self._handles)
            ]
        except self._nvml.NVMLError as exc:
            self._nvml.nvmlShutdown()
            raise SourceUnavailable(f"NVML could not enumerate GPUs: {exc}") from exc
        self._xid_count = [0] * count
        self._last_xid = [0] * count
        self._events = self._register_xid_events()

    def _register_xid_events(self) -> Any | None:
        nvml = self._nvml
        try:
            events = nvml.nvmlEventSetCreate()
        except nvml.NVMLError as exc:
            log.warning("NVML event sets unavailable (%s): Xid errors will not be counted", exc)
            return None
        try:
            for handle in self._handles:
                nvml.nvmlDeviceRegisterEvents(handle, nvml.nvmlEventTypeXidCriticalError, events)
        except nvml.NVMLError as exc:
            log.warning("cannot register for Xid events (%s): Xid errors will not be counted", exc)
            nvml.nvmlEventSetFree(events)
            return None
        return events

    def _drain_xid_events(self) -> None:
        """Count every Xid event waiting in the set without blocking (timeout 0 ms)."""
        nvml = self._nvml
        while True:
            try:
                event = nvml.nvmlEventSetWait_v2(self._events, 0)
            except nvml.NVMLError_Timeout:
                return
            except nvml.NVMLError as exc:
                log.warning("reading Xid events failed: %s", exc)
                return
            for i, handle in enumerate(self._handles):
                if _same_handle(handle, event.device):
                    self._xid_count[i] += 1
                    self._last_xid[i] = int(event.eventData)

    def gpus(self) -> list[GpuInfo]:
        return list(self._gpus)

    def read(self) -> Reading:
        if self._events is not None:
            self._drain_xid_events()
        reading = Reading()
        for i, (gpu, handle) in enumerate(zip(self._gpus, self._handles, strict=True)):
            try:
                reading.samples.append(self._sample(i, gpu, handle))
            except SampleError as exc:
                reading.errors.append(exc)
        return reading

    def _sample(self, i: int, gpu: GpuInfo, handle: Any) -> GpuSample:
        nvml = self._nvml
        try:
            util = nvml.nvmlDeviceGetUtilizationRates(handle)
            values: dict[str, Any] = {
                "uuid": gpu.uuid,
                "index": gpu.index,
                "timestamp": self._clock(),
                "utilization_pct": util.gpu,
                "power_w": nvml.nvmlDeviceGetPowerUsage(handle) / 1000,
                "sm_clock_mhz": nvml.nvmlDeviceGetClockInfo(handle, nvml.NVML_CLOCK_SM),
                "memory_used_bytes": nvml.nvmlDeviceGetMemoryInfo(handle).used,
                "temperature_c": nvml.nvmlDeviceGetTemperature(handle, nvml.NVML_TEMPERATURE_GPU),
            }
        except nvml.NVMLError as exc:
            raise GpuUnreadable(gpu.uuid, f"NVML: {exc}") from None
        except (AttributeError, TypeError) as exc:
            raise MalformedSample(gpu.uuid, f"NVML returned an unexpected value: {exc}") from None
        # Optional values: hardware without them answers NOT_SUPPORTED, and the sample says None.
        values["energy_mj"] = self._optional(nvml.nvmlDeviceGetTotalEnergyConsumption, handle)
        values["ecc_dbe_errors"] = self._optional(
            nvml.nvmlDeviceGetTotalEccErrors,
            handle,
            nvml.NVML_MEMORY_ERROR_TYPE_UNCORRECTED,
            nvml.NVML_VOLATILE_ECC,
        )
        values["throttle_reasons"] = self._optional(nvml.nvmlDeviceGetCurrentClocksEventReasons, handle)
        if self._events is not None:
            values["xid_count"] = self._xid_count[i]
            values["last_xid"] = self._last_xid[i]
        return GpuSample.build(**values)

    def _optional(self, fn: Callable[..., Any], *args: Any) -> Any | None:
        try:
            return fn(*args)
        except self._nvml.NVMLError:
            return None

    def close(self) -> None:
        if self._events is not None:
            self._nvml.nvmlEventSetFree(self._events)
            self._events = None
        self._nvml.nvmlShutdown()


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _same_handle(a: Any, b: Any) -> bool:
    # pynvml handles are ctypes pointers; two pointers to one device compare by address.
    try:
        from ctypes import addressof

        return a == b or addressof(a.contents) == addressof(b.contents)
    except (AttributeError, TypeError, ValueError):
        return a == b
