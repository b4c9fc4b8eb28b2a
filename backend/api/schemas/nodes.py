"""Registered GPU nodes with their attested record. Times are unix seconds, epochs unix hours."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

from backend.api.schemas.page import Page
from backend.api.schemas.providers import NodeMetadataPublic

_OWNER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
_NODE: JsonDict = {
    "node_id": 1,
    "owner": _OWNER,
    "gpu_model": "H100-SXM5-80GB",
    "gpu_count": 4,
    "vram_gb": 80,
    "region": "eu-west",
    "interconnect": "NVLink",
    "gpu_uuids_hash": "0x" + "9e" * 32,
    "registered_block": 12,
    "registered_time": 1748700000,
    "reliability_bps": 9850,
    "epochs_attested": 312,
}
_ATTESTATION: JsonDict = {
    "epoch": 485773,
    "uptime_bps": 10000,
    "load_bps": 6000,
    "gpu_seconds": 14400,
    "mflops_per_joule": 250000,
    "gflops": 600000,
    "samples_root": "0x" + "1f" * 32,
    "meets_sla": True,
    "block_number": 77,
    "block_time": 1748786460,
    "tx_hash": "0x" + "4a" * 32,
}


class NodeSummary(BaseModel):
    """A machine as registered on chain."""

    node_id: int
    owner: str
    gpu_model: str
    gpu_count: int
    vram_gb: int
    region: str
    interconnect: str


class NodePublic(NodeSummary):
    model_config = ConfigDict(json_schema_extra={"examples": [_NODE]})

    gpu_uuids_hash: str = Field(description="keccak of the sorted GPU UUIDs")
    registered_block: int
    registered_time: int | None
    reliability_bps: int = Field(
        description="uptime weighted toward recent hours, unattested hours counting 0 "
        "(AttestationOracle.reliabilityBps, half-life a week), up to the "
        "last attested hour; 0 when never attested"
    )
    epochs_attested: int


class NodePage(Page[NodePublic]):
    """Nodes by id."""


class Reliability(BaseModel):
    """The node's attested record over every epoch; means are rounded down."""

    epochs: int = Field(description="attested epochs (hours)")
    reliability_bps: int = Field(
        description="uptime weighted toward recent hours in basis points, as the "
        "oracle contract computes it up to the last attested hour"
    )
    mean_load_bps: int | None
    gpu_seconds: int = Field(description="GPU-seconds delivered, all epochs")
    mean_mflops_per_joule: int | None
    mean_gflops: int | None = Field(description="mean verified GFLOP/s")
    last_epoch: int | None
    stale: bool | None = Field(
        description="the SLA watchdog finds attestations overdue in an open window; "
        "null when the watchdog does not watch the node now"
    )
    sla_min_uptime_bps: int = Field(description="the Settlement SLA this record is judged by")
    sla_min_gflops_per_joule: int
    sla_epochs_met: int = Field(
        description="epochs delivered by Settlement's rule: uptime and efficiency at or above the terms of "
        "the capacity holding the hour, and the GPU-seconds its bookings need"
    )
    sla_share_bps: int | None = Field(description="sla_epochs_met / epochs in basis points, rounded down")


class NodeDetail(NodePublic):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    **_NODE,
                    "metadata": {
                        "name": "fra-h100-01",
                        "description": "4× H100 SXM5, NVLink",
                        "endpoint": None,
                        "tags": ["nvlink"],
                        "updated_at": 1748700000.0,
                    },
                    "reliability": {
                        "epochs": 312,
                        "reliability_bps": 9850,
                        "mean_load_bps": 6120,
                        "gpu_seconds": 4423680,
                        "mean_mflops_per_joule": 250000,
                        "mean_gflops": 600000,
                        "last_epoch": 485773,
                        "stale": False,
                        "sla_min_uptime_bps": 9500,
                        "sla_min_gflops_per_joule": 0,
                        "sla_epochs_met": 305,
                        "sla_share_bps": 9775,
                    },
                    "slashed_total": 1000000,
                    "capacities": 14,
                }
            ]
        }
    )

    metadata: NodeMetadataPublic | None
    reliability: Reliability
    slashed_total: int = Field(description="bond slashed from this node's capacities, base units")
    capacities: int = Field(description="capacities ever opened on this node")


class AttestationPublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_ATTESTATION]})

    epoch: int = Field(description="the unix hour attested (timestamp ÷ 3600)")
    uptime_bps: int
    load_bps: int
    gpu_seconds: int
    mflops_per_joule: int
    gflops: int
    samples_root: str = Field(description="Merkle root of the raw telemetry samples")
    meets_sla: bool = Field(
        description="delivered by Settlement's per-hour rule (uptime, efficiency, GPU-seconds)"
    )
    block_number: int
    block_time: int | None
    tx_hash: str


class AttestationPage(Page[AttestationPublic]):
    """Attested epochs, newest first."""
