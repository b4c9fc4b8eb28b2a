"""The one interface every telemetry source implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Self

from oracle.protocol.sample import GpuInfo, Reading


class TelemetrySource(ABC):
    """Reads every GPU of one machine.

    `read()` returns whatever it could read: good samples in `Reading.samples`, and one
    `SampleError` per GPU that gave a bad or no reading in `Reading.errors`. It raises
    `SourceUnavailable` only when nothing could be read at all.
    """

    name: str

    @abstractmethod
    def gpus(self) -> list[GpuInfo]:
        """The GPUs this source reports, in index order."""

    @abstractmethod
    def read(self) -> Reading:
        """One sample per GPU, taken now."""

    def energy_mj(self, uuid: str) -> int | None:
        """One GPU's energy counter now, for the proof-of-compute efficiency; None when unknown."""
        for sample in self.read().samples:
            if sample.uuid == uuid:
                return sample.energy_mj
        return None

    def close(self) -> None:  # noqa: B027 — optional: a source with nothing to release keeps it
        """Release the library or connection behind the source."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
