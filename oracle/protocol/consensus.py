"""OCR-lite: independent oracle nodes agree on one report before any of them signs it.

Each oracle node observes every (node, epoch) on its own. An aggregator proposes the field-wise
median of their observations (a minority of wrong or lying oracles cannot move a median past the
honest ones); each oracle then signs the proposal only if every value in it is within a tolerance of
its *own* observation, and refuses, with a reason, otherwise. The aggregator collects signatures
until the threshold is met and returns them sorted by signer address, strictly ascending, which is
the order AttestationOracle checks (it makes duplicate signers impossible to sneak in).

The samples root must match exactly: every oracle fetches the same raw samples from the agent, so
honest oracles compute the same root, and an agent that serves different samples to different
oracles is caught by the disagreement.
"""

from __future__ import annotations

import logging
import statistics
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from eth_account.signers.local import LocalAccount
from eth_keys.exceptions import BadSignature
from eth_utils import ValidationError, to_checksum_address

from oracle.protocol.report import (
    Attestation,
    Domain,
    MarkPrice,
    Report,
    SignedReport,
    recover_signer,
    report_digest,
    sign_report,
)
from oracle.settings import NodeSettings

log = logging.getLogger(__name__)


class ConsensusError(Exception):
    """No report can be agreed on."""


class ThresholdNotMet(ConsensusError):
    def __init__(self, got: int, threshold: int, refusals: dict[str, str]) -> None:
        detail = "; ".join(f"{who}: {why}" for who, why in refusals.items()) or "no signers"
        super().__init__(f"{got} of {threshold} signatures ({detail})")
        self.got, self.threshold, self.refusals = got, threshold, refusals


@dataclass(frozen=True)
class Tolerance:
    """How far a proposed value may be from a signer's own observation and still be signed."""

    uptime_bps: int = 100
    load_bps: int = 300
    relative_bps: int = 500  # for gpuSeconds, mflopsPerJoule, gflops and prices

    @classmethod
    def from_settings(cls, settings: NodeSettings) -> Tolerance:
        return cls(
            settings.tolerance_uptime_bps, settings.tolerance_load_bps, settings.tolerance_relative_bps
        )

    def _relative(self, name: str, proposed: int, own: int) -> str | None:
        allowed = max(own, proposed) * self.relative_bps // 10_000
        if abs(proposed - own) > allowed:
            return f"{name} {proposed} is off from my {own} by more than {self.relative_bps} bps"
        return None

    def attestation(self, proposed: Attestation, own: Attestation) -> str | None:
        """None when acceptable, else why not."""
        if proposed.key != own.key:
            return f"attestation for {proposed.key} compared with {own.key}"
        if abs(proposed.uptime_bps - own.uptime_bps) > self.uptime_bps:
            return (
                f"uptime {proposed.uptime_bps} bps is off from my {own.uptime_bps} "
                f"by more than {self.uptime_bps}"
            )
        if abs(proposed.load_bps - own.load_bps) > self.load_bps:
            return f"load {proposed.load_bps} bps is off from my {own.load_bps} by more than {self.load_bps}"
        for name in ("gpu_seconds", "mflops_per_joule", "gflops"):
            reason = self._relative(name, getattr(proposed, name), getattr(own, name))
            if reason:
                return reason
        if proposed.samples_root != own.samples_root:
            return "samples root differs from mine"
        return None

    def mark(self, proposed: MarkPrice, own: MarkPrice) -> str | None:
        return self._relative("price", proposed.price, own.price)


def median_attestation(observations: Sequence[Attestation]) -> Attestation:
    """Field-wise low median (a value some oracle actually saw); the most common samples root."""
    if not observations:
        raise ConsensusError("no observations to take a median of")
    keys = {o.key for o in observations}
    if len(keys) != 1:
        raise ConsensusError(f"observations of different (node, epoch): {sorted(keys)}")

    def med(name: str) -> int:
        return statistics.median_low([getattr(o, name) for o in observations])

    roots = Counter(o.samples_root for o in observations)
    top = max(roots.values())
    root = min(r for r, c in roots.items() if c == top)
    node_id, epoch = observations[0].key
    return Attestation(
        node_id,
        epoch,
        med("uptime_bps"),
        med("load_bps"),
        med("gpu_seconds"),
        med("mflops_per_joule"),
        med("gflops"),
        root,
    )


def propose(
    observations: Sequence[Sequence[Attestation]],
    marks: Sequence[Sequence[MarkPrice]] = (),
    *,
    signer_set: int,
    quorum: int,
) -> Report:
    """The median report over what at least `quorum` oracles observed; lesser keys are left out."""
    by_key: dict[tuple[int, int], list[Attestation]] = defaultdict(list)
    for oracle_view in observations:
        for a in oracle_view:
            by_key[a.key].append(a)
    marks_by_key: dict[tuple[bytes, int], list[MarkPrice]] = defaultdict(list)
    for oracle_marks in marks:
        for m in oracle_marks:
            marks_by_key[m.key].append(m)
    attestations = tuple(median_attestation(v) for k, v in sorted(by_key.items()) if len(v) >= quorum)
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


class Signer(Protocol):
    """Anything that can vote on a report: an OracleSigner here, or an oracle node over HTTP."""

    @property
    def address(self) -> str: ...

    def sign(self, report: Report) -> bytes | str:
        """A signature, or the reason for refusing to sign."""
        ...


class OracleSigner:
    """One oracle node's vote: its own observations, its key, and its tolerance."""

    def __init__(
        self,
        account: LocalAccount,
        attestations: Sequence[Attestation],
        marks: Sequence[MarkPrice],
        tolerance: Tolerance,
        domain: Domain,
    ) -> None:
        self.account = account
        self.address = to_checksum_address(account.address)
        self._own = {a.key: a for a in attestations}
        self._marks = {m.key: m for m in marks}
        self.tolerance = tolerance
        self.domain = domain

    def review(self, report: Report) -> str | None:
        """None if this oracle vouches for every value in the report, else the first objection."""
        for proposed in report.attestations:
            own = self._own.get(proposed.key)
            if own is None:
                return f"I did not observe node {proposed.node_id} in epoch {proposed.epoch}"
            reason = self.tolerance.attestation(proposed, own)
            if reason:
                return f"node {proposed.node_id} epoch {proposed.epoch}: {reason}"
        for mark in report.marks:
            own_mark = self._marks.get(mark.key)
            if own_mark is None:
                return f"I have no mark price for class 0x{mark.gpu_class.hex()[:8]}… in epoch {mark.epoch}"
            reason = self.tolerance.mark(mark, own_mark)
            if reason:
                return reason
        return None

    def sign(self, report: Report) -> bytes | str:
        """A signature, or the reason this oracle refuses to sign."""
        reason = self.review(report)
        if reason:
            return reason
        return sign_report(report, self.account, self.domain)


def collect_signatures(
    report: Report, signers: Sequence[Signer], threshold: int, domain: Domain
) -> SignedReport:
    """Ask signers in turn until `threshold` have signed; signatures come back sorted by signer."""
    collected: dict[str, bytes] = {}
    refusals: dict[str, str] = {}
    for signer in signers:
        if len(collected) >= threshold:
            break
        if signer.address in collected:
            continue  # one signature per address, however often it is listed
        answer = signer.sign(report)
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
