"""EIP-712 reports: the digest is what the contract will compute, and signatures recover."""

from __future__ import annotations

import pytest
from eth_abi import encode
from eth_account import Account
from eth_utils import keccak

from oracle.protocol.report import (
    ATTESTATION_TYPE,
    MARK_PRICE_TYPE,
    REPORT_TYPE,
    Attestation,
    Domain,
    MarkPrice,
    Report,
    ReportError,
    gpu_class_id,
    recover_signer,
    report_digest,
    sign_report,
)

DOMAIN = Domain(31337, "0x5FbDB2315678afecb367f032d93F642f64180aa3")


def sample_report() -> Report:
    return Report(
        3,
        (
            Attestation(1, 498_000, 9_990, 7_100, 28_700, 71_000, 51_000, keccak(b"root-1")),
            Attestation(2, 498_000, 4_000, 2_000, 11_000, 0, 0, b"\x00" * 32),
        ),
        (MarkPrice(gpu_class_id("H100-SXM-80GB"), 498_000, 2_100_000),),
    )


def test_type_strings_are_the_contracts():
    assert ATTESTATION_TYPE == (
        "Attestation(uint64 nodeId,uint64 epoch,uint16 uptimeBps,uint16 loadBps,"
        "uint32 gpuSeconds,uint32 mflopsPerJoule,uint32 gflops,bytes32 samplesRoot)"
    )
    assert MARK_PRICE_TYPE == "MarkPrice(bytes32 gpuClass,uint64 epoch,uint128 price)"
    assert REPORT_TYPE == (
        "Report(uint32 signerSet,Attestation[] attestations,MarkPrice[] marks)"
        + ATTESTATION_TYPE
        + MARK_PRICE_TYPE
    )


def test_digest_matches_eip712_by_hand():
    """Hash the struct the way Solidity will (keccak of encoded type hash and fields) and compare."""
    report = sample_report()

    def hash_attestation(a: Attestation) -> bytes:
        return keccak(
            encode(
                ["bytes32", "uint64", "uint64", "uint16", "uint16", "uint32", "uint32", "uint32", "bytes32"],
                [keccak(text=ATTESTATION_TYPE), *a.as_tuple()],
            )
        )

    def hash_mark(m: MarkPrice) -> bytes:
        return keccak(
            encode(["bytes32", "bytes32", "uint64", "uint128"], [keccak(text=MARK_PRICE_TYPE), *m.as_tuple()])
        )

    struct = keccak(
        encode(
            ["bytes32", "uint32", "bytes32", "bytes32"],
            [
                keccak(text=REPORT_TYPE),
                report.signer_set,
                keccak(b"".join(hash_attestation(a) for a in report.attestations)),
                keccak(b"".join(hash_mark(m) for m in report.marks)),
            ],
        )
    )
    domain_separator = keccak(
        encode(
            ["bytes32", "bytes32", "bytes32", "uint256", "address"],
            [
                keccak(
                    text="EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
                ),
                keccak(text="gpuhours AttestationOracle"),
                keccak(text="1"),
                DOMAIN.chain_id,
                DOMAIN.verifying_contract,
            ],
        )
    )
    assert report_digest(report, DOMAIN) == keccak(b"\x19\x01" + domain_separator + struct)


def test_sign_and_recover():
    account = Account.create()
    report = sample_report()
    signature = sign_report(report, account, DOMAIN)
    assert len(signature) == 65
    assert recover_signer(report, signature, DOMAIN) == account.address
    # the ecrecover the contract does, straight from the digest
    assert Account._recover_hash(report_digest(report, DOMAIN), signature=signature) == account.address


def test_domain_binds_chain_and_contract():
    account = Account.create()
    report = sample_report()
    signature = sign_report(report, account, DOMAIN)
    other_chain = Domain(1, DOMAIN.verifying_contract)
    other_contract = Domain(31337, "0x" + "11" * 20)
    assert recover_signer(report, signature, other_chain) != account.address
    assert recover_signer(report, signature, other_contract) != account.address
    assert report_digest(report, other_chain) != report_digest(report, DOMAIN)


def test_any_field_change_changes_the_digest():
    report = sample_report()
    a = report.attestations[0]
    changed = Report(
        report.signer_set,
        (
            Attestation(
                a.node_id,
                a.epoch,
                a.uptime_bps - 1,
                a.load_bps,
                a.gpu_seconds,
                a.mflops_per_joule,
                a.gflops,
                a.samples_root,
            ),
            report.attestations[1],
        ),
        report.marks,
    )
    assert report_digest(changed, DOMAIN) != report_digest(report, DOMAIN)


def test_empty_report_signs():
    account = Account.create()
    report = Report(1)
    assert recover_signer(report, sign_report(report, account, DOMAIN), DOMAIN) == account.address


def test_json_round_trip():
    report = sample_report()
    assert Report.from_json(report.to_json()) == report
    with pytest.raises(ReportError):
        Report.from_json({"signerSet": 1})


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"uptime_bps": 10_001}, "uptimeBps"),
        ({"load_bps": -1}, "loadBps"),
        ({"gpu_seconds": 2**32}, "gpuSeconds"),
        ({"samples_root": b"\x00"}, "samplesRoot"),
    ],
)
def test_out_of_range_values_are_refused(kwargs, field):
    values = {
        "node_id": 1,
        "epoch": 1,
        "uptime_bps": 1,
        "load_bps": 1,
        "gpu_seconds": 1,
        "mflops_per_joule": 1,
        "gflops": 1,
        "samples_root": b"\x00" * 32,
    } | kwargs
    with pytest.raises(ReportError, match=field):
        Attestation(**values)
    with pytest.raises(ReportError, match="price"):
        MarkPrice(b"\x00" * 32, 1, 2**128)
