"""Oracle nodes and the aggregator over real HTTP, landing on the session Anvil.

Simulated agents (real servers) → oracle node servers signing with Anvil dev accounts 6, 7 and 8 (the
dev chain's signer set, threshold two) → the aggregator, in-process and as `gpuhours oracle
aggregate`. Servers are uvicorn in threads on free ports; the agents and nodes run on a fixed clock
just after the attested epoch (each node's polls first walked through it), and the chain is warped
to the same place.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from backend.chain.anvil import free_port
from backend.chain.client import Market
from backend.chain.deployments import REPO_ROOT
from backend.chain.dev_accounts import DEV_ORACLE_ACCOUNTS, dev_account
from oracle.agent.api import create_agent_app
from oracle.agent.prover import NumpyBackend, Prover
from oracle.agent.telemetry.simulated import SimulatedSource
from oracle.aggregator.node_client import OracleNodeClient
from oracle.aggregator.sender_account import DEV_SENDER_INDEX
from oracle.aggregator.service import Aggregator
from oracle.aggregator.submitter import Submitter
from oracle.node.api import EpochViews, create_node_app
from oracle.node.epoch_attestation import EPOCH_SECONDS, epoch_bounds
from oracle.node.service import AgentTarget, OracleNode
from oracle.protocol.consensus import Proposal, make_proposal
from oracle.protocol.observation import SignedObservation
from oracle.protocol.report import Domain, Report
from oracle.settings import NodeSettings
from tests.conftest import now, warp_to
from tests.oracle.watch import StepClock, watch_hour

GPUS = 2
SETTINGS = NodeSettings(challenge_n=128, challenge_rows=8, freivalds_rounds=4)


@contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    """`app` behind a real uvicorn server on a free port, in a thread."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def dead_url() -> str:
    return f"http://127.0.0.1:{free_port()}"


@dataclass(frozen=True)
class Network:
    epoch: int
    domain: Domain
    nodes: dict[str, str]  # a, b, c: honest oracle nodes; d: one fed different samples of node 1
    signers: dict[str, str]


@pytest.fixture(scope="module")
def network(session_market: Market) -> Iterator[Network]:
    epoch = now(session_market) // EPOCH_SECONDS + 1  # in the chain's future; tests warp past it
    start, end = epoch_bounds(epoch)
    clock_now = end + 45.0  # the epoch is over, and the nodes' 30 s of grace with it
    domain = Domain(session_market.chain_id, session_market.oracle.address)

    def agent(seed: int, outage: tuple[float, float] | None = None) -> FastAPI:
        source = SimulatedSource(seed, gpus=GPUS, clock=lambda: clock_now)
        if outage:
            source.schedule_outage(*outage)
        prover = Prover(NumpyBackend(), source, max_n=512)
        return create_agent_app(source, prover, backfill=3700, clock=lambda: clock_now, sample=False)

    with ExitStack() as stack:
        healthy = stack.enter_context(serve(agent(11)))
        flaky = stack.enter_context(serve(agent(12, (start + 600, start + 1200))))
        # What node 1 would serve oracle d if it told different oracles different stories.
        two_faced = stack.enter_context(serve(agent(11, (start + 60, start + 1260))))
        nodes: dict[str, str] = {}
        signers: dict[str, str] = {}
        a, b, c = DEV_ORACLE_ACCOUNTS
        peers = [dev_account(i, session_market.chain_id).address for i in DEV_ORACLE_ACCOUNTS]
        settings = SETTINGS.model_copy(update={"peers": peers, "quorum": 2})
        views_of_node_1 = (("a", a, healthy), ("b", b, healthy), ("c", c, healthy), ("d", c, two_faced))
        for name, index, node_1 in views_of_node_1:
            account = dev_account(index, session_market.chain_id)
            clock = StepClock(clock_now)
            node = OracleNode(settings, [AgentTarget(1, node_1), AgentTarget(2, flaky)], clock=clock)
            watch_hour(node, clock, epoch)  # its own polls through the hour: it may attest uptime
            node.check_all(epoch)  # a poll and a proof-of-compute challenge of each agent
            views = EpochViews(node, clock=lambda: clock_now, grace=30.0)
            app = create_node_app(views, account, domain, watch=False)
            nodes[name] = stack.enter_context(serve(app))
            signers[name] = account.address
        yield Network(epoch, domain, nodes, signers)


@pytest.fixture
def landed_epoch(market: Market, network: Network) -> int:
    """The chain warped to just after the network's epoch: over, and far from stale."""
    warp_to(market, epoch_bounds(network.epoch)[1] + 60)
    return network.epoch


def make_aggregator(market: Market, urls: list[str]) -> Aggregator:
    sender = dev_account(DEV_SENDER_INDEX, market.chain_id)
    submitter = Submitter(market.w3, market.oracle, sender, market.errors)
    return Aggregator(market, submitter, [OracleNodeClient(u, timeout=10) for u in urls])


def record(market: Market, node_id: int, epoch: int) -> tuple[bool, int, int, int]:
    return tuple(market.oracle.functions.epochRecord(node_id, epoch).call())


def test_three_nodes_land_the_median_report(market, network, landed_epoch):
    aggregator = make_aggregator(market, [network.nodes[n] for n in "abc"])
    outcome = aggregator.run(landed_epoch)
    assert outcome.landed, outcome.summary
    assert outcome.signed is not None and len(outcome.signed.signers) == 2
    assert list(outcome.signed.signers) == sorted(outcome.signed.signers, key=lambda a: int(a, 16))
    assert set(outcome.signed.signers) <= {network.signers[n] for n in "abc"}

    attested, uptime, *_ = record(market, 1, landed_epoch)
    assert attested and uptime == 10_000
    attested, uptime, *_ = record(market, 2, landed_epoch)
    assert attested and uptime == (3600 - 600) * 10_000 // 3600  # ten minutes down
    first_epoch, last_epoch, epochs, weighted_uptime = market.oracle.functions.node(2).call()
    assert (first_epoch, last_epoch, epochs, weighted_uptime) == (
        landed_epoch,
        landed_epoch,
        1,
        uptime * 10**18,
    )
    receipt = market.w3.eth.get_transaction_receipt(outcome.tx_hash)
    attested_events = market.events(receipt, market.oracle, "Attested")
    assert [e["nodeId"] for e in attested_events] == [1, 2]
    assert attested_events[0]["gpuSeconds"] == GPUS * 3600


def test_one_node_down_still_lands(market, network, landed_epoch, caplog):
    down = dead_url()
    aggregator = make_aggregator(market, [down, network.nodes["a"], network.nodes["b"]])
    with caplog.at_level(logging.WARNING, logger="oracle.aggregator.service"):
        outcome = aggregator.run(landed_epoch)
    assert outcome.landed, outcome.summary
    assert set(outcome.signed.signers) == {network.signers["a"], network.signers["b"]}
    skips = [r.message for r in caplog.records if "skipped" in r.message]
    assert any(down in m and "Connect" in m for m in skips)
    assert record(market, 1, landed_epoch)[0]


def test_a_node_that_saw_otherwise_is_outvoted_and_signs_the_median(market, network, landed_epoch):
    """Oracle d was served twenty minutes less of node 1 than a and b saw: its observation is one of
    three, the median is the majority's, and d signs it because it is derived correctly."""
    aggregator = make_aggregator(market, [network.nodes["d"], network.nodes["a"], network.nodes["b"]])
    outcome = aggregator.run(landed_epoch)
    assert outcome.landed, outcome.summary
    assert network.signers["d"] in outcome.signed.signers and not outcome.signed.refusals
    assert record(market, 1, landed_epoch)[1] == 10_000  # the median is the honest majority's
    a_view = Report.from_json(httpx.get(f"{network.nodes['a']}/observations/{landed_epoch}").json()["report"])
    assert outcome.signed.report.attestations[0].samples_root == a_view.attestations[0].samples_root


def test_the_same_epoch_twice_is_already_attested(market, network, landed_epoch, caplog):
    aggregator = make_aggregator(market, [network.nodes[n] for n in "abc"])
    assert aggregator.run(landed_epoch).landed
    with caplog.at_level(logging.WARNING, logger="oracle.aggregator.service"):
        again = aggregator.run(landed_epoch)
    assert not again.landed and again.error == "AlreadyAttested"
    assert "this epoch has already landed" in again.summary
    assert any("AlreadyAttested" in r.message for r in caplog.records)
    assert market.oracle.functions.node(1).call()[2] == 1  # counted once (epochs)


def test_watch_lands_the_last_epoch_once(market, network, landed_epoch):
    end = epoch_bounds(landed_epoch)[1]
    aggregator = make_aggregator(market, [network.nodes[n] for n in "abc"])
    aggregator._clock = lambda: end + 90  # the epoch ended 90 s ago
    stop, outcomes = threading.Event(), []

    def seen(outcome) -> None:
        outcomes.append(outcome)
        stop.set()

    aggregator.watch(stop, seen, interval=0.05, delay=60)
    assert [o.landed for o in outcomes] == [True] and outcomes[0].epoch == landed_epoch


def test_node_api_refusals_have_reasons(network):
    url = network.nodes["a"]
    not_over = httpx.get(f"{url}/observations/{network.epoch + 1}")
    assert not_over.status_code == 409 and "has not ended" in not_over.json()["reason"]
    body = httpx.get(f"{url}/observations/{network.epoch}").json()
    assert body["signer"] == network.signers["a"] and body["domain"]["chainId"] == network.domain.chain_id
    assert "private" not in str(body).lower() and "key" not in body
    report = Report.from_json(body["report"])
    assert {a.node_id for a in report.attestations} == {1, 2}

    observation = SignedObservation(body["signer"], report, bytes.fromhex(body["signature"][2:]))
    assert observation.recovers(network.domain)
    other = httpx.get(f"{network.nodes['b']}/observations/{network.epoch}").json()
    shown = (
        observation,
        SignedObservation(
            other["signer"], Report.from_json(other["report"]), bytes.fromhex(other["signature"][2:])
        ),
    )
    derived = Proposal(report, shown)
    unknown = derived.to_json()
    unknown["report"]["attestations"][0]["nodeId"] = 99
    refused = httpx.post(f"{url}/sign", json=unknown)
    assert refused.status_code == 409 and "node 99 epoch" in refused.json()["reason"]
    alone = httpx.post(f"{url}/sign", json=Proposal(report, shown[:1]).to_json())
    assert alone.status_code == 409 and "1 signed observations shown, 2 needed" in alone.json()["reason"]
    junk = httpx.post(f"{url}/sign", json={"report": {"signerSet": 1}})
    assert junk.status_code == 422 and "not a" in junk.json()["reason"]
    empty = httpx.post(f"{url}/sign", json=Proposal(Report(1), shown).to_json())
    assert empty.status_code == 409 and "empty" in empty.json()["reason"]
    proposal = make_proposal(shown, signer_set=1, quorum=2)
    signed = httpx.post(f"{url}/sign", json=proposal.to_json())
    assert signed.status_code == 200 and signed.json()["signer"] == network.signers["a"]


# ------------------------------------------------------------------ the CLI


def aggregate_cli(chain, deployments_dir: Path, *args: str, env: dict[str, str] | None = None):
    exe = Path(sys.executable).with_name("gpuhours")
    return subprocess.run(
        [str(exe), "oracle", "aggregate", *args],
        cwd=REPO_ROOT,
        env={
            **os.environ,
            "GPUHOURS_RPC_URL": chain.url,
            "GPUHOURS_DEPLOYMENTS_DIR": str(deployments_dir),
            **(env or {}),
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_cli_lands_then_reports_the_revert_by_name(market, network, landed_epoch, chain, deployments_dir):
    nodes = ",".join(network.nodes[n] for n in "abc")
    first = aggregate_cli(chain, deployments_dir, "--nodes", nodes)  # the last complete epoch
    assert first.returncode == 0, first.stderr
    assert f"landed epoch {landed_epoch}" in first.stdout and "dev account 9" in first.stderr
    second = aggregate_cli(chain, deployments_dir, "--nodes", nodes, "--epoch", str(landed_epoch))
    assert second.returncode == 1, second.stdout + second.stderr
    assert "AlreadyAttested" in second.stderr and "nothing landed" in second.stderr
    assert "Traceback" not in second.stdout + second.stderr


def test_cli_two_nodes_down_is_threshold_not_met(market, network, landed_epoch, chain, deployments_dir):
    sender = dev_account(DEV_SENDER_INDEX, market.chain_id).address
    nonce = market.w3.eth.get_transaction_count(sender)
    nodes = ",".join([dead_url(), network.nodes["a"], dead_url()])
    result = aggregate_cli(chain, deployments_dir, "--nodes", nodes, "--epoch", str(landed_epoch))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "ThresholdNotMet" in result.stderr and "only 1 of 3 oracle nodes answered" in result.stderr
    assert "skipped" in result.stderr and "Traceback" not in result.stderr
    assert market.w3.eth.get_transaction_count(sender) == nonce  # nothing was sent
    assert not record(market, 1, landed_epoch)[0]


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--nodes", "ftp://10.0.0.1"], {}, "--nodes takes oracle node URLs"),
        ([], {"GPUHOURS_ORACLE_NODES": "[]"}, "no oracle nodes"),
        (["--nodes", "http://a,http://a"], {}, "lists a node twice"),
        (["--nodes", "http://a", "--epoch", "-1"], {}, "greater than or equal to 0"),
        (["--nodes", "http://a", "--watch", "--epoch", "5"], {}, "takes no --epoch"),
        (
            ["--nodes", "http://a", "--keystore", "/nonexistent/key.json", "--password-file", "/dev/null"],
            {},
            "no keystore at",
        ),
        (["--nodes", "http://a"], {"GPUHOURS_DEPLOYMENTS_DIR": "/nonexistent"}, "no deployment for chain"),
    ],
)
def test_cli_bad_input_exits_2(args, env, message, chain, deployments_dir):
    result = aggregate_cli(chain, deployments_dir, *args, env=env)
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr and "Traceback" not in result.stdout + result.stderr


def test_cli_unreachable_chain_is_a_sentence(chain, deployments_dir):
    result = aggregate_cli(chain, deployments_dir, "--nodes", "http://a", "--rpc-url", dead_url())
    assert result.returncode == 1 and "cannot be reached" in result.stderr
    assert "Traceback" not in result.stderr
