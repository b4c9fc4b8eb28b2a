"""Consensus as in Chainlink OCR's report protocol: each oracle signs its own observation, every signer
checks that the report is derived correctly from the signed observations it is shown.

1. **Observe.** Each oracle node observes every (node, epoch) on its own and signs that observation
   (oracle/protocol/observation.py); the aggregator gathers the signed observations.
2. **Propose.** The report carries, per (node, epoch) and per field, the low median of the observations
   of at least `quorum` oracles (`propose`). GFLOP/s and MFLOP/J are measurements an oracle may not
   have made (no challenge of its own passed in the hour: it reports 0): such an observation is
   absent from that field's median, not a 0 in it, and a field measured by fewer than `quorum`
   oracles is reported as 0, unmeasured. Uptime is only measured by an oracle that watched the whole
   hour itself (`UNWATCHED_UPTIME` otherwise): it is the median over the oracles that did, and a
   (node, epoch) fewer than `quorum` oracles watched is left out of the report, unattested rather
   than attested down. The samples root is the one most observations carry.
3. **Sign.** An oracle signs the report only if it is shown at least `quorum` observations, each
   signed by a distinct member of its peer set, and recomputing the report from them gives exactly
   the report (`ReportSigner.review`). It does not compare the report with its own observation:
   honest oracles measure different GFLOP/s from different random challenges, and a median is what
   makes their views one. The aggregator collects signatures until the contract's threshold is met
   and returns them sorted by signer address, strictly ascending, the order AttestationOracle checks.

**The fault rule.** A low median over k observations lies within the range of the honest ones while
at most f of the k are faulty, for any k ≥ 2f + 1: the value at index ⌊(k−1)/2⌋ has at least
⌊(k−1)/2⌋ + 1 ≥ f + 1 observations at or below it and k − ⌊(k−1)/2⌋ ≥ f + 1 at or above it, so an
honest one on each side. With N oracles, threshold M and every oracle answering, a report tolerates
f = ⌊(N−1)/2⌋ liars (one of three); with only M answering it tolerates ⌊(M−1)/2⌋ (none for M = 2 of
3): a stopped oracle and a lying one at once need N ≥ 3f + 1 = 4 oracles and M = 2f + 1 = 3.
"""

from __future__ import annotations

import logging
import statistics
from collections import Counter, defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from eth_account.signers.local import LocalAccount
from eth_keys.exceptions import BadSignature
from eth_utils import ValidationError, to_checksum_address

from oracle.protocol.observation import SignedObservation
from oracle.protocol.report import (
    UNWATCHED_UPTIME,
    Attestation,
    Domain,
    MarkPrice,
    Report,
    ReportError,
    SignedReport,
    recover_signer,
    report_digest,
    sign_report,
)

log = logging.getLogger(__name__)

# Fields an oracle measures only when one of its own challenges passed; 0 means it did not.
MEASURED_FIELDS = ("mflops_per_joule", "gflops")
MEDIAN_FIELDS = ("uptime_bps", "load_bps", "gpu_seconds")


class ConsensusError(Exception):
    """No report can be agreed on."""


class ThresholdNotMet(ConsensusError):
    def __init__(self, got: int, threshold: int, refusals: dict[str, str]) -> None:
        detail = "; ".join(f"{who}: {why}" for who, why in refusals.items()) or "no signers"
        super().__init__(f"{got} of {threshold} signatures ({detail})")
        self.got, self.threshold, self.refusals = got, threshold, refusals


def median_attestation(observations: Sequence[Attestation], quorum: int = 1) -> Attestation:
    """Field-wise low median (a value some oracle actually saw); a measured field over the oracles
    that measured it, 0 when fewer than `quorum` did; uptime over the oracles that watched the hour,
    `UNWATCHED_UPTIME` when fewer than `quorum` did; the most common samples root."""
    if not observations:
        raise ConsensusError("no observations to take a median of")
    keys = {o.key for o in observations}
    if len(keys) != 1:
        raise ConsensusError(f"observations of different (node, epoch): {sorted(keys)}")
    watched = [o.uptime_bps for o in observations if o.uptime_bps != UNWATCHED_UPTIME]
    enough = len(watched) >= max(1, quorum)
    fields = {"uptime_bps": statistics.median_low(watched) if enough else UNWATCHED_UPTIME}
    for name in MEDIAN_FIELDS[1:]:  # load and GPU-seconds: from the sealed samples, every oracle's
        fields[name] = statistics.median_low([getattr(o, name) for o in observations])
    for name in MEASURED_FIELDS:
        measured = [getattr(o, name) for o in observations if getattr(o, name) > 0]
        fields[name] = statistics.median_low(measured) if len(measured) >= quorum else 0
    roots = Counter(o.samples_root for o in observations)
    top = max(roots.values())
    root = min(r for r, c in roots.items() if c == top)
    node_id, epoch = observations[0].key
    return Attestation(node_id, epoch, samples_root=root, **fields)


def propose(observations: Sequence[Report], *, signer_set: int, quorum: int) -> Report:
    """The median report over what at least `quorum` oracles observed; lesser keys are left out."""
    by_key: dict[tuple[int, int], list[Attestation]] = defaultdict(list)
    marks_by_key: dict[tuple[bytes, int], list[MarkPrice]] = defaultdict(list)
    for observation in observations:
        for a in observation.attestations:
            by_key[a.key].append(a)
        for m in observation.marks:
            marks_by_key[m.key].append(m)
    medians = [median_attestation(v, quorum) for k, v in sorted(by_key.items()) if len(v) >= quorum]
    attestations = tuple(a for a in medians if a.uptime_bps != UNWATCHED_UPTIME)
    for a in medians:
        if a.uptime_bps == UNWATCHED_UPTIME:
            log.warning("node %d epoch %d: fewer than %d oracles watched it; left out", *a.key, quorum)
    prices = tuple(
        MarkPrice(k[0], k[1], statistics.median_low([m.price for m in v]))
        for k, v in sorted(marks_by_key.items())
        if len(v) >= quorum
    )
    for key, v in sorted(by_key.items()):
        if len(v) < quorum:
            log.warning("node %d epoch %d: only %d of %d oracles observed it; left out", *key, len(v), quorum)
    if not attestations and not prices:
        raise ConsensusError(f"nothing was observed by {quorum} oracles")
    return Report(signer_set, attestations, prices)


@dataclass(frozen=True)
class Proposal:
    """A report and the signed observations it is derived from: what every signer is asked to check."""

    report: Report
    observations: tuple[SignedObservation, ...]

    def to_json(self) -> dict[str, Any]:
        return {"report": self.report.to_json(), "observations": [o.to_json() for o in self.observations]}

    @classmethod
    def from_json(cls, data: Any) -> Proposal:
        try:
            return cls(
                Report.from_json(data["report"]),
                tuple(SignedObservation.from_json(o) for o in data["observations"]),
            )
        except (KeyError, TypeError) as exc:
            raise ReportError(f"not a proposal: {exc}") from None


def make_proposal(observations: Sequence[SignedObservation], *, signer_set: int, quorum: int) -> Proposal:
    report = propose([o.observation for o in observations], signer_set=signer_set, quorum=quorum)
    return Proposal(report, tuple(observations))


class Signer(Protocol):
    """Anything that can vote on a proposal: a ReportSigner here, or an oracle node over HTTP."""

    @property
    def address(self) -> str: ...

    def sign(self, proposal: Proposal) -> bytes | str:
        """A signature over the proposal's report, or the reason for refusing to sign."""
        ...


class ReportSigner:
    """One oracle's vote: it signs a report derived correctly from its peers' signed observations."""

    def __init__(
        self,
        account: LocalAccount,
        domain: Domain,
        peers: Collection[str],
        *,
        quorum: int,
        signer_set: int,
    ) -> None:
        self.account = account
        self.address = to_checksum_address(account.address)
        self.domain = domain
        self.peers = frozenset(to_checksum_address(p) for p in peers)
        self.quorum = quorum
        self.signer_set = signer_set

    def review(self, proposal: Proposal) -> str | None:
        """None if the report is derived correctly from the observations shown, else the first objection."""
        report = proposal.report
        if report.signer_set != self.signer_set:
            return f"the report is for signer set {report.signer_set}, I sign for {self.signer_set}"
        seen: set[str] = set()
        for o in proposal.observations:
            if o.signer not in self.peers:
                return f"observation by {o.signer}, who is not one of my {len(self.peers)} peers"
            if o.signer in seen:
                return f"two observations by {o.signer}"
            seen.add(o.signer)
            if not o.recovers(self.domain):
                return f"the observation said to be {o.signer}'s is not signed by it"
        if len(seen) < self.quorum:
            return f"{len(seen)} signed observations shown, {self.quorum} needed"
        try:
            derived = propose(
                [o.observation for o in proposal.observations], signer_set=self.signer_set, quorum=self.quorum
            )
        except ConsensusError as exc:
            return f"no report derives from the observations: {exc}"
        if derived != report:
            return _difference(report, derived)
        return None

    def sign(self, proposal: Proposal) -> bytes | str:
        """A signature, or the reason this oracle refuses to sign."""
        reason = self.review(proposal)
        if reason:
            return reason
        return sign_report(proposal.report, self.account, self.domain)


def _difference(report: Report, derived: Report) -> str:
    """The first value in `report` that is not what the observations give."""
    ours = {a.key: a for a in derived.attestations}
    for a in report.attestations:
        expected = ours.get(a.key)
        if expected is None:
            return f"node {a.node_id} epoch {a.epoch} is not observed by a quorum"
        for name, value in a.message().items():
            if value != expected.message()[name]:
                return (
                    f"node {a.node_id} epoch {a.epoch}: {name} {_show(value)} is not the median "
                    f"{_show(expected.message()[name])} of the signed observations"
                )
    if len(report.attestations) != len(derived.attestations):
        return f"{len(report.attestations)} attestations, the observations give {len(derived.attestations)}"
    if report.marks != derived.marks:
        return "the mark prices are not the medians of the signed observations"
    return "the report is not the one the observations give"


def _show(value: object) -> str:
    return "0x" + value.hex() if isinstance(value, bytes) else str(value)


def collect_signatures(
    proposal: Proposal, signers: Sequence[Signer], threshold: int, domain: Domain
) -> SignedReport:
    """Ask signers in turn until `threshold` have signed; signatures come back sorted by signer."""
    report = proposal.report
    collected: dict[str, bytes] = {}
    refusals: dict[str, str] = {}
    for signer in signers:
        if len(collected) >= threshold:
            break
        if signer.address in collected:
            continue  # one signature per address, however often it is listed
        answer = signer.sign(proposal)
        if isinstance(answer, str):
            log.warning("oracle %s refused to sign: %s", signer.address, answer)
            refusals[signer.address] = answer
            continue
        try:
            recovered = recover_signer(report, answer, domain)
        except (BadSignature, ValidationError, ValueError):
            recovered = None
        if recovered != signer.address:
            log.warning("oracle %s sent a signature that does not recover to it", signer.address)
            refusals[signer.address] = "signature does not recover to its signer"
            continue
        collected[signer.address] = answer
    if len(collected) < threshold:
        raise ThresholdNotMet(len(collected), threshold, refusals)
    order = sorted(collected, key=lambda address: int(address, 16))
    return SignedReport(
        report, report_digest(report, domain), tuple(order), tuple(collected[a] for a in order), refusals
    )
