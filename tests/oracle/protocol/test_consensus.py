"""Consensus: median proposals from signed observations, derivation-checked signing, threshold and
signer order; the fault rule as a property against f faulty observations of any value."""

from __future__ import annotations

import dataclasses

import pytest
from eth_account import Account
from eth_utils import keccak
from hypothesis import given, settings
from hypothesis import strategies as st

from oracle.protocol.consensus import (
    MEASURED_FIELDS,
    MEDIAN_FIELDS,
    ConsensusError,
    Proposal,
    ReportSigner,
    ThresholdNotMet,
    collect_signatures,
    make_proposal,
    median_attestation,
    propose,
)
from oracle.protocol.observation import SignedObservation
from oracle.protocol.report import (
    UINT32_MAX,
    UNWATCHED_UPTIME,
    Attestation,
    Domain,
    MarkPrice,
    Report,
    gpu_class_id,
    recover_signer,
    report_digest,
)

DOMAIN = Domain(31337, "0x5FbDB2315678afecb367f032d93F642f64180aa3")
ROOT = keccak(b"samples")
H100 = gpu_class_id("H100")
ORACLES = [Account.from_key(keccak(text=f"oracle {i}")) for i in range(4)]
PEERS = [o.address for o in ORACLES]


def att(uptime=9_900, load=7_000, gpu_seconds=28_000, eff=70_000, gflops=50_000, root=ROOT, node=1, epoch=10):
    return Attestation(node, epoch, uptime, load, gpu_seconds, eff, gflops, root)


def observed(views, marks=None, oracles=ORACLES):
    marks = marks or [() for _ in views]
    return [
        SignedObservation.sign(Report(1, tuple(v), tuple(m)), o, DOMAIN)
        for o, v, m in zip(oracles, views, marks, strict=False)
    ]


def signer(index=0, quorum=2, peers=PEERS):
    return ReportSigner(ORACLES[index], DOMAIN, peers, quorum=quorum, signer_set=1)


def test_median_is_fieldwise_and_root_is_the_majority():
    obs = [
        att(uptime=9_900, gflops=50_000),
        att(uptime=9_950, gflops=49_000),
        att(uptime=0, gflops=10**9, root=keccak(b"lie")),
    ]
    m = median_attestation(obs)
    assert (m.uptime_bps, m.gflops, m.samples_root) == (9_900, 50_000, ROOT)
    with pytest.raises(ConsensusError):
        median_attestation([att(node=1), att(node=2)])


def test_an_oracle_without_a_measurement_is_absent_from_its_median_not_a_zero():
    """Honest oracles measure different GFLOP/s from their own random challenges; one whose schedule
    gave it no challenge in the hour reports 0, and that 0 is left out of the median."""
    obs = [att(gflops=3_900, eff=0), att(gflops=43_000, eff=70_000), att(gflops=0, eff=0)]
    m = median_attestation(obs, quorum=2)
    assert m.gflops == 3_900  # the low median of the two that measured, not of (0, 3 900, 43 000)
    assert m.mflops_per_joule == 0  # measured by one oracle, fewer than the quorum: unmeasured
    assert m.uptime_bps == 9_900  # measured by all three


def test_honest_oracles_with_different_measurements_all_sign_the_median():
    """The issue's finding 1: GFLOP/s of 3.9 to 43 across three honest oracles in one hour."""
    views = [[att(uptime=9_900, gflops=3_900)], [att(uptime=9_920, gflops=43_000)], [att(gflops=0)]]
    marks = [
        [MarkPrice(H100, 10, 2_100_000)],
        [MarkPrice(H100, 10, 2_110_000)],
        [MarkPrice(H100, 10, 2_090_000)],
    ]
    proposal = make_proposal(observed(views, marks), signer_set=1, quorum=2)
    report = proposal.report
    assert (report.attestations[0].uptime_bps, report.attestations[0].gflops) == (9_900, 3_900)
    assert report.marks[0].price == 2_100_000
    for i in range(3):
        assert signer(i).review(proposal) is None
    signed = collect_signatures(proposal, [signer(i) for i in range(3)], threshold=3, domain=DOMAIN)
    as_ints = [int(a, 16) for a in signed.signers]
    assert as_ints == sorted(as_ints) and len(set(as_ints)) == 3
    assert signed.digest == report_digest(report, DOMAIN)
    for address, signature in zip(signed.signers, signed.signatures, strict=True):
        assert recover_signer(report, signature, DOMAIN) == address


def with_report(proposal: Proposal, **fields) -> Proposal:
    a = dataclasses.replace(proposal.report.attestations[0], **fields)
    return Proposal(dataclasses.replace(proposal.report, attestations=(a,)), proposal.observations)


def test_refuses_a_report_not_derived_from_the_observations():
    proposal = make_proposal(observed([[att(uptime=9_900)], [att(uptime=9_800)]]), signer_set=1, quorum=2)
    reviewer = signer(2)
    assert reviewer.review(proposal) is None
    assert "uptimeBps 9900 is not the median 9800" in reviewer.sign(with_report(proposal, uptime_bps=9_900))
    assert "samplesRoot" in reviewer.sign(with_report(proposal, samples_root=keccak(b"other")))
    assert "not observed by a quorum" in reviewer.sign(with_report(proposal, node_id=9))
    moved = Proposal(dataclasses.replace(proposal.report, signer_set=2), proposal.observations)
    assert "signer set 2" in reviewer.sign(moved)


def test_refuses_observations_that_are_forged_repeated_foreign_or_too_few():
    views = [[att(uptime=9_900)], [att(uptime=9_800)]]
    honest = observed(views)
    reviewer = signer(2)
    stranger = observed(views, oracles=[Account.create(), ORACLES[1]])
    assert "not one of my 4 peers" in reviewer.sign(make_proposal(stranger, signer_set=1, quorum=2))
    twice = [honest[0], honest[0]]
    assert "two observations by" in reviewer.sign(make_proposal(twice, signer_set=1, quorum=2))
    # Oracle 1's signature on a different observation than the one shown as its own.
    forged = [honest[0], dataclasses.replace(honest[1], observation=Report(1, (att(uptime=1),)))]
    assert "is not signed by it" in reviewer.sign(make_proposal(forged, signer_set=1, quorum=2))
    one = make_proposal(honest[:1], signer_set=1, quorum=1)
    assert "1 signed observations shown, 2 needed" in reviewer.sign(one)


def test_an_observation_signature_is_not_a_report_signature():
    """An aggregator holding observations must not be able to pass them off as signatures of a report."""
    obs = observed([[att()]])[0]
    assert recover_signer(obs.observation, obs.signature, DOMAIN) != obs.signer
    assert obs.recovers(DOMAIN) and not obs.recovers(Domain(1, DOMAIN.verifying_contract))


def test_threshold_not_met_names_every_refusal():
    proposal = make_proposal(observed([[att()], [att()]]), signer_set=1, quorum=2)
    strict = [signer(i, quorum=3) for i in range(3)]
    with pytest.raises(ThresholdNotMet) as info:
        collect_signatures(proposal, strict, threshold=2, domain=DOMAIN)
    assert info.value.got == 0 and len(info.value.refusals) == 3


def test_a_signer_listed_twice_signs_once():
    proposal = make_proposal(observed([[att()], [att()]]), signer_set=1, quorum=2)
    with pytest.raises(ThresholdNotMet):
        collect_signatures(proposal, [signer(0), signer(0)], threshold=2, domain=DOMAIN)


def test_keys_below_quorum_are_left_out():
    report = propose(
        [Report(1, (att(node=1), att(node=2))), Report(1, (att(node=1),))], signer_set=1, quorum=2
    )
    assert [a.node_id for a in report.attestations] == [1]
    with pytest.raises(ConsensusError):
        propose([Report(1, (att(node=3),))], signer_set=1, quorum=2)


def test_a_proposal_survives_its_json():
    proposal = make_proposal(
        observed([[att()], [att()]], [[MarkPrice(H100, 10, 5)], []]), signer_set=1, quorum=2
    )
    assert Proposal.from_json(proposal.to_json()) == proposal


FIELDS = MEDIAN_FIELDS + MEASURED_FIELDS
TOPS = {"uptime_bps": 10_000, "load_bps": 10_000, "gpu_seconds": UINT32_MAX}


def top(name: str) -> int:
    return TOPS.get(name, UINT32_MAX)


@st.composite
def honest_and_faulty(draw):
    """k observations of which f ≤ (k−1)/2 are faulty with arbitrary values in range or absent;
    honest ones measured everything (a measured field > 0) and watched the hour."""
    k = draw(st.integers(1, 9))
    f = draw(st.integers(0, (k - 1) // 2))

    def observation(lo: int):
        values = {name: draw(st.integers(lo if name in MEASURED_FIELDS else 0, top(name))) for name in FIELDS}
        if not lo and draw(st.booleans()):
            values["uptime_bps"] = UNWATCHED_UPTIME  # a faulty oracle may say it did not watch
        return att(
            values["uptime_bps"],
            values["load_bps"],
            values["gpu_seconds"],
            values["mflops_per_joule"],
            values["gflops"],
        )

    honest = [observation(1) for _ in range(k - f)]
    faulty = [observation(0) for _ in range(f)]
    order = draw(st.permutations(honest + faulty))
    return honest, list(order), k - f


@settings(max_examples=300, deadline=None)
@given(honest_and_faulty())
def test_f_faulty_observations_cannot_move_any_field_outside_the_honest_range(case):
    """k ≥ 2f + 1 observations, f of them faulty with any values (absent measurements included):
    every field of the median lies between the lowest and highest honest value."""
    honest, observations, quorum = case
    m = median_attestation(observations, quorum=quorum)
    for name in FIELDS:
        values = [getattr(o, name) for o in honest]
        assert min(values) <= getattr(m, name) <= max(values), name


def test_the_bound_is_tight():
    """Two liars of three (f + 1 of 2f + 1) set the median; one of three cannot."""
    assert median_attestation([att(uptime=9_000), att(uptime=100), att(uptime=100)]).uptime_bps == 100
    assert median_attestation([att(uptime=9_000), att(uptime=9_100), att(uptime=100)]).uptime_bps == 9_000
