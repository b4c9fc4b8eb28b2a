"""The oracle node in-process: agents over HTTP (one unreachable), then three oracles, threshold two."""

from __future__ import annotations

from contextlib import ExitStack

import pytest
from eth_account import Account
from fastapi.testclient import TestClient

from backend.chain.anvil import free_port
from oracle.agent.api import create_agent_app
from oracle.agent.prover import NumpyBackend, Prover
from oracle.agent.telemetry.simulated import SimulatedSource
from oracle.node.agent_client import AgentClient, AgentUnreachable
from oracle.node.api import EpochUnavailable, EpochViews
from oracle.node.epoch_attestation import epoch_bounds
from oracle.node.service import AgentTarget, OracleNode, next_challenge_size
from oracle.node.verifier import ChallengeOutcome
from oracle.protocol.consensus import (
    ConsensusError,
    Proposal,
    ReportSigner,
    ThresholdNotMet,
    collect_signatures,
    make_proposal,
    propose,
)
from oracle.protocol.observation import SignedObservation
from oracle.protocol.report import UNWATCHED_UPTIME, Domain, Report, recover_signer
from oracle.settings import NodeSettings
from tests.oracle.watch import StepClock, watch_hour

EPOCH = 500_000
START, END = epoch_bounds(EPOCH)
NOW = END + 10.0
DOMAIN = Domain(31337, "0x5FbDB2315678afecb367f032d93F642f64180aa3")
SETTINGS = NodeSettings(challenge_n=128, challenge_rows=8, freivalds_rounds=4)


@pytest.fixture
def agents():
    """Node 1: a healthy simulated machine; node 2: one that was down for ten minutes of the hour."""
    with ExitStack() as stack:
        clients = {}
        for node_id, seed in ((1, 11), (2, 12)):
            source = SimulatedSource(seed, gpus=2, clock=lambda: NOW)
            if node_id == 2:
                source.schedule_outage(START + 600, START + 1200)
            app = create_agent_app(
                source,
                Prover(NumpyBackend(), source, max_n=512),
                backfill=3700,
                clock=lambda: NOW,
                sample=False,
            )
            clients[f"http://node{node_id}"] = stack.enter_context(TestClient(app))
        yield clients


def make_node(
    agents, targets, settings: NodeSettings = SETTINGS, watched_since: float | None = 0.0
) -> OracleNode:
    """An oracle node whose polls watched the epoch from `watched_since` seconds in (None: not at all)."""

    def factory(url: str) -> AgentClient:
        if url in agents:
            return AgentClient("http://testserver", client=agents[url])
        return AgentClient(url, timeout=1.0)

    clock = StepClock(NOW)
    node = OracleNode(settings, targets, client_factory=factory, clock=clock)
    if watched_since is not None:
        watch_hour(node, clock, EPOCH, since=watched_since)
    return node


def test_one_oracle_attests_healthy_down_and_unreachable_nodes(agents):
    targets = [
        AgentTarget(1, "http://node1"),
        AgentTarget(2, "http://node2"),
        AgentTarget(3, f"http://127.0.0.1:{free_port()}", gpu_count=4),
    ]
    node = make_node(agents, targets)
    account = Account.create()
    signed, results = node.run_once(EPOCH, account, DOMAIN)
    by_node = {a.node_id: a for a in signed.report.attestations}
    assert by_node[1].uptime_bps == 10_000 and by_node[1].gpu_seconds == 2 * 3600 and by_node[1].gflops >= 0
    assert by_node[2].uptime_bps == (3600 - 600) * 10_000 // 3600  # the outage left no samples
    assert by_node[3].uptime_bps == 0 and by_node[3].samples_root == b"\x00" * 32
    notes = {r.attestation.node_id: r.reasons for r in results}
    assert any("agent unreachable" in n for n in notes[3])
    assert recover_signer(signed.report, signed.signatures[0], DOMAIN) == account.address


def observe_and_sign(agents, targets, accounts) -> list[SignedObservation]:
    """Each oracle challenges the agents itself (its own random GPU), then signs its view of the epoch."""
    observations = []
    for account in accounts:
        node = make_node(agents, targets)
        node.check_all(EPOCH)
        report, _ = node.report(EPOCH)
        observations.append(SignedObservation.sign(report, account, DOMAIN))
    return observations


def test_three_oracles_with_their_own_challenges_agree_and_two_signatures_are_enough(agents):
    targets = [AgentTarget(1, "http://node1"), AgentTarget(2, "http://node2")]
    accounts = [Account.create() for _ in range(3)]
    observations = observe_and_sign(agents, targets, accounts)
    proposal = make_proposal(observations, signer_set=1, quorum=2)
    roots = {a.samples_root for o in observations for a in o.observation.attestations if a.node_id == 1}
    assert roots == {proposal.report.attestations[0].samples_root}
    peers = [a.address for a in accounts]
    signers = [ReportSigner(a, DOMAIN, peers, quorum=2, signer_set=1) for a in accounts]
    assert all(s.review(proposal) is None for s in signers)  # whatever each one measured itself
    signed = collect_signatures(proposal, signers, threshold=2, domain=DOMAIN)
    assert len(signed.signers) == 2 and [int(s, 16) for s in signed.signers] == sorted(
        int(s, 16) for s in signed.signers
    )


def test_no_oracle_signs_a_report_moved_off_the_observations(agents):
    targets = [AgentTarget(1, "http://node1")]
    accounts = [Account.create() for _ in range(3)]
    proposal = make_proposal(observe_and_sign(agents, targets, accounts), signer_set=1, quorum=2)
    honest = proposal.report.attestations[0]
    inflated = honest.__class__(**{**honest.__dict__, "uptime_bps": 10_000, "gpu_seconds": 2 * 3600 + 1})
    moved = Proposal(proposal.report.__class__(1, (inflated,)), proposal.observations)
    peers = [a.address for a in accounts]
    signers = [ReportSigner(a, DOMAIN, peers, quorum=2, signer_set=1) for a in accounts]
    with pytest.raises(ThresholdNotMet) as info:
        collect_signatures(moved, signers, threshold=1, domain=DOMAIN)
    assert len(info.value.refusals) == 3
    assert all("is not the median" in reason for reason in info.value.refusals.values())


def outcome(passed: bool, seconds: float | None) -> ChallengeOutcome:
    return ChallengeOutcome(NOW, 1024, passed, "test", observed_seconds=seconds)


def test_challenge_sizes_follow_the_time_the_product_takes():
    grow = next_challenge_size
    assert grow(1024, outcome(True, 0.01), 512, 16384, 0.5) == 2048  # fast: 8x the work next time
    assert grow(16384, outcome(True, 0.01), 512, 16384, 0.5) == 16384  # no more than the agent accepts
    assert grow(1024, outcome(True, 0.3), 512, 16384, 0.5) == 1024  # about right
    assert grow(1024, outcome(True, 3.0), 512, 16384, 0.5) == 512  # too slow
    assert grow(1024, outcome(False, None), 512, 16384, 0.5) == 512  # failed: smaller, not below the floor
    assert grow(512, outcome(False, None), 512, 16384, 0.5) == 512
    assert grow(1024, outcome(True, 0.01), 512, 16384, 0) == 512  # 0: always challenge_n


def test_an_agent_gets_larger_challenges_up_to_what_it_accepts(agents):
    """The agents accept n <= 512 and advertise it; NumPy at these sizes is far under the target."""
    settings = SETTINGS.model_copy(update={"challenge_n": 128, "challenge_seconds": 60.0})
    node = make_node(agents, [AgentTarget(1, "http://node1")], settings)
    target = node.targets[0]
    assert node.poll(target).ok
    outcomes = [node.challenge(target, EPOCH) for _ in range(4)]
    assert all(o.passed for o in outcomes), [o.reason for o in outcomes]
    assert [o.n for o in outcomes] == [128, 256, 512, 512]


def test_an_oracle_started_late_attests_no_uptime_for_the_hour_it_did_not_watch(agents):
    """The agent's samples cover the whole hour, but the late oracle's own polls began ten minutes in:
    its uptime is absent (not 0, not the samples' 100 %); load, GPU-seconds and root are the samples'."""
    targets = [AgentTarget(1, "http://node1")]
    (whole,) = make_node(agents, targets).report(EPOCH)[0].attestations
    (late,) = make_node(agents, targets, watched_since=600).report(EPOCH)[0].attestations
    assert whole.uptime_bps == 10_000 and late.uptime_bps == UNWATCHED_UPTIME
    assert (late.load_bps, late.gpu_seconds, late.samples_root) == (
        whole.load_bps,
        whole.gpu_seconds,
        whole.samples_root,
    )
    # With one of two oracles watching, quorum two: the hour is left out, not attested down.
    proposal = make_proposal(
        [SignedObservation.sign(Report(1, (a,)), Account.create(), DOMAIN) for a in (whole, late)],
        signer_set=1,
        quorum=1,
    )
    assert proposal.report.attestations[0].uptime_bps == 10_000
    with pytest.raises(ConsensusError):
        propose([Report(1, (whole,)), Report(1, (late,))], signer_set=1, quorum=2)


def test_oracles_fetching_a_sealed_hour_at_different_times_compute_one_root(agents):
    """The agent's buffer holds just over an hour: by the second oracle's fetch, samples sampled since
    the first have pushed the hour's first seconds out of it. The sealed hour is what both get."""
    clock = StepClock(NOW)
    source = SimulatedSource(13, gpus=2, clock=clock)
    app = create_agent_app(
        source,
        Prover(NumpyBackend(), source, max_n=512),
        buffer_seconds=3700,
        backfill=3700,
        clock=clock,
        sample=False,
    )
    with TestClient(app) as http:
        roots = []
        for _ in range(2):
            node = OracleNode(
                SETTINGS,
                [AgentTarget(1, "http://node")],
                client_factory=lambda url: AgentClient("http://testserver", client=http),
                clock=StepClock(NOW),
            )
            roots.append(node.report(EPOCH)[0].attestations[0].samples_root)
            for _ in range(120):  # two more minutes of samples: the buffer drops the oldest ones
                clock.t += 1
                app.state.sampler.sample_once()
    assert roots[0] == roots[1] != b"\x00" * 32


class FailsOnce(AgentClient):
    """An agent client whose first fetch of samples fails, as over a dropped connection."""

    failed = False

    def _call(self, method, path, **kwargs):
        if "samples" in path and not self.failed:
            self.failed = True
            raise AgentUnreachable(f"{self.url}{path}: ReadTimeout")
        return super()._call(method, path, **kwargs)


def test_a_fetch_that_failed_is_retried_not_observed_empty(agents):
    node = make_node(agents, [AgentTarget(1, "http://node1")])
    node._clients[1] = FailsOnce("http://testserver", client=agents["http://node1"])
    views = EpochViews(node, clock=lambda: NOW, grace=5.0)
    with pytest.raises(EpochUnavailable, match="could not be fetched"):
        views.get(EPOCH)
    report, _ = views.get(EPOCH)  # asked again: fetched this time
    (attestation,) = report.attestations
    assert attestation.samples_root != b"\x00" * 32
    assert attestation.uptime_bps == 10_000 and attestation.gpu_seconds == 2 * 3600
    assert views.get(EPOCH)[0] == report  # and kept from then on
