"""The aggregator's HTTP client for one oracle node (oracle/node/api.py).

Every failure is an OracleNodeError with a reason; a refusal to sign is an answer, not an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from eth_utils import is_address, to_checksum_address

from oracle.protocol.consensus import Proposal
from oracle.protocol.observation import SignedObservation
from oracle.protocol.report import Domain, Report, ReportError


class OracleNodeError(Exception):
    """The node could not give what was asked; the message says why."""


class NodeUnreachable(OracleNodeError):
    """No answer: connection refused, timeout, or a 5xx."""


class NodeRefused(OracleNodeError):
    """A 4xx with the node's reason (an epoch it has not observed, say)."""


class NodeProtocolError(OracleNodeError):
    """An answer that is not what the protocol says."""


@dataclass(frozen=True)
class Observation:
    """One oracle node's view of an epoch."""

    url: str
    signer: str
    domain: Domain
    report: Report
    signature: bytes  # the signer's, over `report` as its observation (oracle/protocol/observation.py)
    notes: dict[str, list[str]]

    @property
    def signed(self) -> SignedObservation:
        return SignedObservation(self.signer, self.report, self.signature)


class OracleNodeClient:
    def __init__(self, url: str, timeout: float = 30.0, client: httpx.Client | None = None) -> None:
        self.url = url.rstrip("/")
        self._http = client or httpx.Client(timeout=timeout)

    def _call(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        try:
            response = self._http.request(method, self.url + path, **kwargs)
        except httpx.HTTPError as exc:
            what = type(exc).__name__
            raise NodeUnreachable(f"{what}: {exc}" if str(exc) else what) from None
        if response.status_code >= 500:
            raise NodeUnreachable(f"HTTP {response.status_code}")
        try:
            return response.status_code, response.json()
        except ValueError:
            raise NodeProtocolError(f"HTTP {response.status_code}, and the answer is not JSON") from None

    @staticmethod
    def _reason(status: int, body: Any) -> str:
        if isinstance(body, dict):
            reason = body.get("reason") or body.get("detail")
            if reason:
                return f"HTTP {status}: {str(reason)[:300]}"
        return f"HTTP {status}"

    def observations(self, epoch: int) -> Observation:
        status, body = self._call("GET", f"/observations/{epoch}")
        if status != 200:
            raise NodeRefused(self._reason(status, body))
        try:
            signer, domain = body["signer"], body["domain"]
            if not is_address(signer) or not is_address(domain["verifyingContract"]):
                raise ValueError("signer or contract is not an address")
            return Observation(
                self.url,
                to_checksum_address(signer),
                Domain(int(domain["chainId"]), to_checksum_address(domain["verifyingContract"])),
                Report.from_json(body["report"]),
                bytes.fromhex(str(body["signature"]).removeprefix("0x")),
                {str(k): [str(n) for n in v] for k, v in body.get("notes", {}).items()},
            )
        except (KeyError, TypeError, ValueError, AttributeError, ReportError) as exc:
            raise NodeProtocolError(f"malformed observations ({exc})") from None

    def sign(self, proposal: Proposal) -> bytes | str:
        """The node's signature over the proposal's report, or its reason for refusing."""
        status, body = self._call("POST", "/sign", json=proposal.to_json())
        if status != 200:
            return self._reason(status, body)
        try:
            signature = bytes.fromhex(str(body["signature"]).removeprefix("0x"))
        except (KeyError, TypeError, ValueError) as exc:
            raise NodeProtocolError(f"malformed signature answer ({exc})") from None
        if len(signature) != 65:
            raise NodeProtocolError(f"a signature of {len(signature)} bytes, not 65")
        return signature

    def close(self) -> None:
        self._http.close()
