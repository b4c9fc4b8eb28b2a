"""The formats real dcgm-exporters publish, parsed field by field, and an agent started on each.

The fixtures in data/ say in their first lines what each reproduces: H100s on the default counter set,
A100s with MIG enabled on the DCP counter set, V100s with profiling metrics only, and a scrape where the
exporter printed `ERROR - FAILED TO CONVERT TO STRING` for some fields.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from backend.chain.anvil import free_port
from backend.chain.deployments import REPO_ROOT
from oracle.agent.telemetry import MalformedSample
from oracle.agent.telemetry.dcgm import DcgmSource, parse_metrics

DATA = Path(__file__).parent / "data"
H100 = (DATA / "dcgm_h100_default_counters.txt").read_text()
A100_MIG = (DATA / "dcgm_a100_mig.txt").read_text()
V100_PROF = (DATA / "dcgm_v100_profiling_only.txt").read_text()
ERROR_VALUE = (DATA / "dcgm_error_value.txt").read_text()
T = 1_700_000_000.0
MIB = 2**20
AGENT = str(Path(sys.executable).with_name("gpuhours"))


def _without(text: str, *needles: str) -> str:
    return "\n".join(line for line in text.splitlines() if not all(n in line for n in needles))


def test_h100_default_counters_field_by_field():
    scrape = parse_metrics(H100, T)
    assert [(g.index, g.uuid, g.model) for g in scrape.gpus] == [
        (0, "GPU-3c5f1a9e-7b42-d8e1-0f6a-92c4b5e7d013", "NVIDIA H100 80GB HBM3"),
        (1, "GPU-a81e4d27-5c90-b3f6-e24d-6a0f8c1b57e9", "NVIDIA H100 80GB HBM3"),
    ]
    assert not scrape.reading.errors and not scrape.unreadable
    busy, idle = scrape.reading.samples
    assert (busy.uuid, busy.index, busy.timestamp) == (scrape.gpus[0].uuid, 0, T)
    assert busy.utilization_pct == 100 and busy.load_pct == 100
    assert busy.power_w == pytest.approx(673.425) and busy.energy_mj == 4_129_384_736_204
    assert (busy.sm_clock_mhz, busy.temperature_c, busy.memory_used_bytes) == (1980, 52, 79_470 * MIB)
    assert (busy.last_xid, busy.xid_count) == (0, None)
    # The default counters carry no SM activity and no ECC: unknown, not malformed.
    assert (busy.sm_active_pct, busy.ecc_dbe_errors, busy.throttle_reasons) == (None, None, None)
    assert (idle.utilization_pct, idle.sm_clock_mhz, idle.temperature_c) == (0, 345, 31)
    assert idle.power_w == pytest.approx(71.062) and idle.energy_mj == 1_384_551_072_913
    assert (idle.memory_used_bytes, idle.last_xid, idle.sm_active_pct) == (0, 79, None)


def test_a100_with_mig_reads_instances_as_parts_of_their_gpu():
    scrape = parse_metrics(A100_MIG, T)
    assert [(g.index, g.model) for g in scrape.gpus] == [
        (0, "NVIDIA A100-SXM4-80GB"),  # the instances print no modelName; the parent's is kept
        (1, "NVIDIA A100-SXM4-80GB"),
    ]
    assert not scrape.reading.errors
    mig, whole = scrape.reading.samples
    assert mig.uuid == "GPU-6f2b8e14-93ad-4c07-b5e1-d48a20c9f736"
    # No GPU_UTIL in MIG mode: GR_ENGINE_ACTIVE (0..1) of 3g at 0.912345 and 4g at 0.25, by slices, in %.
    assert mig.utilization_pct == pytest.approx((3 * 91.2345 + 4 * 25.0) / 7)
    assert mig.sm_active_pct is None and mig.load_pct == pytest.approx(mig.utilization_pct)
    # The parent's own series win over the instances' (its framebuffer is not instance 2's 28193 MiB).
    assert mig.memory_used_bytes == 60_100 * MIB
    assert mig.power_w == pytest.approx(287.514) and mig.energy_mj == 982_715_330_218
    assert (mig.sm_clock_mhz, mig.temperature_c, mig.last_xid, mig.ecc_dbe_errors) == (1410, 58, 0, None)
    # MIG disabled: GPU_UTIL (%) is exported and wins over GR_ENGINE_ACTIVE (0.702216).
    assert whole.uuid == "GPU-d03a7c58-1e6f-2b94-8a0d-c71e9f34b52a"
    assert whole.utilization_pct == 74 and whole.sm_active_pct is None
    assert whole.power_w == pytest.approx(198.337) and whole.energy_mj == 745_102_984_417
    assert (whole.sm_clock_mhz, whole.temperature_c, whole.memory_used_bytes) == (1275, 45, 37_315 * MIB)


def test_a_mig_gpu_with_only_instance_series_takes_its_values_from_them():
    parent_lines = [
        line
        for line in A100_MIG.splitlines()
        if 'gpu="0"' in line and "GPU_I_ID" not in line and not line.startswith("#")
    ]
    text = "\n".join(line for line in A100_MIG.splitlines() if line not in parent_lines)
    scrape = parse_metrics(text, T)
    mig = scrape.reading.samples[0]
    assert scrape.gpus[0].model == ""  # no series of this GPU names its model
    assert mig.memory_used_bytes == (31_907 + 28_193) * MIB  # the instances' framebuffers, summed
    assert mig.power_w == pytest.approx(287.514) and mig.temperature_c == 58  # GPU-wide, repeated
    assert mig.utilization_pct == pytest.approx((3 * 91.2345 + 4 * 25.0) / 7)
    assert (mig.uuid, mig.sm_clock_mhz, mig.energy_mj, mig.last_xid) == (
        "GPU-6f2b8e14-93ad-4c07-b5e1-d48a20c9f736",
        1410,
        982_715_330_218,
        0,
    )
    assert not scrape.reading.errors and len(scrape.reading.samples) == 2


@pytest.mark.parametrize("profile", ["0g.0gb", "", "weird"])
def test_a_mig_profile_naming_no_slices_weighs_as_one(profile):
    text = A100_MIG.replace('GPU_I_PROFILE="3g.40gb"', f'GPU_I_PROFILE="{profile}"')
    mig = parse_metrics(text, T).reading.samples[0]
    assert mig.utilization_pct == pytest.approx((91.2345 + 4 * 25.0) / 5)


def test_v100_with_profiling_metrics_only():
    scrape = parse_metrics(V100_PROF, T)
    assert [g.model for g in scrape.gpus] == ["Tesla V100-SXM2-32GB"] * 2
    assert not scrape.reading.errors
    a, b = scrape.reading.samples
    assert a.utilization_pct == pytest.approx(98.5532)  # GR_ENGINE_ACTIVE 0.985532 as %
    assert a.sm_active_pct == pytest.approx(87.1204) and a.load_pct == pytest.approx(87.1204)
    assert a.power_w == pytest.approx(251.908)
    assert (a.sm_clock_mhz, a.temperature_c, a.memory_used_bytes) == (1530, 63, 30_981 * MIB)
    # No energy counter, no Xid, no ECC in this counter file: unknown, not malformed.
    assert (a.energy_mj, a.last_xid, a.ecc_dbe_errors) == (None, None, None)
    assert b.utilization_pct == pytest.approx(33.6071) and b.sm_active_pct == pytest.approx(21.489)
    assert (b.sm_clock_mhz, b.temperature_c, b.memory_used_bytes) == (1290, 47, 6_144 * MIB)


def test_sm_activity_gives_utilization_when_the_graphics_engine_is_not_exported():
    scrape = parse_metrics(_without(V100_PROF, "DCGM_FI_PROF_GR_ENGINE_ACTIVE{"), T)
    assert [s.utilization_pct for s in scrape.reading.samples] == pytest.approx([87.1204, 21.489])


def test_a_gpu_with_no_utilization_in_any_form_is_malformed():
    text = _without(_without(V100_PROF, "DCGM_FI_PROF_GR_ENGINE_ACTIVE{", 'gpu="1"'), "SM_ACTIVE{", 'gpu="1"')
    reading = parse_metrics(text, T).reading
    assert [s.index for s in reading.samples] == [0]
    assert isinstance(reading.errors[0], MalformedSample) and "utilization_pct" in reading.errors[0].reason


def test_a_non_numeric_value_skips_its_series_only():
    scrape = parse_metrics(ERROR_VALUE, T)
    assert scrape.unreadable == {
        "DCGM_FI_DEV_VGPU_LICENSE_STATUS": "ERROR - FAILED TO CONVERT TO STRING",
        "DCGM_FI_DEV_XID_ERRORS": "ERROR - FAILED TO CONVERT TO STRING",
    }
    assert not scrape.reading.errors
    a, b = scrape.reading.samples
    assert (a.last_xid, b.last_xid) == (0, None)  # GPU 1's Xid unreadable: unknown
    assert a.utilization_pct == 100 and b.power_w == pytest.approx(71.062)


def test_a_non_numeric_required_value_makes_only_that_gpu_malformed():
    text = H100.replace("} 71.062000", "} ERROR - FAILED TO CONVERT TO STRING")
    reading = parse_metrics(text, T).reading
    assert [s.index for s in reading.samples] == [0]
    assert "power_w" in reading.errors[0].reason


def test_dcgm_blank_values_count_as_not_exported():
    # DCGM_INT64_NOT_SUPPORTED (the README's MEMORY_TEMP) on an optional counter, DCGM_FP64_BLANK on power.
    text = H100.replace("} 1384551072913", "} 9223372036854775794").replace(
        "} 71.062000", "} 140737488355328.000000"
    )
    reading = parse_metrics(text, T).reading
    assert reading.samples[0].energy_mj == 4_129_384_736_204
    assert "power_w" in reading.errors[0].reason


def test_an_infinite_reading_is_malformed_not_blank():
    reading = parse_metrics(H100.replace("} 1384551072913", "} +Inf"), T).reading
    assert [s.index for s in reading.samples] == [0]
    assert "energy_mj" in reading.errors[0].reason


@contextmanager
def exporter(text: str) -> Iterator[str]:
    """A tiny dcgm-exporter: `text` at /metrics over real HTTP."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = text.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/metrics"
    finally:
        server.shutdown()
        server.server_close()


def test_the_source_warns_once_per_unreadable_metric(caplog):
    caplog.set_level(logging.WARNING, logger="oracle.agent.telemetry.dcgm")
    with exporter(ERROR_VALUE) as url, DcgmSource(url) as source:
        for _ in range(3):
            assert len(source.read().samples) == 2
    warned = sorted(r.getMessage().split(" for ")[1].split(",")[0] for r in caplog.records)
    assert warned == ["DCGM_FI_DEV_VGPU_LICENSE_STATUS", "DCGM_FI_DEV_XID_ERRORS"]


@pytest.mark.parametrize(
    "fixture", [H100, A100_MIG, V100_PROF, ERROR_VALUE], ids=["h100", "a100-mig", "v100-prof", "error"]
)
def test_the_agent_samples_every_gpu_of_each_format(fixture):
    expected = {g.uuid for g in parse_metrics(fixture, T).gpus}
    port = free_port()
    with exporter(fixture) as url:
        process = subprocess.Popen(
            [AGENT, "oracle", "agent", "--source", "dcgm", "--port", str(port), "--backend", "numpy"],
            cwd=REPO_ROOT,
            env={**os.environ, "GPUHOURS_ORACLE_DCGM_URL": url, "GPUHOURS_ORACLE_SAMPLE_INTERVAL": "0.2"},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        agent = f"http://127.0.0.1:{port}"
        try:
            started = time.time()
            deadline = started + 60
            seen: set[str] = set()
            while seen != expected:
                if process.poll() is not None or time.time() > deadline:
                    out = process.stdout.read() if process.stdout else ""
                    raise AssertionError(f"agent sampled {seen}, not {expected}: {out}")
                try:
                    body = httpx.get(
                        f"{agent}/samples", params={"since": started - 5, "until": time.time() + 1}
                    )
                    seen = {s["uuid"] for s in body.raise_for_status().json()["samples"]}
                except httpx.HTTPError:
                    pass
                time.sleep(0.2)
            health = httpx.get(f"{agent}/health").json()
            assert health["source"] == "dcgm" and health["sample_errors"] == 0
            assert {g["uuid"] for g in health["gpus"]} == expected
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=5)  # uvicorn shuts the app (and its sampler) down, then re-raises SIGTERM
        finally:
            process.terminate()
            process.wait(timeout=10)
