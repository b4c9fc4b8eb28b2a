"""Telemetry from a dcgm-exporter endpoint (Prometheus text format over HTTP).

dcgm-exporter publishes one series per GPU, labelled `gpu` (index), `UUID`, `modelName` and
`Hostname` (plus `pci_bus_id`, `device`, and pod labels under Kubernetes). Units, as its counter
files state them: power in W, energy in mJ (a counter since boot), SM clock in MHz, framebuffer in
MiB, temperature in C, GPU utilization in %, and DCGM_FI_PROF_SM_ACTIVE as a ratio 0..1. Its
DCGM_FI_DEV_XID_ERRORS is a gauge holding the *last* Xid code (0 for none), not a count, so this
source fills `last_xid` and leaves `xid_count` None. The exporter stamps no times, so a sample's
timestamp is when it was fetched.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from oracle.agent.telemetry.source import TelemetrySource
from oracle.protocol.sample import (
    GpuInfo,
    GpuSample,
    MalformedSample,
    Reading,
    SampleError,
    SourceUnavailable,
)

MIB = 1024 * 1024

# metric -> (sample field, scale to the field's unit)
METRICS: dict[str, tuple[str, float]] = {
    "DCGM_FI_DEV_GPU_UTIL": ("utilization_pct", 1),
    "DCGM_FI_PROF_SM_ACTIVE": ("sm_active_pct", 100),
    "DCGM_FI_DEV_POWER_USAGE": ("power_w", 1),
    "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION": ("energy_mj", 1),
    "DCGM_FI_DEV_SM_CLOCK": ("sm_clock_mhz", 1),
    "DCGM_FI_DEV_FB_USED": ("memory_used_bytes", MIB),
    "DCGM_FI_DEV_GPU_TEMP": ("temperature_c", 1),
    "DCGM_FI_DEV_ECC_DBE_VOL_TOTAL": ("ecc_dbe_errors", 1),
    "DCGM_FI_DEV_XID_ERRORS": ("last_xid", 1),
}
INTEGER_FIELDS = {
    "energy_mj",
    "sm_clock_mhz",
    "memory_used_bytes",
    "temperature_c",
    "ecc_dbe_errors",
    "last_xid",
}


class DcgmExporterError(SourceUnavailable):
    """The exporter could not be fetched, or its text is not the Prometheus format."""


def parse_metrics(text: str, timestamp: float) -> tuple[list[GpuInfo], Reading]:
    """Turn one scrape of dcgm-exporter into GPUs and their samples.

    A GPU missing a required metric, or with an impossible value, becomes a `MalformedSample` in
    `Reading.errors`; text that is not Prometheus exposition format at all raises `DcgmExporterError`.
    """
    by_gpu: dict[str, dict[str, Any]] = {}
    infos: dict[str, GpuInfo] = {}
    try:
        families = list(text_string_to_metric_families(text))
    except (ValueError, TypeError, IndexError) as exc:
        raise DcgmExporterError(f"not Prometheus text: {exc}") from None
    for family in families:
        if family.name not in METRICS:
            continue
        field, scale = METRICS[family.name]
        for sample in family.samples:
            uuid = sample.labels.get("UUID")
            index = sample.labels.get("gpu")
            if not uuid or index is None:
                continue  # not a per-GPU series (e.g. a MIG or NVSwitch entity without a GPU label)
            if uuid not in infos:
                try:
                    infos[uuid] = GpuInfo(
                        uuid=uuid, index=int(index), model=sample.labels.get("modelName", "")
                    )
                except ValueError:
                    infos[uuid] = GpuInfo(
                        uuid=uuid, index=len(infos), model=sample.labels.get("modelName", "")
                    )
            value = sample.value * scale
            if field in INTEGER_FIELDS and math.isfinite(value):
                value = round(value)  # NaN and inf stay floats and fail validation
            by_gpu.setdefault(uuid, {})[field] = value
    reading = Reading()
    for uuid, info in sorted(infos.items(), key=lambda kv: kv[1].index):
        values = {"uuid": uuid, "index": info.index, "timestamp": timestamp, **by_gpu[uuid]}
        if values.get("last_xid", 0) < 0:
            values["last_xid"] = 0
        try:
            reading.samples.append(GpuSample.build(**values))
        except SampleError as exc:
            reading.errors.append(exc)
    return sorted(infos.values(), key=lambda g: g.index), reading


class DcgmSource(TelemetrySource):
    """GETs `url` (a dcgm-exporter /metrics endpoint) on every read."""

    name = "dcgm"

    def __init__(
        self,
        url: str,
        timeout: float = 5.0,
        client: httpx.Client | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.url = url
        self._client = client or httpx.Client(timeout=timeout)
        self._clock = clock
        self._gpus: list[GpuInfo] | None = None

    def _scrape(self) -> tuple[list[GpuInfo], Reading]:
        try:
            response = self._client.get(self.url)
            response.raise_for_status()
        except httpx.HTTPError as exc:
            raise DcgmExporterError(f"dcgm-exporter at {self.url}: {exc}") from None
        gpus, reading = parse_metrics(response.text, self._clock())
        if not gpus:
            raise DcgmExporterError(f"dcgm-exporter at {self.url} reported no GPU")
        self._gpus = gpus
        return gpus, reading

    def gpus(self) -> list[GpuInfo]:
        if self._gpus is None:
            self._scrape()
        return list(self._gpus or [])

    def read(self) -> Reading:
        return self._scrape()[1]

    def close(self) -> None:
        self._client.close()


__all__ = ["DcgmExporterError", "DcgmSource", "MalformedSample", "parse_metrics"]
