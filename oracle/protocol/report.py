"""The signed report: EIP-712 attestations and mark prices that AttestationOracle verifies.

Domain {name: "gpuhours AttestationOracle", version: "1", chainId, verifyingContract}. The types
below are the contract's, character for character; `REPORT_TYPE` etc. are the strings whose keccak
the contract hard-codes as its type hashes. Signing uses eth-account with a key that only ever
lives in memory, decrypted from a keystore (oracle/node/keystore.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from backend.chain import eip712
from backend.chain.client import to_bytes32

DOMAIN_NAME = "gpuhours AttestationOracle"
DOMAIN_VERSION = "1"

ATTESTATION_FIELDS = [
    {"name": "nodeId", "type": "uint64"},
    {"name": "epoch", "type": "uint64"},
    {"name": "uptimeBps", "type": "uint16"},
    {"name": "loadBps", "type": "uint16"},
    {"name": "gpuSeconds", "type": "uint32"},
    {"name": "mflopsPerJoule", "type": "uint32"},
    {"name": "gflops", "type": "uint32"},
    {"name": "samplesRoot", "type": "bytes32"},
]
MARK_PRICE_FIELDS = [
    {"name": "gpuClass", "type": "bytes32"},
    {"name": "epoch", "type": "uint64"},
    {"name": "price", "type": "uint128"},
]
REPORT_FIELDS = [
    {"name": "signerSet", "type": "uint32"},
    {"name": "attestations", "type": "Attestation[]"},
    {"name": "marks", "type": "MarkPrice[]"},
]


ATTESTATION_TYPE = eip712.type_string("Attestation", ATTESTATION_FIELDS)
MARK_PRICE_TYPE = eip712.type_string("MarkPrice", MARK_PRICE_FIELDS)
# EIP-712: referenced struct types follow the primary type, sorted by name.
REPORT_TYPE = eip712.type_string("Report", REPORT_FIELDS) + ATTESTATION_TYPE + MARK_PRICE_TYPE
ATTESTATION_TYPEHASH = keccak(text=ATTESTATION_TYPE)
MARK_PRICE_TYPEHASH = keccak(text=MARK_PRICE_TYPE)
REPORT_TYPEHASH = keccak(text=REPORT_TYPE)

UINT16_MAX, UINT32_MAX, UINT64_MAX, UINT128_MAX = 2**16 - 1, 2**32 - 1, 2**64 - 1, 2**128 - 1

# An oracle's observation of an hour its own polls did not cover (oracle/node/epoch_attestation.py)
# carries this for uptime: unmeasured, not 0. It is no uptime a report can land (the contract takes
# at most 10,000 bps), and consensus leaves it out of the median (oracle/protocol/consensus.py).
UNWATCHED_UPTIME = UINT16_MAX


class ReportError(ValueError):
    """A report that cannot be signed as it stands: a value out of its type's range."""


def _check(name: str, value: int, top: int) -> None:
    if not isinstance(value, int) or not 0 <= value <= top:
        raise ReportError(f"{name} must be an integer in 0..{top}, got {value!r}")


@dataclass(frozen=True)
class Attestation:
    """What one node delivered in one epoch (a unix hour)."""

    node_id: int
    epoch: int
    uptime_bps: int
    load_bps: int
    gpu_seconds: int
    mflops_per_joule: int
    gflops: int
    samples_root: bytes

    def __post_init__(self) -> None:
        _check("nodeId", self.node_id, UINT64_MAX)
        _check("epoch", self.epoch, UINT64_MAX)
        if self.uptime_bps != UNWATCHED_UPTIME:
            _check("uptimeBps", self.uptime_bps, 10_000)
        _check("loadBps", self.load_bps, 10_000)
        _check("gpuSeconds", self.gpu_seconds, UINT32_MAX)
        _check("mflopsPerJoule", self.mflops_per_joule, UINT32_MAX)
        _check("gflops", self.gflops, UINT32_MAX)
        if not isinstance(self.samples_root, bytes) or len(self.samples_root) != 32:
            raise ReportError("samplesRoot must be 32 bytes")

    @property
    def key(self) -> tuple[int, int]:
        return self.node_id, self.epoch

    def message(self) -> dict[str, Any]:
        return {
            "nodeId": self.node_id,
            "epoch": self.epoch,
            "uptimeBps": self.uptime_bps,
            "loadBps": self.load_bps,
            "gpuSeconds": self.gpu_seconds,
            "mflopsPerJoule": self.mflops_per_joule,
            "gflops": self.gflops,
            "samplesRoot": self.samples_root,
        }

    def as_tuple(self) -> tuple:
        """The contract's `Attestation` struct argument."""
        return tuple(self.message().values())


@dataclass(frozen=True)
class MarkPrice:
    """A GPU class's mark price for an epoch, in the stablecoin's base units per GPU-hour."""

    gpu_class: bytes
    epoch: int
    price: int

    def __post_init__(self) -> None:
        if not isinstance(self.gpu_class, bytes) or len(self.gpu_class) != 32:
            raise ReportError("gpuClass must be 32 bytes")
        _check("epoch", self.epoch, UINT64_MAX)
        _check("price", self.price, UINT128_MAX)

    @property
    def key(self) -> tuple[bytes, int]:
        return self.gpu_class, self.epoch

    def message(self) -> dict[str, Any]:
        return {"gpuClass": self.gpu_class, "epoch": self.epoch, "price": self.price}

    def as_tuple(self) -> tuple:
        return tuple(self.message().values())


def gpu_class_id(name: str) -> bytes:
    """A GPU class as the contracts key it: the ASCII name packed into bytes32, exactly as GpuHours
    stores a node's GPU model, so a node's mark price is `markPrice(node.gpuModel)`."""
    return to_bytes32(name)


@dataclass(frozen=True)
class Report:
    signer_set: int
    attestations: tuple[Attestation, ...] = ()
    marks: tuple[MarkPrice, ...] = ()

    def __post_init__(self) -> None:
        _check("signerSet", self.signer_set, UINT32_MAX)

    def message(self) -> dict[str, Any]:
        return {
            "signerSet": self.signer_set,
            "attestations": [a.message() for a in self.attestations],
            "marks": [m.message() for m in self.marks],
        }

    def as_tuple(self) -> tuple:
        """The contract's `Report` struct argument."""
        return (
            self.signer_set,
            [a.as_tuple() for a in self.attestations],
            [m.as_tuple() for m in self.marks],
        )

    def to_json(self) -> dict[str, Any]:
        def hexed(d: dict[str, Any]) -> dict[str, Any]:
            return {k: "0x" + v.hex() if isinstance(v, bytes) else v for k, v in d.items()}

        return {
            "signerSet": self.signer_set,
            "attestations": [hexed(a.message()) for a in self.attestations],
            "marks": [hexed(m.message()) | {"price": str(m.price)} for m in self.marks],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Report:
        def raw(v: str) -> bytes:
            return bytes.fromhex(v.removeprefix("0x"))

        try:
            return cls(
                int(data["signerSet"]),
                tuple(
                    Attestation(
                        int(a["nodeId"]),
                        int(a["epoch"]),
                        int(a["uptimeBps"]),
                        int(a["loadBps"]),
                        int(a["gpuSeconds"]),
                        int(a["mflopsPerJoule"]),
                        int(a["gflops"]),
                        raw(a["samplesRoot"]),
                    )
                    for a in data["attestations"]
                ),
                tuple(MarkPrice(raw(m["gpuClass"]), int(m["epoch"]), int(m["price"])) for m in data["marks"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ReportError(f"not a report: {exc}") from None


@dataclass(frozen=True)
class Domain:
    chain_id: int
    verifying_contract: str

    def as_dict(self) -> dict[str, Any]:
        return eip712.domain(DOMAIN_NAME, DOMAIN_VERSION, self.chain_id, self.verifying_contract)


def typed_data(report: Report, domain: Domain) -> dict[str, Any]:
    return eip712.typed_data(
        domain.as_dict(),
        "Report",
        {"Report": REPORT_FIELDS, "Attestation": ATTESTATION_FIELDS, "MarkPrice": MARK_PRICE_FIELDS},
        report.message(),
    )


def report_digest(report: Report, domain: Domain) -> bytes:
    """The EIP-712 digest the oracle signers sign and the contract recovers them from."""
    return eip712.digest(typed_data(report, domain))


def sign_report(report: Report, account: LocalAccount, domain: Domain) -> bytes:
    """65-byte signature (r ‖ s ‖ v) over the report's digest."""
    return eip712.sign(typed_data(report, domain), account)


def recover_signer(report: Report, signature: bytes, domain: Domain) -> str:
    """The address that made `signature` over this report (checksummed)."""
    return eip712.recover(typed_data(report, domain), signature)


@dataclass(frozen=True)
class SignedReport:
    """A report with signatures sorted by signer, strictly ascending, as the contract requires."""

    report: Report
    digest: bytes
    signers: tuple[str, ...]
    signatures: tuple[bytes, ...]
    refusals: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "report": self.report.to_json(),
            "digest": "0x" + self.digest.hex(),
            "signers": list(self.signers),
            "signatures": ["0x" + s.hex() for s in self.signatures],
            "refusals": dict(self.refusals),
        }


__all__ = [
    "ATTESTATION_TYPE",
    "ATTESTATION_TYPEHASH",
    "MARK_PRICE_TYPE",
    "MARK_PRICE_TYPEHASH",
    "REPORT_TYPE",
    "REPORT_TYPEHASH",
    "Attestation",
    "Domain",
    "MarkPrice",
    "Report",
    "ReportError",
    "SignedReport",
    "gpu_class_id",
    "recover_signer",
    "report_digest",
    "sign_report",
    "typed_data",
]
