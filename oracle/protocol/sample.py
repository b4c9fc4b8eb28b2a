"""A telemetry sample on the wire between the agent and the oracle node, and the errors around one.

Every telemetry source on the agent produces these (one typed sample per GPU per read), the agent
serves them, and the oracle node builds what it fetches through the same model (a `SampleError`
when one does not fit) and hashes each into a leaf of the epoch's samples root (`sample_leaf`).

A source never lets a bad reading crash the agent: a GPU whose values are missing or out of range
becomes a `SampleError` in `Reading.errors`, which the caller logs and counts; only a source that
cannot be read at all raises (`SourceUnavailable`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from eth_utils import keccak
from pydantic import BaseModel, ConfigDict, Field, ValidationError


class TelemetryError(Exception):
    """Base of every telemetry failure."""


class SourceUnavailable(TelemetryError):
    """The whole source could not be read: NVML not loaded, exporter unreachable, a simulated outage."""


class SampleError(TelemetryError):
    """One GPU's reading could not be turned into a sample."""

    def __init__(self, gpu: str, reason: str) -> None:
        super().__init__(f"GPU {gpu}: {reason}")
        self.gpu = gpu
        self.reason = reason


class MalformedSample(SampleError):
    """A value is missing, not a number, or outside what the hardware can report."""


class GpuUnreadable(SampleError):
    """The device did not answer (lost off the bus, driver error)."""


class GpuInfo(BaseModel):
    """A GPU as a source enumerates it."""

    model_config = ConfigDict(frozen=True)

    uuid: str
    index: int
    model: str


_U16, _U32, _U64 = 2**16 - 1, 2**32 - 1, 2**64 - 1


# Bounds are physical limits, not expectations: anything outside them is a broken reading.
class GpuSample(BaseModel):
    """One reading of one GPU. `None` means the source cannot report that value on this hardware."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    uuid: str = Field(min_length=1, max_length=96)
    index: int = Field(ge=0, le=1023)
    timestamp: float = Field(gt=0, description="unix seconds when the values were read")
    utilization_pct: float = Field(ge=0, le=100, description="time a kernel was running")
    sm_active_pct: float | None = Field(None, ge=0, le=100, description="cycles an SM had a warp (DCGM)")
    power_w: float = Field(ge=0, le=5000)
    energy_mj: int | None = Field(None, ge=0, lt=_U64, description="energy counter since driver load")
    sm_clock_mhz: int = Field(ge=0, le=10_000)
    memory_used_bytes: int = Field(ge=0, le=2**48)
    temperature_c: int = Field(ge=-40, le=150)
    ecc_dbe_errors: int | None = Field(
        None, ge=0, lt=_U64, description="uncorrected (double-bit) volatile ECC errors"
    )
    xid_count: int | None = Field(None, ge=0, lt=_U64, description="Xid errors seen since the source started")
    last_xid: int | None = Field(None, ge=0, lt=_U32, description="code of the latest Xid error; 0 for none")
    throttle_reasons: int | None = Field(None, ge=0, lt=_U64, description="NVML clock event reason bits")

    @classmethod
    def build(cls, **values: Any) -> GpuSample:
        """Validate raw values into a sample, raising `MalformedSample` with the first reason."""
        try:
            return cls(**values)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"]) or "sample"
            gpu = str(values.get("uuid") or values.get("index") or "?")
            raise MalformedSample(gpu, f"{where}: {err['msg']} (got {err.get('input')!r})") from None

    @property
    def load_pct(self) -> float:
        """SM activity where the source has it (a truer load), utilization otherwise."""
        return self.sm_active_pct if self.sm_active_pct is not None else self.utilization_pct


@dataclass
class Reading:
    """One pass over every GPU of a source."""

    samples: list[GpuSample] = field(default_factory=list)
    errors: list[SampleError] = field(default_factory=list)


# The Merkle leaf of a raw sample (oracle/protocol/merkle.py). Unknown values are encoded as the type's
# maximum, which no real reading reaches, so a leaf never has to say "missing" out of band.
SAMPLE_LEAF_TYPES = (
    "bytes32",  # keccak256(uuid)
    "uint64",  # timestamp, milliseconds
    "uint16",  # utilization, bps
    "uint16",  # SM activity, bps
    "uint32",  # power, mW
    "uint64",  # energy counter, mJ
    "uint32",  # SM clock, MHz
    "uint64",  # memory used, bytes
    "int16",  # temperature, C
    "uint64",  # ECC double-bit errors
    "uint64",  # Xid count
    "uint32",  # last Xid
    "uint64",  # clock event reasons
)


@lru_cache(maxsize=1024)
def _uuid_hash(uuid: str) -> bytes:
    return keccak(text=uuid)


def _or(value: int | None, missing: int) -> int:
    return missing if value is None else value


def sample_leaf(sample: GpuSample) -> tuple:
    """The values of `SAMPLE_LEAF_TYPES` for one sample."""
    return (
        _uuid_hash(sample.uuid),
        round(sample.timestamp * 1000),
        round(sample.utilization_pct * 100),
        _U16 if sample.sm_active_pct is None else round(sample.sm_active_pct * 100),
        round(sample.power_w * 1000),
        _or(sample.energy_mj, _U64),
        sample.sm_clock_mhz,
        sample.memory_used_bytes,
        sample.temperature_c,
        _or(sample.ecc_dbe_errors, _U64),
        _or(sample.xid_count, _U64),
        _or(sample.last_xid, _U32),
        _or(sample.throttle_reasons, _U64),
    )
