"""Submits signed reports to AttestationOracle through the chain layer's sender.

The sender (backend/chain/sender.py) takes the nonce, replaces a transaction that is not mined in
time at the same nonce with higher fees, and raises the decoded custom error of a report the
contract rejects, which is never retried (another aggregator may have landed the same epoch first:
AlreadyAttested). Here those outcomes become the aggregator's: a report landed, refused, or not
landed after every attempt (SubmitError).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract import Contract
from web3.types import TxReceipt

from backend.chain.errors import ErrorDecoder
from backend.chain.sender import NotMined, Sender, SendRefused
from oracle.protocol.report import Report


class SubmitError(RuntimeError):
    """A report could not be landed after every attempt."""


@dataclass
class Submitter:
    w3: Web3
    oracle: Contract
    account: LocalAccount
    errors: ErrorDecoder
    receipt_timeout: float = 30.0
    attempts: int = 5
    sender: Sender = field(init=False)

    def __post_init__(self) -> None:
        timeout, attempts = self.receipt_timeout, self.attempts
        self.sender = Sender(self.w3, self.errors, receipt_timeout=timeout, attempts=attempts)

    def submit(self, report: Report, signatures: Sequence[bytes]) -> TxReceipt:
        """Land `report`; raises the contract's custom error if it would revert, SubmitError if it never
        lands."""
        fn = self.oracle.functions.submit(report.as_tuple(), list(signatures))
        try:
            return self.sender.send(self.account, fn)
        except NotMined as exc:
            raise SubmitError(f"report not mined: {exc}") from exc
        except SendRefused as exc:
            raise SubmitError(f"node refused the report transaction: {exc}") from exc
