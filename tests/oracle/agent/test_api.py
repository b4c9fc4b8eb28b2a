"""The agent over HTTP: samples, health, and a full challenge, as the oracle node drives it."""

from __future__ import annotations

import time

import numpy as np
import pytest
from fastapi.testclient import TestClient

from oracle.agent.api import create_agent_app
from oracle.agent.prover import NumpyBackend, Prover
from oracle.agent.sampling import SampleBuffer, Sampler
from oracle.agent.telemetry.simulated import SimulatedSource
from oracle.node.agent_client import AgentClient, AgentProtocolError
from oracle.node.verifier import challenge

NOW = 1_800_000_000.0


@pytest.fixture
def source():
    return SimulatedSource(seed=2, gpus=2, clock=lambda: NOW)


@pytest.fixture
def http(source):
    app = create_agent_app(
        source, Prover(NumpyBackend(), source, max_n=512), backfill=120, clock=lambda: NOW, sample=False
    )
    with TestClient(app) as client:  # runs the lifespan: backfill
        yield client


def test_health_lists_the_gpus(http, source):
    body = http.get("/health").json()
    assert body["source"] == "simulated" and body["backend"] == "numpy"
    assert [g["uuid"] for g in body["gpus"]] == [g.uuid for g in source.gpus()]
    assert body["samples_buffered"] == 2 * 120


def test_samples_in_a_window(http):
    client = AgentClient("http://testserver", client=http)
    samples, errors = client.samples(NOW - 60, NOW - 30)
    assert len(samples) == 2 * 30 and not errors
    assert all(NOW - 60 <= s.timestamp < NOW - 30 for s in samples)


def test_bad_queries_are_4xx_with_a_reason(http):
    assert http.get("/samples", params={"since": 10, "until": 5}).status_code == 400
    assert http.get("/samples").status_code == 422
    assert http.post("/challenge", json={"seed": 1, "n": 100_000}).status_code == 400
    assert http.post("/challenge", json={"seed": -1, "n": 16}).status_code == 422
    assert http.post("/challenge", json={"seed": 1, "n": 16, "dtype": "float16"}).status_code == 400
    assert http.post("/challenge/unknown/run", json={"salt": 1}).status_code == 404
    assert http.post("/challenge/unknown/reveal", json={"rows": [0]}).status_code == 404


def test_a_challenge_over_http_passes(http, source):
    client = AgentClient("http://testserver", client=http)
    outcome = challenge(client, 256, rows=16, rounds=8, gpu=1)
    assert outcome.passed, outcome.reason
    assert outcome.gpu_uuid == source.gpus()[1].uuid
    assert outcome.flops_per_second > 0


def test_protocol_errors_become_failed_challenges(http):
    client = AgentClient("http://testserver", client=http)
    outcome = challenge(client, 4096, rows=4, rounds=1)  # above the agent's limit
    assert not outcome.passed and "outside" in outcome.reason


def test_client_rejects_malformed_samples_without_crashing(source):
    """An agent that serves an impossible sample and junk: the node counts them and goes on."""
    import httpx

    good = source.read_at(NOW - 1).samples[0].model_dump()
    bad = dict(good, power_w=-1.0)
    transport = httpx.MockTransport(lambda r: httpx.Response(200, json={"samples": [good, bad, "junk"]}))
    samples, errors = AgentClient("http://agent", client=httpx.Client(transport=transport)).samples(0, 1)
    assert len(samples) == 1 and len(errors) == 2


def test_client_turns_garbage_into_protocol_errors():
    import httpx

    transport = httpx.MockTransport(lambda r: httpx.Response(200, text="<html>"))
    with pytest.raises(AgentProtocolError):
        AgentClient("http://agent", client=httpx.Client(transport=transport)).health()


def test_sampler_counts_errors_and_outages_and_keeps_going(source):
    buffer = SampleBuffer(100)
    sampler = Sampler(source, buffer, interval=0.01)
    sampler.sample_once()
    source.corrupt_next(0)
    sampler.sample_once()
    source.start_outage()
    sampler.sample_once()
    source.end_outage()
    assert (sampler.reads, sampler.sample_errors, sampler.outages, len(buffer)) == (2, 1, 1, 3)


def test_sampler_thread_samples_on_schedule():
    source = SimulatedSource(0, 2)
    buffer = SampleBuffer(10_000)
    sampler = Sampler(source, buffer, interval=0.05)
    sampler.start()
    time.sleep(0.5)
    sampler.stop()
    assert 7 <= sampler.reads <= 12 and len(buffer) == 2 * sampler.reads


def test_sampler_survives_a_source_that_raises_anything():
    class Broken(SimulatedSource):
        def read(self):
            raise RuntimeError("driver bug")

    sampler = Sampler(Broken(0, 1), SampleBuffer(10))
    sampler.sample_once()
    assert sampler.outages == 1


def test_buffer_drops_the_oldest():
    source = SimulatedSource(0, 1)
    buffer = SampleBuffer(5)
    for t in range(10):
        buffer.extend(source.read_at(100.0 + t).samples)
    assert [s.timestamp for s in buffer.between(0, 1e12)] == [105.0, 106.0, 107.0, 108.0, 109.0]
    assert np.isclose(buffer.between(107, 108)[0].timestamp, 107.0)


def test_an_ended_hour_is_sealed_and_served_as_the_same_bytes():
    """Hour E ended 10 s ago (sealed 5 s after its end); hour E + 1 runs; E − 3 is before the history."""
    clock = [3_600 * 500_000 + 10.0]
    source = SimulatedSource(seed=3, gpus=2, clock=lambda: clock[0])
    app = create_agent_app(
        source, Prover(NumpyBackend(), source, max_n=512), backfill=7200, clock=lambda: clock[0], sample=False
    )
    with TestClient(app) as http:
        first = http.get("/hours/499999/samples")
        samples = first.json()["samples"]
        assert first.status_code == 200 and len(samples) == 2 * 3600
        assert {int(s["timestamp"] // 3600) for s in samples} == {499_999}
        clock[0] += 60
        app.state.sampler.sample_once()  # a new sample comes in; the sealed hour does not change
        assert http.get("/hours/499999/samples").content == first.content
        assert http.get("/hours/500000/samples").status_code == 425  # still running
        assert http.get("/hours/499996/samples").status_code == 404  # before the agent's history
