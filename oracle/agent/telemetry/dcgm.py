"""Telemetry from a dcgm-exporter endpoint (Prometheus text format over HTTP).

dcgm-exporter publishes one series per GPU and metric, labelled `gpu` (index), `UUID`, `pci_bus_id`,
`device`, `modelName` and `Hostname` (plus `DCGM_FI_DRIVER_VERSION` and pod labels where configured).
Units, as its counter files state them: power in W, energy in mJ (a counter since boot), SM clock in MHz,
framebuffer in MiB, temperature in C, DCGM_FI_DEV_GPU_UTIL in %, and the profiling (DCP) metrics
DCGM_FI_PROF_GR_ENGINE_ACTIVE and DCGM_FI_PROF_SM_ACTIVE as ratios 0..1. Its DCGM_FI_DEV_XID_ERRORS is
a gauge holding the *last* Xid code (0 for none), not a count, so this source fills `last_xid` and
leaves `xid_count` None. The exporter stamps no times, so a sample's timestamp is when it was fetched.

What real exporters print, and how it is read:

- Utilization: DCGM_FI_DEV_GPU_UTIL (%) where exported; else DCGM_FI_PROF_GR_ENGINE_ACTIVE x 100, else
  DCGM_FI_PROF_SM_ACTIVE x 100 (ratios 0..1 to %). A MIG-enabled GPU exports no GPU_UTIL, and the
  profiling-only counter files carry GR_ENGINE_ACTIVE instead.
- MIG: a GPU instance's series carry its parent's `UUID` and `gpu` plus `GPU_I_ID` and `GPU_I_PROFILE`
  (like `3g.40gb`: 3 of the GPU's compute slices). They are read as parts of the parent GPU, never in
  place of it: a value the parent publishes itself is kept; one it does not is taken from its instances:
  utilization and SM activity averaged over the instances weighted by their slices, framebuffer summed,
  and GPU-wide values (power, energy, clock, temperature, ECC, Xid) from the lowest instance, since
  every instance repeats the parent's. Slices no instance holds are not exported, so they are not counted.
- GPU model: the `modelName` of any of the GPU's series; MIG instance series may carry it empty.
- A series whose value is not a number (`ERROR - FAILED TO CONVERT TO STRING`) is skipped; the source
  warns once per metric name. DCGM's "blank" values (not supported, not found: 2^63 - 16 and up for
  integer fields, 2^47 and up for floating ones, like the README's MEMORY_TEMP 9223372036854775794)
  count as not exported.
- Only utilization (in one of its three forms), power, SM clock, framebuffer and temperature are
  required; energy, SM activity, ECC and Xid are optional (the default counters carry no ECC and no
  SM activity), and a GPU without them is reported with those values unknown.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
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

log = logging.getLogger(__name__)

MIB = 1024 * 1024
INT64_BLANK = 0x7FFFFFFFFFFFFFF0  # DCGM_INT64_BLANK: this and above mean "no value"
FP64_BLANK = 2.0**47  # DCGM_FP64_BLANK

# metric -> (raw value name, scale to the sample's unit, DCGM type is an integer)
METRICS: dict[str, tuple[str, float, bool]] = {
    "DCGM_FI_DEV_GPU_UTIL": ("gpu_util", 1, True),
    "DCGM_FI_PROF_GR_ENGINE_ACTIVE": ("gr_engine_active", 100, False),
    "DCGM_FI_PROF_SM_ACTIVE": ("sm_active_pct", 100, False),
    "DCGM_FI_DEV_POWER_USAGE": ("power_w", 1, False),
    "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION": ("energy_mj", 1, True),
    "DCGM_FI_DEV_SM_CLOCK": ("sm_clock_mhz", 1, True),
    "DCGM_FI_DEV_FB_USED": ("memory_used_bytes", MIB, True),
    "DCGM_FI_DEV_GPU_TEMP": ("temperature_c", 1, True),
    "DCGM_FI_DEV_ECC_DBE_VOL_TOTAL": ("ecc_dbe_errors", 1, True),
    "DCGM_FI_DEV_XID_ERRORS": ("last_xid", 1, True),
}
INTEGER_FIELDS = {
    "energy_mj",
    "sm_clock_mhz",
    "memory_used_bytes",
    "temperature_c",
    "ecc_dbe_errors",
    "last_xid",
}
# How a parent GPU without a value of its own takes it from its MIG instances.
SLICE_WEIGHTED = {"gpu_util", "gr_engine_active", "sm_active_pct"}
SUMMED = {"memory_used_bytes"}
UTILIZATION_SOURCES = ("gpu_util", "gr_engine_active", "sm_active_pct")  # first present wins

_SAMPLE_LINE = re.compile(r"^(?P<name>[A-Za-z_:][A-Za-z0-9_:]*)(?:\{.*\})?\s+(?P<value>.*?)\s*$")
_PROFILE_SLICES = re.compile(r"^(\d+)g\.")


@dataclass
class _Gpu:
    """The series of one physical GPU: its own values, and those of each of its MIG instances."""

    index: int
    model: str = ""
    own: dict[str, float] = field(default_factory=dict)
    instances: dict[str, tuple[int, dict[str, float]]] = field(default_factory=dict)  # id -> slices, values

    def values(self) -> dict[str, float]:
        merged = dict(self.own)
        parts = [self.instances[i] for i in sorted(self.instances, key=_instance_order)]
        for name in {n for _, values in parts for n in values} - merged.keys():
            having = [(slices, values[name]) for slices, values in parts if name in values]
            if name in SLICE_WEIGHTED:
                merged[name] = sum(s * v for s, v in having) / sum(s for s, _ in having)
            elif name in SUMMED:
                merged[name] = sum(v for _, v in having)
            else:
                merged[name] = having[0][1]
        return merged


@dataclass
class Scrape:
    """One scrape read: the GPUs, their samples, and the metrics skipped for non-numeric values."""

    gpus: list[GpuInfo]
    reading: Reading
    unreadable: dict[str, str]  # metric name -> the value it printed


class DcgmExporterError(SourceUnavailable):
    """The exporter could not be fetched, or its text is not the Prometheus format."""


def parse_metrics(text: str, timestamp: float) -> Scrape:
    """Turn one scrape of dcgm-exporter into GPUs and their samples.

    A GPU missing a required metric, or with an impossible value, becomes a `MalformedSample` in
    `Reading.errors`; text that is not Prometheus exposition format at all raises `DcgmExporterError`.
    """
    text, unreadable = _drop_non_numeric(text)
    try:
        families = list(text_string_to_metric_families(text))
    except (ValueError, TypeError, IndexError) as exc:
        raise DcgmExporterError(f"not Prometheus text: {exc}") from None
    gpus: dict[str, _Gpu] = {}
    for family in families:
        for sample in family.samples:
            uuid, index = sample.labels.get("UUID"), sample.labels.get("gpu")
            if not uuid or index is None:
                continue  # not a per-GPU series (an NVSwitch or CPU entity)
            gpu = gpus.get(uuid)
            if gpu is None:
                gpu = gpus[uuid] = _Gpu(int(index) if index.isdigit() else len(gpus))
            gpu.model = gpu.model or sample.labels.get("modelName", "")
            if family.name not in METRICS:
                continue
            name, scale, integer = METRICS[family.name]
            if math.isfinite(sample.value) and sample.value >= (INT64_BLANK if integer else FP64_BLANK):
                continue  # DCGM's "no value"; an infinite reading stays and fails validation
            instance = sample.labels.get("GPU_I_ID", "")
            if instance:
                slices = _slices(sample.labels.get("GPU_I_PROFILE", ""))
                gpu.instances.setdefault(instance, (slices, {}))[1][name] = sample.value * scale
            else:
                gpu.own[name] = sample.value * scale
    reading = Reading()
    for uuid, gpu in sorted(gpus.items(), key=lambda kv: kv[1].index):
        try:
            reading.samples.append(_sample(uuid, gpu, timestamp))
        except SampleError as exc:
            reading.errors.append(exc)
    infos = [GpuInfo(uuid=uuid, index=g.index, model=g.model) for uuid, g in gpus.items()]
    return Scrape(sorted(infos, key=lambda g: g.index), reading, unreadable)


def _sample(uuid: str, gpu: _Gpu, timestamp: float) -> GpuSample:
    raw = gpu.values()
    if raw.get("last_xid", 0) < 0:
        raw["last_xid"] = 0
    values: dict[str, Any] = {"uuid": uuid, "index": gpu.index, "timestamp": timestamp}
    utilization = next((raw[n] for n in UTILIZATION_SOURCES if n in raw), None)
    if utilization is not None:
        values["utilization_pct"] = utilization
    for name, value in raw.items():
        if name in ("gpu_util", "gr_engine_active"):
            continue
        # NaN and inf stay floats and fail validation
        values[name] = round(value) if name in INTEGER_FIELDS and math.isfinite(value) else value
    return GpuSample.build(**values)


def _drop_non_numeric(text: str) -> tuple[str, dict[str, str]]:
    """The text without sample lines whose value is not a number, and those lines' metric names."""
    kept: list[str] = []
    unreadable: dict[str, str] = {}
    for line in text.splitlines():
        match = None if line.startswith("#") else _SAMPLE_LINE.match(line)
        if match is not None:
            try:
                float(match["value"].split(" ", 1)[0])  # a timestamp may follow the value
            except ValueError:
                unreadable.setdefault(match["name"], match["value"][:80])
                continue
        kept.append(line)
    return "\n".join(kept) + "\n", unreadable


def _slices(profile: str) -> int:
    """Compute slices of a MIG profile like `3g.40gb`; 1 for a profile that names none (or 0)."""
    match = _PROFILE_SLICES.match(profile)
    return max(1, int(match[1])) if match else 1


def _instance_order(instance: str) -> tuple[int, str]:
    return (int(instance), "") if instance.isdigit() else (1 << 30, instance)


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
        self._warned: set[str] = set()

    def _scrape(self) -> Scrape:
        try:
            response = self._client.get(self.url)
            response.raise_for_status()
        except httpx.HTTPError as exc:
            raise DcgmExporterError(f"dcgm-exporter at {self.url}: {exc}") from None
        scrape = parse_metrics(response.text, self._clock())
        if not scrape.gpus:
            raise DcgmExporterError(f"dcgm-exporter at {self.url} reported no GPU")
        for name in scrape.unreadable.keys() - self._warned:
            self._warned.add(name)
            log.warning(
                "dcgm-exporter at %s prints %r for %s, not a number: its series are skipped",
                self.url,
                scrape.unreadable[name],
                name,
            )
        self._gpus = scrape.gpus
        return scrape

    def gpus(self) -> list[GpuInfo]:
        if self._gpus is None:
            self._scrape()
        return list(self._gpus or [])

    def read(self) -> Reading:
        return self._scrape().reading

    def close(self) -> None:
        self._client.close()


__all__ = ["DcgmExporterError", "DcgmSource", "MalformedSample", "Scrape", "parse_metrics"]
