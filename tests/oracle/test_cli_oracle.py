"""`gpuhours oracle ...` as an operator runs it: a real agent process on a free port, a keystore, a node."""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data

from backend.chain.anvil import free_port
from backend.chain.deployments import REPO_ROOT
from oracle.node.clock import clock_skew_error
from oracle.protocol.consensus import Proposal
from oracle.protocol.observation import SignedObservation
from oracle.protocol.report import UNWATCHED_UPTIME, Domain, Report, recover_signer, typed_data
from tests.conftest import now, warp_to

CONTRACT = "0x5FbDB2315678afecb367f032d93F642f64180aa3"


def gpuhours(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("gpuhours")
    return subprocess.run(
        [str(exe), "oracle", *args],
        cwd=REPO_ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="module")
def keystore(tmp_path_factory):
    directory = tmp_path_factory.mktemp("oracle")
    password = directory / "password"
    password.write_text("correct horse battery staple\n")
    result = gpuhours("keystore", "new", str(directory / "key.json"), "--password-file", str(password))
    assert result.returncode == 0, result.stderr
    address = result.stdout.strip()
    assert address.startswith("0x") and len(address) == 42
    assert (directory / "key.json").stat().st_mode & 0o777 == 0o600
    assert "private" not in result.stdout.lower()
    return directory / "key.json", password, address


@pytest.fixture(scope="module")
def agent_url():
    port = free_port()
    exe = Path(sys.executable).with_name("gpuhours")
    env = {**os.environ, "GPUHOURS_ORACLE_SIM_GPUS": "2", "GPUHOURS_ORACLE_MAX_CHALLENGE_N": "512"}
    process = subprocess.Popen(
        [
            str(exe),
            "oracle",
            "agent",
            "--source",
            "simulated",
            "--port",
            str(port),
            "--backfill",
            "7300",
            "--backend",
            "numpy",
        ],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while True:
            try:
                if httpx.get(url + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"agent did not start: {process.stdout.read() if process.stdout else ''}")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_agent_serves_samples_at_1hz(agent_url):
    health = httpx.get(agent_url + "/health").json()
    assert health["source"] == "simulated" and len(health["gpus"]) == 2
    time.sleep(2.5)
    now = time.time()
    samples = httpx.get(agent_url + "/samples", params={"since": now - 30, "until": now}).json()["samples"]
    # Backfilled history up to start, then the live thread: one sample a second per GPU, never two
    # in one second. A loaded machine may delay the live thread by a few seconds, so the count has
    # slack below; the spacing is the rule.
    assert 2 * 24 <= len(samples) <= 2 * 31
    for gpu in (0, 1):
        times = [s["timestamp"] for s in samples if s["index"] == gpu]
        assert all(later - earlier >= 0.9 for earlier, later in itertools.pairwise(times))


def test_node_signs_the_last_complete_hour(agent_url, keystore):
    path, password, address = keystore
    result = gpuhours(
        "node",
        "--agent",
        f"7={agent_url}",
        "--keystore",
        str(path),
        "--password-file",
        str(password),
        "--contract",
        CONTRACT,
        "--mark",
        "H100-SXM-80GB=2100000",
        env={"GPUHOURS_ORACLE_CHALLENGE_N": "256"},
    )
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    report = Report.from_json(body["report"])
    (attestation,) = report.attestations
    assert attestation.node_id == 7 and attestation.epoch in (
        int(time.time() // 3600) - 1,
        int(time.time() // 3600) - 2,
    )
    # the agent backfilled two hours of history; a second may fall between backfill and live sampling.
    # The node polled once, after the hour: it did not watch it, so it attests no uptime.
    assert attestation.uptime_bps == UNWATCHED_UPTIME and attestation.gpu_seconds >= 2 * 3600 - 10
    assert attestation.gflops >= 0 and report.marks[0].price == 2_100_000
    assert body["signers"] == [address]
    domain = Domain(31337, CONTRACT)
    assert recover_signer(report, bytes.fromhex(body["signatures"][0][2:]), domain) == address
    signable = encode_typed_data(full_message=typed_data(report, domain))
    assert Account.recover_message(signable, signature=bytes.fromhex(body["signatures"][0][2:])) == address


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["node", "--agent", "nonsense"], "--agent takes NODE_ID=URL"),
        (["node", "--agent", "1=http://127.0.0.1:1", "--contract", "0x1234"], "is not an address"),
        (
            [
                "node",
                "--agent",
                "1=http://127.0.0.1:1",
                "--contract",
                CONTRACT,
                "--keystore",
                "/nonexistent/key.json",
                "--password-file",
                "/dev/null",
            ],
            "no keystore at",
        ),
        (["node"], "no agents"),
        (["node", "--agent", "1=http://a", "--contract", CONTRACT, "--mark", "H100=0"], "a price above 0"),
        (
            [
                "node",
                "--agent",
                "1=http://a",
                "--contract",
                CONTRACT,
                "--mark",
                "H100-SXM5-80GB-NVLINK-8x-RACK-A-ROW-7=1",
            ],
            "longer than 32 bytes",
        ),
        (
            ["node", "--agent", "1=http://a", "--contract", CONTRACT, "--rpc-url", "http://127.0.0.1:1"],
            "cannot be reached to read fills",
        ),
        (["agent", "--source", "quantum"], "unknown telemetry source"),
        (["agent", "--source", "dcgm", "--backfill", "10"], "--backfill works only"),
    ],
)
def test_bad_input_is_a_sentence_not_a_traceback(args, message, tmp_path):
    result = gpuhours(
        *args, env={"GPUHOURS_DEPLOYMENTS_DIR": str(tmp_path), "GPUHOURS_ORACLE_AGENT_PORT": str(free_port())}
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert message in result.stderr and "Traceback" not in result.stdout + result.stderr


def test_wrong_password_and_busy_port(keystore, agent_url, tmp_path):
    path, _, _ = keystore
    wrong = tmp_path / "wrong"
    wrong.write_text("nope\n")
    result = gpuhours(
        "node",
        "--agent",
        f"1={agent_url}",
        "--keystore",
        str(path),
        "--password-file",
        str(wrong),
        "--contract",
        CONTRACT,
    )
    assert result.returncode == 1 and "password does not open" in result.stderr
    port = agent_url.rsplit(":", 1)[1]
    result = gpuhours("agent", "--port", port)
    assert result.returncode == 1 and "cannot listen" in result.stderr and "Traceback" not in result.stderr
    result = gpuhours("keystore", "new", str(path), "--password-file", str(wrong))
    assert result.returncode == 1 and "not overwriting" in result.stderr


def test_missing_contract_points_at_deployments(tmp_path, keystore):
    path, password, _ = keystore
    result = gpuhours(
        "node",
        "--agent",
        "1=http://127.0.0.1:1",
        "--keystore",
        str(path),
        "--password-file",
        str(password),
        env={"GPUHOURS_DEPLOYMENTS_DIR": str(tmp_path)},
    )
    assert result.returncode == 1 and "no AttestationOracle address" in result.stderr


def test_node_serves_observations_and_signs_over_http(agent_url, keystore):
    """`gpuhours oracle node --serve`: its view of an ended hour, a signature, and a refusal."""
    path, password, address = keystore
    port = free_port()
    exe = Path(sys.executable).with_name("gpuhours")
    args = ["oracle", "node", "--serve", "--port", str(port), "--agent", f"7={agent_url}"]
    args += ["--keystore", str(path), "--password-file", str(password), "--contract", CONTRACT]
    process = subprocess.Popen(
        [str(exe), *args],
        cwd=REPO_ROOT,
        env={
            **os.environ,
            "GPUHOURS_ORACLE_CHALLENGE_N": "256",
            "GPUHOURS_ORACLE_PEERS": json.dumps([address]),
            "GPUHOURS_ORACLE_QUORUM": "1",
            # Started after the hour it is asked for: a gap longer than the hour lets it attest uptime.
            "GPUHOURS_ORACLE_WATCH_GAP": "7200",
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while True:
            try:
                health = httpx.get(url + "/health", timeout=1)
                if health.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"node did not start: {process.stdout.read() if process.stdout else ''}")
            time.sleep(0.2)
        assert health.json()["signer"] == address and health.json()["agents"] == {"7": agent_url}
        epoch = int((time.time() - 31) // 3600) - 1  # ended, with the node's 30 s of grace behind it
        body = httpx.get(f"{url}/observations/{epoch}", timeout=60).json()
        report = Report.from_json(body["report"])
        assert [a.node_id for a in report.attestations] == [7] and body["signer"] == address
        observation = SignedObservation(address, report, bytes.fromhex(body["signature"][2:]))
        assert observation.recovers(Domain(31337, CONTRACT))
        proposal = Proposal(report, (observation,))
        answer = httpx.post(f"{url}/sign", json=proposal.to_json(), timeout=60).json()
        signature = bytes.fromhex(answer["signature"][2:])
        assert recover_signer(report, signature, Domain(31337, CONTRACT)) == address
        lowered = dataclasses.replace(
            report.attestations[0], uptime_bps=report.attestations[0].uptime_bps - 500
        )
        moved = Proposal(dataclasses.replace(report, attestations=(lowered,)), (observation,))
        refused = httpx.post(f"{url}/sign", json=moved.to_json(), timeout=60)
        assert refused.status_code == 409 and "uptimeBps" in refused.json()["reason"]
    finally:
        process.terminate()
        output = process.communicate(timeout=10)[0]
    assert "Traceback" not in output and "private" not in output.lower()


@pytest.mark.parametrize(
    ("command", "variable", "value", "form"),
    [
        ("agent", "GPUHOURS_ORACLE_AGENT_PORT", "ninety-four-ten", "valid integer"),
        ("agent", "GPUHOURS_ORACLE_SAMPLE_INTERVAL", "-1", "greater than 0"),
        ("agent", "GPUHOURS_ORACLE_SOURCE", "quantum", "'nvml', 'dcgm' or 'simulated'"),
        (
            "node",
            "GPUHOURS_ORACLE_AGENTS",
            "1=http://10.0.0.5:9410",
            'as JSON: {"1": "http://10.0.0.5:9410"}',
        ),
        ("node", "GPUHOURS_ORACLE_AGENTS", '{"one": "http://a"}', "valid integer"),
        ("node", "GPUHOURS_ORACLE_CHALLENGE_N", "8", "greater than or equal to 16"),
        ("node", "GPUHOURS_ORACLE_PEERS", '["0x12"]', "'0x12' is not an address (0x and 40 hex digits)"),
        ("node", "GPUHOURS_ORACLE_MAX_CLOCK_SKEW", "0", "greater than 0"),
        (
            "aggregate",
            "GPUHOURS_ORACLE_NODES",
            "http://10.0.1.1:9420",
            'as JSON: ["http://10.0.1.1:9420", ...]',
        ),
        ("aggregate", "GPUHOURS_TX_TIMEOUT", "soon", "valid number"),
    ],
)
def test_a_bad_setting_is_one_line_naming_the_variable_and_its_form(command, variable, value, form):
    result = gpuhours(command, env={variable: value})
    assert result.returncode == 2, result.stdout + result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"error: bad setting: {variable}: ") and form in line, line
    assert result.stdout == ""


def test_clock_skew_is_the_chain_ahead_of_the_node():
    assert clock_skew_error(1_000_120, 1_000_000.0, 120) is None
    assert clock_skew_error(900_000, 1_000_000.0, 120) is None  # an idle chain's latest block lags
    reason = clock_skew_error(1_036_000, 1_000_000.0, 120)
    assert reason == (
        "the chain's latest block is 36000 s ahead of this node's clock, more than "
        "GPUHOURS_ORACLE_MAX_CLOCK_SKEW (120 s): set the clock (or the dev chain's time) right"
    )


def test_node_refuses_to_run_on_a_clock_the_chain_is_ahead_of(market, chain, deployments_dir, agent_url):
    """A dev chain warped ten hours ahead: reports for the chain's hours would never come."""
    warp_to(market, max(now(market), int(time.time())) + 10 * 3600)
    args = ["node", "--serve", "--port", str(free_port()), "--agent", f"7={agent_url}"]
    args += ["--keystore", "/nonexistent/key.json", "--password-file", "/dev/null"]
    env = {"GPUHOURS_DEPLOYMENTS_DIR": str(deployments_dir), "GPUHOURS_RPC_URL": chain.url}
    result = gpuhours(*args, env=env)
    assert result.returncode == 1, result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "ahead of this node's clock" in lines[0], result.stderr
    # Allowed a day of skew, the node passes the check and stops at the next thing it lacks.
    allowed = gpuhours(*args, env={**env, "GPUHOURS_ORACLE_MAX_CLOCK_SKEW": "86400"})
    assert allowed.returncode == 1 and "no keystore at" in allowed.stderr, allowed.stderr
