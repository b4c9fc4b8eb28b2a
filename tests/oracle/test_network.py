"""The oracle network watching a live agent: one simulated agent, three oracle nodes and the
aggregator, each its own HTTP server, on a test clock that runs 120 times faster than the wall's.

The agent samples every GPU once a test-clock second; each node polls the agent and challenges it
at random times, as in production (`OracleNode.run`), so the three measure different GFLOP/s. The
chain is warped to the test clock's present before each landing. A fourth node signs with the third
one's key and lies 10× on every field; a fifth starts ten minutes into the epoch.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass

import httpx
import pytest

from backend.chain.client import Market
from backend.chain.dev_accounts import DEV_ORACLE_ACCOUNTS, dev_account
from oracle.agent.api import create_agent_app
from oracle.agent.prover import NumpyBackend, Prover
from oracle.agent.telemetry.simulated import SimulatedSource
from oracle.aggregator.service import RemoteSigner
from oracle.node.api import EpochViews, create_node_app
from oracle.node.epoch_attestation import EPOCH_SECONDS, EpochResult, epoch_bounds
from oracle.node.service import AgentTarget, OracleNode
from oracle.protocol.consensus import collect_signatures, make_proposal
from oracle.protocol.report import UINT32_MAX, UNWATCHED_UPTIME, Attestation, Domain, Report
from oracle.settings import NodeSettings
from tests.conftest import now, warp_to
from tests.oracle.aggregator.test_service import make_aggregator, record, serve

SPEED = 120.0  # test-clock seconds per wall second: an epoch lasts 30 s
GPUS = 2
NODE_ID = 1


class FastClock:
    """Time that starts at `start` and runs SPEED times faster than the wall's."""

    def __init__(self, start: float) -> None:
        self.start, self._t0 = start, time.monotonic()

    def __call__(self) -> float:
        return self.start + (time.monotonic() - self._t0) * SPEED

    def wait_until(self, t: float) -> None:
        while self() < t:
            time.sleep(max(0.01, (t - self()) / SPEED))


def lie(report: Report) -> Report:
    """Every field 10× off: counts and rates 10× up, shares (capped at 100 %) 10× down, another root."""

    def tenfold(a: Attestation) -> Attestation:
        return dataclasses.replace(
            a,
            uptime_bps=a.uptime_bps // 10,
            load_bps=a.load_bps // 10,
            gpu_seconds=min(10 * a.gpu_seconds, UINT32_MAX),
            mflops_per_joule=min(10 * max(a.mflops_per_joule, 1), UINT32_MAX),
            gflops=min(10 * max(a.gflops, 1), UINT32_MAX),
            samples_root=bytes(31) + b"\x01",
        )

    return dataclasses.replace(report, attestations=tuple(tenfold(a) for a in report.attestations))


class LyingViews(EpochViews):
    def get(self, epoch: int) -> tuple[Report, list[EpochResult]]:
        report, results = super().get(epoch)
        return lie(report), results


@dataclass(frozen=True)
class Network:
    epoch: int
    nodes: dict[str, str]  # a, b, c honest; liar signs with c's key; late started mid-epoch
    signers: dict[str, str]
    servers: dict[str, ExitStack]  # closing one stops that node's server


@pytest.fixture(scope="module")
def network(session_market: Market) -> Iterator[Network]:
    epoch = now(session_market) // EPOCH_SECONDS + 1
    start, end = epoch_bounds(epoch)
    clock = FastClock(start - 60)  # the agent is up a test-clock minute before the epoch begins
    domain = Domain(session_market.chain_id, session_market.oracle.address)
    accounts = {
        name: dev_account(i, session_market.chain_id)
        for name, i in zip("abc", DEV_ORACLE_ACCOUNTS, strict=True)
    }
    settings = NodeSettings(
        challenge_n=512,  # large enough that the product, not the round trip, sets the GFLOP/s
        challenge_rows=8,
        freivalds_rounds=4,
        challenge_seconds=0,
        challenges_per_epoch=12,
        poll_interval=0.05,
        http_timeout=5,
        peers=[a.address for a in accounts.values()],
        quorum=2,
    )
    source = SimulatedSource(21, gpus=GPUS, clock=clock)
    agent_app = create_agent_app(
        source, Prover(NumpyBackend(), source, max_n=512), interval=1 / SPEED, clock=clock
    )
    with ExitStack() as stack:
        agent_url = stack.enter_context(serve(agent_app))
        nodes: dict[str, str] = {}
        servers: dict[str, ExitStack] = {}
        for name in ("a", "b", "c", "liar"):
            node = OracleNode(settings, [AgentTarget(NODE_ID, agent_url)], clock=clock)
            views_class = LyingViews if name == "liar" else EpochViews
            views = views_class(node, clock=clock, grace=30.0)
            account = accounts["c" if name == "liar" else name]
            servers[name] = stack.enter_context(ExitStack())
            nodes[name] = servers[name].enter_context(serve(create_node_app(views, account, domain)))
        clock.wait_until(start + 600.0)  # ten minutes into the epoch, one more oracle starts watching
        late = OracleNode(settings, [AgentTarget(NODE_ID, agent_url)], clock=clock)
        views = EpochViews(late, clock=clock, grace=30.0)
        nodes["late"] = stack.enter_context(serve(create_node_app(views, accounts["a"], domain)))
        clock.wait_until(end + 45.0)  # the epoch watched whole, and the nodes' 30 s of grace
        yield Network(epoch, nodes, {n: a.address for n, a in accounts.items()}, servers)


def land(market: Market, network: Network, names: str | list[str]):
    warp_to(market, epoch_bounds(network.epoch)[1] + 60)
    aggregator = make_aggregator(market, [network.nodes[n] for n in names])
    return aggregator.run(network.epoch)


def observation(network: Network, name: str) -> Attestation:
    body = httpx.get(f"{network.nodes[name]}/observations/{network.epoch}", timeout=30).json()
    return Report.from_json(body["report"]).attestations[0]


def test_honest_oracles_measure_differently_and_the_report_lands_3_of_3(market, network):
    """Every oracle signs: a report derived from the three signed observations, whatever GFLOP/s
    each one measured itself."""
    aggregator = make_aggregator(market, [network.nodes[n] for n in "abc"])
    observations = [observation(network, n) for n in "abc"]
    assert len({o.samples_root for o in observations}) == 1  # the same samples, one root
    assert all(o.uptime_bps > 5_000 and o.gflops > 0 for o in observations), observations
    warp_to(market, epoch_bounds(network.epoch)[1] + 60)
    gathered, skipped = aggregator.gather(network.epoch, 1)
    assert not skipped and len(gathered) == 3
    proposal = make_proposal([o.signed for o in gathered], signer_set=1, quorum=2)
    signers = [RemoteSigner(aggregator.nodes[i], o.signer) for i, o in enumerate(gathered)]
    signed = collect_signatures(proposal, signers, 3, aggregator.domain)
    assert set(signed.signers) == set(network.signers.values()) and not signed.refusals
    receipt = aggregator.submitter.submit(signed.report, signed.signatures)
    assert receipt["status"] == 1
    attested, uptime, *_ = record(market, NODE_ID, network.epoch)
    assert attested and uptime == signed.report.attestations[0].uptime_bps
    assert signed.report.attestations[0].gflops == sorted(o.gflops for o in observations)[1]


def test_a_lying_oracle_cannot_move_the_median(market, network):
    honest = [observation(network, n) for n in "ab"]
    liar = observation(network, "liar")
    outcome = land(market, network, ["liar", "a", "b"])
    assert outcome.landed, outcome.summary
    report = outcome.signed.report.attestations[0]
    for field in ("uptime_bps", "load_bps", "gpu_seconds", "mflops_per_joule", "gflops"):
        values = [getattr(o, field) for o in honest]
        assert min(values) <= getattr(report, field) <= max(values), field
        if min(values) > 0:
            assert getattr(report, field) != getattr(liar, field), field
    assert report.samples_root == honest[0].samples_root != liar.samples_root
    assert record(market, NODE_ID, network.epoch)[1] == report.uptime_bps


def test_with_one_oracle_stopped_the_report_lands_2_of_3(market, network):
    network.servers["c"].close()
    outcome = land(market, network, "abc")
    assert outcome.landed, outcome.summary
    assert set(outcome.signed.signers) == {network.signers["a"], network.signers["b"]}
    assert record(market, NODE_ID, network.epoch)[0]


def test_an_oracle_started_late_contributes_no_uptime_for_the_hour_it_did_not_watch(network):
    """Its own polls began ten minutes in: no uptime from it, while the sealed samples give it the
    same root, load and GPU-seconds as an oracle that watched the whole hour."""
    late, whole = observation(network, "late"), observation(network, "a")
    assert late.uptime_bps == UNWATCHED_UPTIME and whole.uptime_bps <= 10_000
    assert (late.samples_root, late.load_bps) == (whole.samples_root, whole.load_bps)
