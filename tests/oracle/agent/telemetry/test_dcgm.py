"""dcgm-exporter scrapes parsed into samples: a synthetic one with every metric the parser reads."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from oracle.agent.telemetry import MalformedSample, SourceUnavailable
from oracle.agent.telemetry.dcgm import DcgmExporterError, DcgmSource, parse_metrics

FIXTURE = (Path(__file__).parent / "data" / "dcgm_exporter.txt").read_text()
T = 1_700_000_000.0


def test_a_realistic_scrape_parses_into_two_gpus():
    scrape = parse_metrics(FIXTURE, T)
    gpus, reading = scrape.gpus, scrape.reading
    assert [g.index for g in gpus] == [0, 1]
    assert gpus[0].uuid == "GPU-5b2b6c4e-9a4f-3c1e-8f7a-0d1c2b3a4e5f"
    assert gpus[0].model == "NVIDIA H100 80GB HBM3"
    assert not reading.errors
    a, b = reading.samples
    assert a.utilization_pct == 98 and a.sm_active_pct == pytest.approx(87.153)
    assert a.power_w == pytest.approx(612.457) and a.energy_mj == 8_316_540_221
    assert a.sm_clock_mhz == 1980 and a.temperature_c == 47
    assert a.memory_used_bytes == 76_346 * 2**20  # MiB
    assert (a.ecc_dbe_errors, a.last_xid, a.xid_count) == (0, 0, None)
    assert a.load_pct == pytest.approx(87.153)  # SM activity, not utilization
    assert (b.sm_clock_mhz, b.last_xid, b.ecc_dbe_errors) == (1755, 48, 2)
    assert a.timestamp == T


def test_a_gpu_missing_a_required_metric_is_malformed_and_the_other_survives():
    text = "\n".join(
        line
        for line in FIXTURE.splitlines()
        if not (line.startswith("DCGM_FI_DEV_POWER_USAGE{") and 'gpu="1"' in line)
    )
    reading = parse_metrics(text, T).reading
    assert [s.index for s in reading.samples] == [0]
    assert isinstance(reading.errors[0], MalformedSample) and "power_w" in reading.errors[0].reason


def test_an_impossible_value_is_malformed():
    text = FIXTURE.replace("} 612.457000", "} -5")
    reading = parse_metrics(text, T).reading
    assert isinstance(reading.errors[0], MalformedSample)


def test_nan_is_malformed():
    reading = parse_metrics(FIXTURE.replace("} 47\n", "} NaN\n"), T).reading
    assert any("temperature_c" in e.reason for e in reading.errors)


def test_text_that_is_not_prometheus_is_a_clear_error():
    with pytest.raises(DcgmExporterError, match="not Prometheus"):
        parse_metrics('DCGM_FI_DEV_GPU_UTIL{gpu="0" 12 oops\n', T)


def _source(handler) -> DcgmSource:
    return DcgmSource(
        "http://exporter:9400/metrics",
        client=httpx.Client(transport=httpx.MockTransport(handler)),
        clock=lambda: T,
    )


def test_source_scrapes_over_http():
    source = _source(lambda request: httpx.Response(200, text=FIXTURE))
    assert len(source.gpus()) == 2
    assert len(source.read().samples) == 2
    assert source.energy_mj("GPU-7e1d0c9b-2a3b-4c5d-9e8f-1a2b3c4d5e6f") == 7_905_113_870


def test_unreachable_exporter_is_source_unavailable():
    def refuse(request):
        raise httpx.ConnectError("connection refused")

    with pytest.raises(SourceUnavailable, match="exporter:9400"):
        _source(refuse).read()
    with pytest.raises(SourceUnavailable, match=r"HTTP|500"):
        _source(lambda r: httpx.Response(500)).read()
    with pytest.raises(SourceUnavailable, match="no GPU"):
        _source(lambda r: httpx.Response(200, text="# nothing here\n")).read()
