"""OCR-lite: median proposals, tolerance-checked signing, threshold and signer order."""

from __future__ import annotations

import pytest
from eth_account import Account
from eth_utils import keccak

from oracle.protocol.consensus import (
    ConsensusError,
    OracleSigner,
    ThresholdNotMet,
    Tolerance,
    collect_signatures,
    median_attestation,
    propose,
)
from oracle.protocol.report import Attestation, Domain, MarkPrice, gpu_class_id, recover_signer

DOMAIN = Domain(31337, "0x5FbDB2315678afecb367f032d93F642f64180aa3")
ROOT = keccak(b"samples")
H100 = gpu_class_id("H100")


def att(uptime=9_900, load=7_000, gpu_seconds=28_000, eff=70_000, gflops=50_000, root=ROOT, node=1, epoch=10):
    return Attestation(node, epoch, uptime, load, gpu_seconds, eff, gflops, root)


def signers(views, marks=None, tolerance=Tolerance()):
    marks = marks or [[] for _ in views]
    return [
        OracleSigner(Account.create(), v, m, tolerance, DOMAIN) for v, m in zip(views, marks, strict=True)
    ]


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


def test_three_oracles_threshold_two_signatures_sorted_ascending():
    views = [[att(uptime=9_900)], [att(uptime=9_920)], [att(uptime=9_880)]]
    mark_views = [
        [MarkPrice(H100, 10, 2_100_000)],
        [MarkPrice(H100, 10, 2_110_000)],
        [MarkPrice(H100, 10, 2_090_000)],
    ]
    report = propose(views, mark_views, signer_set=1, quorum=2)
    assert report.attestations[0].uptime_bps == 9_900 and report.marks[0].price == 2_100_000
    oracle_signers = signers(views, mark_views)
    signed = collect_signatures(report, oracle_signers, threshold=2, domain=DOMAIN)
    assert len(signed.signatures) == 2
    as_ints = [int(a, 16) for a in signed.signers]
    assert as_ints == sorted(as_ints) and len(set(as_ints)) == 2
    for address, signature in zip(signed.signers, signed.signatures, strict=True):
        assert recover_signer(report, signature, DOMAIN) == address


def test_refuses_a_report_off_by_more_than_the_tolerance():
    own = att(uptime=9_900, gflops=50_000)
    signer = signers([[own]])[0]
    assert signer.review(propose([[att(uptime=9_990)]], signer_set=1, quorum=1)) is None  # within 100 bps
    far = propose([[att(uptime=9_700)]], signer_set=1, quorum=1)
    assert "uptime" in signer.sign(far)
    fast = propose([[att(gflops=60_000)]], signer_set=1, quorum=1)  # 20 % above its own
    assert "gflops" in signer.sign(fast)
    other_root = propose([[att(root=keccak(b"other"))]], signer_set=1, quorum=1)
    assert "samples root" in signer.sign(other_root)
    unknown = propose([[att(node=9)]], signer_set=1, quorum=1)
    assert "did not observe" in signer.sign(unknown)


def test_refuses_a_mark_price_off_by_more_than_the_tolerance():
    signer = signers([[att()]], [[MarkPrice(H100, 10, 2_000_000)]])[0]
    ok = propose([[att()]], [[MarkPrice(H100, 10, 2_050_000)]], signer_set=1, quorum=1)
    assert signer.review(ok) is None
    bad = propose([[att()]], [[MarkPrice(H100, 10, 2_500_000)]], signer_set=1, quorum=1)
    assert "price" in signer.review(bad)


def test_threshold_not_met_names_every_refusal():
    views = [[att(uptime=9_900)], [att(uptime=5_000)], [att(uptime=5_100)]]
    report = propose([views[0]], signer_set=1, quorum=1)  # a proposal only the first agrees with
    with pytest.raises(ThresholdNotMet) as info:
        collect_signatures(report, signers(views), threshold=2, domain=DOMAIN)
    assert info.value.got == 1 and len(info.value.refusals) == 2


def test_a_signer_listed_twice_signs_once():
    signer = signers([[att()]])[0]
    report = propose([[att()]], signer_set=1, quorum=1)
    with pytest.raises(ThresholdNotMet):
        collect_signatures(report, [signer, signer], threshold=2, domain=DOMAIN)


def test_keys_below_quorum_are_left_out():
    views = [[att(node=1), att(node=2)], [att(node=1)]]
    report = propose(views, signer_set=1, quorum=2)
    assert [a.node_id for a in report.attestations] == [1]
    with pytest.raises(ConsensusError):
        propose([[att(node=3)]], signer_set=1, quorum=2)
