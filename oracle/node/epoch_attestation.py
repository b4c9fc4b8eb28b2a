"""One node's epoch, aggregated into an attestation.

Epochs are unix hours (epoch = floor(t / 3600)). From the agent's raw 1 Hz samples and this oracle's
own polls and challenges:

- **uptime** is heartbeat coverage: the share of the hour's GPU-seconds (registered GPUs × 3600)
  with a healthy sample, in bps, and only from an hour this oracle watched itself (`unwatched`):
  its polls and challenges, answered or not, leave no stretch of the hour longer than `watch_gap`
  seconds (from the hour's start, between them, to its end) without one. An hour it did not watch
  (it started late, or stalled) has no uptime from it (`UNWATCHED_UPTIME`, not 0): the agent's
  samples alone are the provider's word. A GPU-second is healthy when its GPU sent a sample in that second
  and no new Xid or uncorrected ECC error appeared in it. Time the agent was unreachable (from the
  last poll before a failed one to the next one that succeeded), and time since the last good
  challenge before a failed one (until the next good one), counts as down whatever the samples say:
  the node could not be reached, or could not show it computes.
  The agent's samples still give load, energy and GPU-seconds, bound by the samples root.
- **load** is mean SM activity over the healthy samples (GPU utilization where the source has no
  SM activity), in bps.
- **gpuSeconds** is Σ over covered seconds of min(GPUs booked, healthy GPUs): what holders were
  delivered (every GPU when bookings are not given).
- **gflops** and **mflopsPerJoule** are the medians over verified challenges; 0 when none passed.
- **samplesRoot** is the OZ-style Merkle root over every raw sample of the hour (oracle/protocol/merkle.py),
  so anyone holding the samples can prove any one of them against the chain.
"""

from __future__ import annotations

import itertools
import logging
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from backend.chain.protocol import EPOCH_SECONDS
from oracle.node.verifier import ChallengeOutcome
from oracle.protocol.merkle import root_or_zero
from oracle.protocol.report import UINT32_MAX, UNWATCHED_UPTIME, Attestation
from oracle.protocol.sample import SAMPLE_LEAF_TYPES, GpuSample, sample_leaf

log = logging.getLogger(__name__)

BPS = 10_000


def epoch_of(t: float) -> int:
    return int(t // EPOCH_SECONDS)


def epoch_bounds(epoch: int) -> tuple[int, int]:
    return epoch * EPOCH_SECONDS, (epoch + 1) * EPOCH_SECONDS


@dataclass(frozen=True)
class PollRecord:
    """One attempt of this oracle to reach the agent."""

    at: float
    ok: bool
    reason: str = ""


@dataclass
class EpochInput:
    node_id: int
    epoch: int
    gpu_count: int  # GPUs the node is registered with: the denominator of uptime
    samples: list[GpuSample]
    polls: list[PollRecord] = field(default_factory=list)
    challenges: list[ChallengeOutcome] = field(default_factory=list)
    booked_gpus: int | None = None
    malformed_samples: int = 0
    # The coverage uptime needs (`unwatched`); None where the caller vouches for the watch itself
    # (the embedded round simulates its oracles' watch).
    watch_gap: float | None = None
    # Why the agent's samples of the hour could not be fetched: the hour then counts as down from
    # the last answered poll to its end.
    fetch_error: str | None = None


@dataclass(frozen=True)
class DownInterval:
    start: float
    end: float
    reason: str


@dataclass(frozen=True)
class EpochResult:
    attestation: Attestation
    healthy_gpu_seconds: int
    down: list[DownInterval]
    reasons: list[str]
    fetch_error: str | None = None  # the agent's samples could not be fetched: worth asking again


def unwatched(contacts: Iterable[float], start: float, end: float, watch_gap: float) -> str | None:
    """None when this oracle's contacts with the agent (polls and challenges, answered or not, at
    these times) leave no stretch of [start, end) longer than `watch_gap` without one, else why not.

    The edges count: the first contact must come within `watch_gap` of the start and the last within
    `watch_gap` of the end, so a watched hour was seen from end to end but for 2 × `watch_gap`
    (with the default 180 s, at least 90 % of it), and never lost from sight for longer.
    """
    times = sorted(t for t in contacts if start <= t < end)
    edges = [start, *times, end]
    worst, at = max((b - a, a) for a, b in itertools.pairwise(edges))
    if worst <= watch_gap:
        return None
    return (
        f"uptime not attested: this oracle did not watch {worst:.0f} s of the hour from {at:.0f} "
        f"(at most {watch_gap:.0f} s without a poll)"
    )


def _down_spans(
    events: Iterable[tuple[float, bool, str]], start: float, end: float, what: str
) -> list[DownInterval]:
    """From the last success before each failure to the next success (or the epoch's edge)."""
    spans: list[DownInterval] = []
    last_ok = float(start)
    failing: tuple[float, str] | None = None
    for at, ok, reason in sorted(events):
        if ok:
            if failing is not None:
                spans.append(DownInterval(failing[0], min(at, end), f"{what}: {failing[1]}"))
                failing = None
            last_ok = max(start, at)
        elif failing is None:
            failing = (last_ok, reason)
    if failing is not None:
        spans.append(DownInterval(failing[0], end, f"{what}: {failing[1]}"))
    return [s for s in spans if s.end > s.start]


def _is_down(second: int, spans: Sequence[DownInterval]) -> bool:
    return any(s.start < second + 1 and s.end > second for s in spans)


def _median_int(values: list[float]) -> int:
    return int(statistics.median(values)) if values else 0


def aggregate_epoch(data: EpochInput) -> EpochResult:
    start, end = epoch_bounds(data.epoch)
    reasons: list[str] = []
    in_epoch = sorted(
        (s for s in data.samples if start <= s.timestamp < end), key=lambda s: (s.timestamp, s.index)
    )
    if data.malformed_samples:
        reasons.append(f"{data.malformed_samples} malformed samples ignored")

    contacts = [(p.at, p.ok, p.reason) for p in data.polls]
    if data.fetch_error is not None:
        contacts.append((end - 1e-6, False, f"samples unavailable: {data.fetch_error}"))
    down = _down_spans(contacts, start, end, "agent unreachable")
    down += _down_spans(((c.at, c.passed, c.reason) for c in data.challenges), start, end, "challenge failed")
    reasons.extend(f"down {span.end - span.start:.0f}s from {span.start:.0f}: {span.reason}" for span in down)

    # Only the registered number of GPUs can earn coverage, lowest indices first.
    uuids_by_index = sorted({(s.index, s.uuid) for s in in_epoch})
    counted = {uuid for _, uuid in uuids_by_index[: data.gpu_count]}
    if len(uuids_by_index) > data.gpu_count:
        reasons.append(f"agent reports {len(uuids_by_index)} GPUs, node is registered with {data.gpu_count}")

    healthy: dict[int, set[str]] = defaultdict(set)
    loads: list[float] = []
    previous: dict[str, GpuSample] = {}
    for sample in in_epoch:
        if sample.uuid not in counted:
            continue
        before = previous.get(sample.uuid)
        previous[sample.uuid] = sample
        fault = _fault(before, sample)
        if fault:
            reasons.append(f"GPU {sample.uuid} at {sample.timestamp:.0f}: {fault}")
            continue
        second = int(sample.timestamp)
        if _is_down(second, down) or sample.uuid in healthy[second]:
            continue
        healthy[second].add(sample.uuid)
        loads.append(sample.load_pct)

    healthy_gpu_seconds = sum(len(g) for g in healthy.values())
    booked = data.gpu_count if data.booked_gpus is None else data.booked_gpus
    delivered = sum(min(booked, len(g)) for g in healthy.values())
    capacity = data.gpu_count * EPOCH_SECONDS
    uptime_bps = min(BPS, healthy_gpu_seconds * BPS // capacity) if capacity else 0
    if data.watch_gap is not None:
        blind = unwatched(
            [p.at for p in data.polls] + [c.at for c in data.challenges], start, end, data.watch_gap
        )
        if blind:
            reasons.append(blind)
            uptime_bps = UNWATCHED_UPTIME
    load_bps = min(BPS, round(statistics.fmean(loads) * 100)) if loads else 0

    passed = [c for c in data.challenges if c.passed]
    if not data.challenges:
        reasons.append("no challenge this epoch")
    elif not passed:
        reasons.append("no challenge passed")
    gflops = _median_int([c.gflops for c in passed if c.gflops is not None])
    efficiency = _median_int([c.mflop_per_joule for c in passed if c.mflop_per_joule is not None])

    root = root_or_zero(SAMPLE_LEAF_TYPES, [sample_leaf(s) for s in in_epoch])
    attestation = Attestation(
        node_id=data.node_id,
        epoch=data.epoch,
        uptime_bps=uptime_bps,
        load_bps=load_bps,
        gpu_seconds=min(delivered, UINT32_MAX),
        mflops_per_joule=min(efficiency, UINT32_MAX),
        gflops=min(gflops, UINT32_MAX),
        samples_root=root,
    )
    for reason in reasons:
        log.info("node %d epoch %d: %s", data.node_id, data.epoch, reason)
    return EpochResult(attestation, healthy_gpu_seconds, down, reasons, data.fetch_error)


def _fault(before: GpuSample | None, now: GpuSample) -> str | None:
    """A new Xid or uncorrected ECC error since the GPU's previous sample."""
    if before is None:
        return None
    if now.xid_count is not None and before.xid_count is not None and now.xid_count > before.xid_count:
        return f"Xid {now.last_xid}"
    if now.xid_count is None and now.last_xid and now.last_xid != before.last_xid:
        return f"Xid {now.last_xid}"
    if (
        now.ecc_dbe_errors is not None
        and before.ecc_dbe_errors is not None
        and now.ecc_dbe_errors > before.ecc_dbe_errors
    ):
        return f"{now.ecc_dbe_errors - before.ecc_dbe_errors} uncorrected ECC errors"
    return None
