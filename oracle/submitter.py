"""Submits signed reports to AttestationOracle: one nonce sequence, retries, and fee bumps.

An aggregator is the only sender from its account, so it keeps its own next nonce (never below
the chain's pending count). A transaction that is not mined in time is replaced at the same nonce
with fees raised by at least the 10 % nodes require for a replacement. A report the contract
rejects is never retried: the decoded custom error says why (another aggregator may have landed
the same epoch first: AlreadyAttested).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

from eth_account.signers.local import LocalAccount
from eth_account.types import TransactionDictType
from hexbytes import HexBytes
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractLogicError, TimeExhausted, Web3RPCError
from web3.types import Nonce, TxParams, TxReceipt, Wei

from backend.chain.errors import ContractRevert, ErrorDecoder
from oracle.report import Report

log = logging.getLogger(__name__)

BUMP_NUM, BUMP_DEN = 1125, 1000  # +12.5 % per replacement, above the 10 % minimum


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
    _next_nonce: int | None = None

    def submit(self, report: Report, signatures: Sequence[bytes]) -> TxReceipt:
        """Land `report`; raises the contract's custom error if it would revert, SubmitError if it never
        lands."""
        fn = self.oracle.functions.submit(report.as_tuple(), list(signatures))
        try:
            gas = fn.estimate_gas({"from": self.account.address})
        except ContractLogicError as exc:
            raise self.errors.decode(exc.data) from None
        nonce = self._take_nonce()
        tip = self.w3.eth.max_priority_fee
        max_fee = Wei(2 * self.w3.eth.get_block("latest")["baseFeePerGas"] + tip)
        sent: list[HexBytes] = []
        for attempt in range(1, self.attempts + 1):
            tx = fn.build_transaction(
                {
                    "from": self.account.address,
                    "nonce": Nonce(nonce),
                    "gas": gas * 12 // 10,
                    "maxFeePerGas": max_fee,
                    "maxPriorityFeePerGas": tip,
                    "chainId": self.w3.eth.chain_id,
                }
            )
            # web3's TxParams is a TypedDict; eth-account declares a plain dict of the same values
            signed = self.account.sign_transaction(cast(TransactionDictType, tx))
            try:
                sent.append(self.w3.eth.send_raw_transaction(signed.raw_transaction))
            except Web3RPCError as exc:
                if "nonce too low" not in str(exc).lower():
                    raise SubmitError(f"node refused the report transaction: {exc}") from exc
                # An earlier attempt at this nonce was mined meanwhile: look for its receipt below.
            receipt = self._wait_any(sent)
            if receipt is not None:
                if receipt["status"] != 1:
                    raise self._replay(tx, receipt)
                log.info("report landed in block %s (attempt %d)", receipt["blockNumber"], attempt)
                return receipt
            tip = Wei(tip * BUMP_NUM // BUMP_DEN + 1)
            max_fee = Wei(max_fee * BUMP_NUM // BUMP_DEN + 1)
            log.warning(
                "report not mined in %.0f s; replacing at nonce %d with higher fees",
                self.receipt_timeout,
                nonce,
            )
        raise SubmitError(f"report not mined after {self.attempts} attempts at nonce {nonce}")

    def _take_nonce(self) -> int:
        pending = self.w3.eth.get_transaction_count(self.account.address, "pending")
        nonce = pending if self._next_nonce is None else max(pending, self._next_nonce)
        self._next_nonce = nonce + 1
        return nonce

    def _wait_any(self, hashes: Sequence[HexBytes]) -> TxReceipt | None:
        for i, tx_hash in enumerate(reversed(hashes)):
            try:
                timeout = self.receipt_timeout if i == 0 else 0.1
                return self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=timeout)
            except TimeExhausted:
                continue
        return None

    def _replay(self, tx: TxParams, receipt: TxReceipt) -> ContractRevert:
        try:
            self.w3.eth.call({"from": tx["from"], "to": tx["to"], "data": tx["data"]}, receipt["blockNumber"])
        except ContractLogicError as exc:
            return self.errors.decode(exc.data)
        return self.errors.decode(None)
