"""Epoch aggregation: the uptime, load and delivery arithmetic."""

from __future__ import annotations

import pytest

from oracle.agent.telemetry.simulated import SimulatedSource
from oracle.node.epoch_attestation import (
    EPOCH_SECONDS,
    EpochInput,
    PollRecord,
    aggregate_epoch,
    epoch_bounds,
    epoch_of,
    unwatched,
)
from oracle.node.verifier import ChallengeOutcome
from oracle.protocol.report import UNWATCHED_UPTIME

EPOCH = 480_000
START, END = epoch_bounds(EPOCH)


def hour_of_samples(source: SimulatedSource, skip=lambda t: False):
    return [s for t in range(START, END) if not skip(t) for s in source.read_at(t + 0.25).samples]


def passed(at: float, gflops: float = 40_000, mflop_per_joule: float = 60_000) -> ChallengeOutcome:
    return ChallengeOutcome(
        at, 2048, True, "verified", flops_per_second=gflops * 1e9, flop_per_joule=mflop_per_joule * 1e6
    )


def failed(at: float) -> ChallengeOutcome:
    return ChallengeOutcome(at, 2048, False, "Freivalds rejected row 3")


def test_epochs_are_unix_hours():
    assert epoch_of(3600 * 7 + 3599.9) == 7 and epoch_of(3600 * 8) == 8
    assert epoch_bounds(7) == (25_200, 28_800)


def test_a_full_healthy_hour():
    source = SimulatedSource(1, 2)
    result = aggregate_epoch(
        EpochInput(
            1,
            EPOCH,
            2,
            hour_of_samples(source),
            challenges=[passed(START + 100), passed(START + 2000, 42_000, 61_000)],
        )
    )
    a = result.attestation
    assert a.uptime_bps == 10_000 and a.gpu_seconds == 2 * EPOCH_SECONDS
    assert 5_000 < a.load_bps < 9_000  # SM activity of the simulated load
    assert a.gflops == 41_000 and a.mflops_per_joule == 60_500  # medians
    assert a.samples_root != b"\x00" * 32
    assert result.reasons == []


def test_missing_seconds_cost_uptime():
    source = SimulatedSource(1, 2)
    samples = hour_of_samples(source, skip=lambda t: START + 600 <= t < START + 1500)  # 15 minutes gone
    a = aggregate_epoch(EpochInput(1, EPOCH, 2, samples, challenges=[passed(START)])).attestation
    assert a.uptime_bps == 7_500 and a.gpu_seconds == 2 * 2_700


def test_registered_gpus_are_the_denominator_and_extra_gpus_earn_nothing():
    source = SimulatedSource(1, 2)
    samples = hour_of_samples(source)
    a = aggregate_epoch(EpochInput(1, EPOCH, 4, samples, challenges=[passed(START)])).attestation
    assert a.uptime_bps == 5_000  # 2 of 4 registered GPUs answered
    result = aggregate_epoch(EpochInput(1, EPOCH, 1, samples, challenges=[passed(START)]))
    assert result.attestation.uptime_bps == 10_000 and result.attestation.gpu_seconds == EPOCH_SECONDS
    assert any("registered with 1" in r for r in result.reasons)


def test_unreachable_agent_counts_as_down_from_last_good_poll_to_next():
    source = SimulatedSource(1, 1)
    polls = [
        PollRecord(START + 100, True),
        PollRecord(START + 110, False, "connection refused"),
        PollRecord(START + 120, False, "connection refused"),
        PollRecord(START + 400, True),
    ]
    result = aggregate_epoch(EpochInput(1, EPOCH, 1, hour_of_samples(source), polls, [passed(START)]))
    # down from 100 to 400: 300 seconds of 3600
    assert result.attestation.uptime_bps == (3600 - 300) * 10_000 // 3600
    assert result.down[0].reason.startswith("agent unreachable: connection refused")
    assert any("down 300s" in r for r in result.reasons)


def test_an_agent_never_reached_gives_zero_uptime():
    result = aggregate_epoch(EpochInput(1, EPOCH, 1, [], [PollRecord(END + 5, False, "timeout")]))
    assert result.attestation.uptime_bps == 0 and result.attestation.samples_root == b"\x00" * 32
    assert "no challenge this epoch" in result.reasons


def test_failed_challenge_counts_since_the_last_passed_one():
    source = SimulatedSource(1, 1)
    challenges = [passed(START + 600), failed(START + 1800), passed(START + 2400)]
    a = aggregate_epoch(EpochInput(1, EPOCH, 1, hour_of_samples(source), challenges=challenges)).attestation
    assert a.uptime_bps == (3600 - 1800) * 10_000 // 3600  # from 600 (last pass) to 2400 (next pass)
    assert a.gflops == 40_000


def test_only_failed_challenges_zero_benchmark_and_uptime():
    source = SimulatedSource(1, 1)
    result = aggregate_epoch(EpochInput(1, EPOCH, 1, hour_of_samples(source), challenges=[failed(END + 10)]))
    assert result.attestation.uptime_bps == 0 and result.attestation.gflops == 0
    assert "no challenge passed" in result.reasons


def test_xid_and_ecc_errors_void_that_gpu_second():
    source = SimulatedSource(1, 2)
    samples = []
    for t in range(START, END):
        if t == START + 100:
            source.inject_xid(0, 79)
        if t == START + 200:
            source.inject_ecc(1)
        samples += source.read_at(t + 0.5).samples
    result = aggregate_epoch(EpochInput(1, EPOCH, 2, samples, challenges=[passed(START)]))
    assert result.healthy_gpu_seconds == 2 * 3600 - 2
    assert any("Xid 79" in r for r in result.reasons) and any("ECC" in r for r in result.reasons)


def test_delivery_is_capped_by_bookings():
    source = SimulatedSource(1, 3)
    a = aggregate_epoch(
        EpochInput(1, EPOCH, 3, hour_of_samples(source), challenges=[passed(START)], booked_gpus=2)
    ).attestation
    assert a.gpu_seconds == 2 * 3600 and a.uptime_bps == 10_000


def test_samples_outside_the_epoch_are_ignored_and_duplicates_count_once():
    source = SimulatedSource(1, 1)
    inside = hour_of_samples(source)
    outside = source.read_at(END + 1).samples + source.read_at(START - 1).samples
    a = aggregate_epoch(EpochInput(1, EPOCH, 1, inside + inside[:10] + outside, challenges=[passed(START)]))
    assert a.attestation.uptime_bps == 10_000
    b = aggregate_epoch(EpochInput(1, EPOCH, 1, inside, challenges=[passed(START)]))
    assert a.attestation.gpu_seconds == b.attestation.gpu_seconds


@pytest.mark.parametrize("malformed", [0, 3])
def test_malformed_samples_are_reported(malformed):
    result = aggregate_epoch(EpochInput(1, EPOCH, 1, [], malformed_samples=malformed))
    assert any("malformed" in r for r in result.reasons) == bool(malformed)


def test_the_watch_an_hour_needs_for_its_uptime():
    """No stretch of the hour, its start and end included, longer than the gap without a contact."""
    every_minute = [START + 60 * k for k in range(60)]
    assert unwatched(every_minute, START, END, 180) is None
    assert "600 s of the hour from" in unwatched(every_minute[10:], START, END, 180)  # started late
    assert unwatched(every_minute[:57], START, END, 180) is not None  # stopped early
    assert unwatched([*every_minute[:20], *every_minute[24:]], START, END, 180) is not None  # stalled
    assert unwatched([], START, END, 180) is not None


def test_an_unwatched_hour_has_no_uptime_but_still_its_samples_values():
    source = SimulatedSource(5, gpus=2)
    samples = hour_of_samples(source)
    polls = [PollRecord(START + 900 + 60 * k, True) for k in range(45)]
    watched = aggregate_epoch(EpochInput(1, EPOCH, 2, samples, polls, watch_gap=1200))
    late = aggregate_epoch(EpochInput(1, EPOCH, 2, samples, polls, watch_gap=180))
    assert watched.attestation.uptime_bps == 10_000 and late.attestation.uptime_bps == UNWATCHED_UPTIME
    assert late.attestation.gpu_seconds == watched.attestation.gpu_seconds == 2 * 3600
    assert late.attestation.samples_root == watched.attestation.samples_root
    assert any("did not watch" in r for r in late.reasons)
