"""An in-process oracle round, for the embedded mode and the end-to-end tests.

Several oracle signers watch simulated agents, each aggregates the hour from the agent's samples
and its own challenges and signs that observation, the median report is proposed, signed by the
threshold and landed by a submitter: the same steps as `gpuhours oracle node` and `aggregate`,
without the network between.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from eth_account.signers.local import LocalAccount

from backend.chain.protocol import HOUR
from oracle.agent.telemetry.simulated import SimulatedSource
from oracle.node.epoch_attestation import EpochInput, aggregate_epoch, epoch_bounds
from oracle.node.verifier import ChallengeOutcome
from oracle.protocol.consensus import ReportSigner, collect_signatures, make_proposal
from oracle.protocol.observation import SignedObservation
from oracle.protocol.report import Domain, Report, SignedReport
from oracle.protocol.sample import SampleError, SourceUnavailable

CHALLENGES_PER_HOUR = 4


@dataclass
class WatchedNode:
    node_id: int
    gpus: int
    source: SimulatedSource
    gflops: float = 600_000.0


def _hour_of_samples(node: WatchedNode, epoch: int) -> list:
    start, end = epoch_bounds(epoch)
    samples = []
    for t in range(start, end):
        try:
            samples.extend(node.source.read_at(t + 0.25).samples)
        except (SourceUnavailable, SampleError):
            continue  # the agent had nothing for that second: it counts against uptime
    return samples


def _challenges(node: WatchedNode, epoch: int, oracle_index: int) -> list[ChallengeOutcome]:
    """This oracle's own challenges: passed while the agent answers, failed during an outage."""
    start, _ = epoch_bounds(epoch)
    outcomes = []
    for k in range(CHALLENGES_PER_HOUR):
        at = start + k * HOUR // CHALLENGES_PER_HOUR + 60 + oracle_index
        try:
            node.source.read_at(at)
        except SourceUnavailable:
            outcomes.append(ChallengeOutcome(at, 2048, False, "agent unreachable"))
            continue
        gflops = node.gflops * (1 + 0.002 * oracle_index)  # each oracle times its own challenge
        outcomes.append(
            ChallengeOutcome(
                at, 2048, True, "verified", flops_per_second=gflops * 1e9, flop_per_joule=gflops * 1e9 / 700
            )
        )
    return outcomes


def attest_epoch(
    nodes: Sequence[WatchedNode],
    epoch: int,
    oracles: Sequence[LocalAccount],
    threshold: int,
    domain: Domain,
    signer_set: int = 1,
) -> SignedReport:
    """Observe `epoch` from every oracle, propose the median report and collect the threshold."""
    samples = {n.node_id: _hour_of_samples(n, epoch) for n in nodes}
    views = [
        [
            aggregate_epoch(
                EpochInput(n.node_id, epoch, n.gpus, samples[n.node_id], challenges=_challenges(n, epoch, i))
            ).attestation
            for n in nodes
        ]
        for i in range(len(oracles))
    ]
    observations = [
        SignedObservation.sign(Report(signer_set, tuple(view)), oracle, domain)
        for oracle, view in zip(oracles, views, strict=True)
    ]
    proposal = make_proposal(observations, signer_set=signer_set, quorum=threshold)
    peers = [o.address for o in oracles]
    signers = [ReportSigner(o, domain, peers, quorum=threshold, signer_set=signer_set) for o in oracles]
    return collect_signatures(proposal, signers, threshold, domain)
