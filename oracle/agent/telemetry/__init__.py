"""Hardware telemetry behind one interface: NVML, a dcgm-exporter endpoint, or a simulation."""

from __future__ import annotations

from typing import TYPE_CHECKING

from oracle.agent.telemetry.source import TelemetrySource
from oracle.protocol.sample import (
    GpuInfo,
    GpuSample,
    GpuUnreadable,
    MalformedSample,
    Reading,
    SampleError,
    SourceUnavailable,
    TelemetryError,
)

if TYPE_CHECKING:
    from oracle.settings import AgentSettings

SOURCES = ("nvml", "dcgm", "simulated")


def open_source(kind: str, settings: AgentSettings) -> TelemetrySource:
    """The source named `kind`, configured from the settings. Raises SourceUnavailable or ValueError."""
    if kind == "nvml":
        from oracle.agent.telemetry.nvml import NvmlSource

        return NvmlSource()
    if kind == "dcgm":
        from oracle.agent.telemetry.dcgm import DcgmSource

        return DcgmSource(settings.dcgm_url, timeout=settings.http_timeout)
    if kind == "simulated":
        from oracle.agent.telemetry.simulated import SimulatedGpuModel, SimulatedSource

        return SimulatedSource(
            settings.sim_seed,
            settings.sim_gpus,
            SimulatedGpuModel(name=settings.sim_model),
        )
    raise ValueError(f"unknown telemetry source {kind!r}; expected one of {', '.join(SOURCES)}")


__all__ = [
    "SOURCES",
    "GpuInfo",
    "GpuSample",
    "GpuUnreadable",
    "MalformedSample",
    "Reading",
    "SampleError",
    "SourceUnavailable",
    "TelemetryError",
    "TelemetrySource",
    "open_source",
]
