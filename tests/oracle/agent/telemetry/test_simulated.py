"""The simulated source: deterministic from a seed; faults on demand."""

from __future__ import annotations

import pytest

from oracle.agent.telemetry import GpuUnreadable, MalformedSample, SourceUnavailable
from oracle.agent.telemetry.simulated import THERMAL_SLOWDOWN, SimulatedSource


def run(seed: int, times: list[float], gpus: int = 4):
    source = SimulatedSource(seed, gpus)
    return [source.read_at(t).samples for t in times]


TIMES = [1_000_000.0 + i for i in range(30)]


def test_same_seed_same_samples_other_seed_other_samples():
    assert run(1, TIMES) == run(1, TIMES)
    assert run(1, TIMES) != run(2, TIMES)
    assert SimulatedSource(1, 2).gpus() == SimulatedSource(1, 2).gpus()
    assert SimulatedSource(1, 2).gpus() != SimulatedSource(2, 2).gpus()


def test_values_are_plausible_and_energy_integrates_power():
    readings = run(3, TIMES, gpus=2)
    first, last = readings[0][0], readings[-1][0]
    assert 0 <= first.utilization_pct <= 100 and 70 <= first.power_w <= 700
    assert last.energy_mj > first.energy_mj
    mean_power = sum(r[0].power_w for r in readings[1:]) / (len(readings) - 1)
    assert (last.energy_mj - first.energy_mj) / 1000 == pytest.approx(
        mean_power * (TIMES[-1] - TIMES[0]), rel=0.01
    )


def test_clock_drives_read():
    now = [2_000_000.0]
    source = SimulatedSource(0, 1, clock=lambda: now[0])
    assert source.read().samples[0].timestamp == 2_000_000.0
    now[0] += 10
    before = source.energy_mj(source.gpus()[0].uuid)
    now[0] += 10
    assert source.energy_mj(source.gpus()[0].uuid) > before


def test_outages_on_demand_and_scheduled():
    source = SimulatedSource(0, 2)
    source.start_outage()
    with pytest.raises(SourceUnavailable):
        source.read_at(10.0)
    assert source.energy_mj(source.gpus()[0].uuid) is None
    source.end_outage()
    assert source.read_at(11.0).samples
    source.schedule_outage(100.0, 200.0)
    with pytest.raises(SourceUnavailable):
        source.read_at(150.0)
    assert source.read_at(200.0).samples


def test_throttling_lowers_clock_and_power_and_sets_reasons():
    source = SimulatedSource(5, 1)
    normal = source.read_at(10.0).samples[0]
    source.throttle(0, 0.5)
    slow = source.read_at(10.0).samples[0]
    assert slow.sm_clock_mhz == normal.sm_clock_mhz // 2
    assert slow.power_w == pytest.approx(normal.power_w / 2, rel=1e-3)
    assert slow.throttle_reasons == THERMAL_SLOWDOWN and normal.throttle_reasons == 0
    with pytest.raises(ValueError, match="throttle factor"):
        source.throttle(0, 0)


def test_xid_ecc_drop_and_corruption():
    source = SimulatedSource(5, 3)
    source.inject_xid(0, 79)
    source.inject_ecc(1, 2)
    source.drop(2)
    reading = source.read_at(10.0)
    by_index = {s.index: s for s in reading.samples}
    assert (by_index[0].xid_count, by_index[0].last_xid) == (1, 79)
    assert by_index[1].ecc_dbe_errors == 2
    assert isinstance(reading.errors[0], GpuUnreadable)
    source.restore(2)
    source.corrupt_next(1)
    reading = source.read_at(11.0)
    assert len(reading.samples) == 2 and isinstance(reading.errors[0], MalformedSample)
    assert "power_w" in reading.errors[0].reason
    assert len(source.read_at(12.0).samples) == 3  # only the next reading was corrupt
