"""An oracle's own observation of an epoch, signed so that every other oracle can check where it came from.

An observation has the shape of a report (oracle/protocol/report.py) but is signed under its own
EIP-712 domain name, "gpuhours oracle observation": its digest is never a report digest, so an
observation signature can never be counted by AttestationOracle as a signature over a report.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_keys.exceptions import BadSignature
from eth_utils import ValidationError, is_address, to_checksum_address

from backend.chain import eip712
from oracle.protocol.report import (
    ATTESTATION_FIELDS,
    DOMAIN_VERSION,
    MARK_PRICE_FIELDS,
    REPORT_FIELDS,
    Domain,
    Report,
    ReportError,
)

OBSERVATION_DOMAIN_NAME = "gpuhours oracle observation"


def observation_typed_data(observation: Report, domain: Domain) -> dict[str, Any]:
    return eip712.typed_data(
        eip712.domain(OBSERVATION_DOMAIN_NAME, DOMAIN_VERSION, domain.chain_id, domain.verifying_contract),
        "Report",
        {"Report": REPORT_FIELDS, "Attestation": ATTESTATION_FIELDS, "MarkPrice": MARK_PRICE_FIELDS},
        observation.message(),
    )


@dataclass(frozen=True)
class SignedObservation:
    """What `signer` says it observed, with its signature over exactly that."""

    signer: str
    observation: Report
    signature: bytes

    @classmethod
    def sign(cls, observation: Report, account: LocalAccount, domain: Domain) -> SignedObservation:
        signature = eip712.sign(observation_typed_data(observation, domain), account)
        return cls(to_checksum_address(account.address), observation, signature)

    def recovers(self, domain: Domain) -> bool:
        """Whether the signature is `signer`'s over this observation in this domain."""
        try:
            return (
                eip712.recover(observation_typed_data(self.observation, domain), self.signature)
                == self.signer
            )
        except (BadSignature, ValidationError, ValueError):
            return False

    def to_json(self) -> dict[str, Any]:
        return {
            "signer": self.signer,
            "observation": self.observation.to_json(),
            "signature": "0x" + self.signature.hex(),
        }

    @classmethod
    def from_json(cls, data: Any) -> SignedObservation:
        try:
            signer = str(data["signer"])
            if not is_address(signer):
                raise ValueError(f"signer {signer[:50]!r} is not an address")
            signature = bytes.fromhex(str(data["signature"]).removeprefix("0x"))
            if len(signature) != 65:
                raise ValueError(f"a signature of {len(signature)} bytes, not 65")
            return cls(to_checksum_address(signer), Report.from_json(data["observation"]), signature)
        except (KeyError, TypeError, ValueError) as exc:
            raise ReportError(f"not a signed observation: {exc}") from None
