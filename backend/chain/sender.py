"""The one transaction sender: gas, nonces, receipts, and fee-bumped replacement of what is not mined.

Gas is the node's estimate with the shared margin (backend/chain/gas.py). The nonce is the node's
pending count, except that nonces this sender has in flight (sent, no receipt yet) are never handed
out twice: two threads sending from one account, or a send after a transaction the node has not
seen yet, get consecutive nonces. Once a transaction concludes its nonce is released, so a chain
that went back (a reorg, a test's evm_revert) is followed, not fought.

A transaction not mined within `receipt_timeout` is replaced at the same nonce with both EIP-1559
fees raised by 12.5 %, above the 10 % nodes require to accept a replacement, never above
`max_fee_cap`; whichever attempt is mined first ends the wait. A revert raises the decoded custom
error (backend/chain/errors.py), whether the estimate or the mined transaction reverted.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

from eth_account.signers.local import LocalAccount
from eth_account.types import TransactionDictType
from eth_typing import ChecksumAddress
from eth_utils import to_checksum_address
from hexbytes import HexBytes
from web3 import Web3
from web3.contract.contract import ContractConstructor, ContractFunction
from web3.exceptions import (
    ContractLogicError,
    TimeExhausted,
    TransactionNotFound,
    Web3Exception,
    Web3RPCError,
)
from web3.types import Nonce, TxParams, TxReceipt, Wei

from backend.chain.errors import ContractRevert, ErrorDecoder
from backend.chain.gas import with_margin

log = logging.getLogger(__name__)

#: Each replacement's fees over the last attempt's: +12.5 %, above the 10 % nodes require.
BUMP_NUM, BUMP_DEN = 1125, 1000
#: The least raise a node accepts for a replacement at the same nonce, in percent.
MIN_BUMP_PERCENT = 10
#: How often the sender asks for a receipt while it waits, in seconds.
POLL_SECONDS = 0.1

Call = ContractFunction | ContractConstructor


class NotMined(TimeExhausted):
    """No attempt at a nonce was mined in time (a TimeExhausted, as web3's own receipt wait raises)."""


class SendRefused(Web3Exception):
    """The node refused a signed transaction (eth_sendRawTransaction answered with an error)."""


@dataclass(frozen=True)
class Fees:
    """EIP-1559 fees of one attempt, in wei per gas."""

    max_fee: int
    tip: int

    def capped(self, cap: int | None) -> Fees:
        if cap is None:
            return self
        max_fee = min(self.max_fee, cap)
        return Fees(max_fee, min(self.tip, max_fee))

    def bumped(self, cap: int | None = None) -> Fees | None:
        """The fees of a replacement, or None where `cap` leaves no room for the raise nodes require."""
        raised = Fees(self.max_fee * BUMP_NUM // BUMP_DEN + 1, self.tip * BUMP_NUM // BUMP_DEN + 1).capped(
            cap
        )
        enough = all(
            new * 100 >= old * (100 + MIN_BUMP_PERCENT)
            for new, old in ((raised.max_fee, self.max_fee), (raised.tip, self.tip))
        )
        return raised if enough else None


def _raise(fee: int) -> int:
    return fee * BUMP_NUM // BUMP_DEN + 1


class Sender:
    """Builds, signs, sends and sees mined the transactions of the accounts handed to it."""

    def __init__(
        self,
        w3: Web3,
        errors: ErrorDecoder,
        chain_id: int | None = None,
        receipt_timeout: float = 30.0,
        attempts: int = 5,
        max_fee_cap: int | None = None,
    ):
        self.w3 = w3
        self.errors = errors
        self._chain_id = chain_id
        self.receipt_timeout = receipt_timeout
        self.attempts = attempts
        self.max_fee_cap = max_fee_cap
        self._lock = threading.Lock()
        self._in_flight: dict[str, set[int]] = {}

    def build(self, sender: str, fn: Call) -> TxParams:
        """The unsigned transaction {to, data, value, gas, chainId, nonce, fees} for `sender` to sign (a
        wallet's): the node's pending nonce, the estimate with the shared margin; a revert the estimate
        meets raises its custom error."""
        sender = to_checksum_address(sender)
        nonce = self.w3.eth.get_transaction_count(sender, "pending")
        return self._build(sender, fn, self._gas(sender, fn), nonce, None)

    def send(self, account: LocalAccount, fn: Call) -> TxReceipt:
        """Sign and send `fn` from `account` and return its receipt; raise the decoded custom error if it
        would revert or did, NotMined if no attempt was mined in time, SendRefused if the node refused
        the transaction."""
        gas = self._gas(account.address, fn)
        fees: Fees | None = self.fees()
        nonce = self._take_nonce(account.address)
        try:
            return self._land(account, fn, gas, nonce, fees)
        finally:
            with self._lock:
                self._in_flight[account.address].discard(nonce)

    def fees(self) -> Fees:
        """Fees for a new transaction: the node's suggested tip over twice the base fee (web3's default)."""
        tip = self.w3.eth.max_priority_fee
        base = self.w3.eth.get_block("latest").get("baseFeePerGas", 0)
        return Fees(2 * base + tip, tip).capped(self.max_fee_cap)

    @property
    def chain_id(self) -> int:
        if self._chain_id is None:
            self._chain_id = self.w3.eth.chain_id
        return self._chain_id

    # ------------------------------------------------------------------ internal

    def _gas(self, sender: str, fn: Call) -> int:
        try:
            return with_margin(fn.estimate_gas({"from": sender}))
        except ContractLogicError as exc:
            raise self.errors.decode(exc.data) from None

    def _build(self, sender: str, fn: Call, gas: int, nonce: int, fees: Fees | None) -> TxParams:
        params: TxParams = {"from": sender, "chainId": self.chain_id, "gas": gas, "nonce": Nonce(nonce)}
        if fees is not None:
            params["maxFeePerGas"], params["maxPriorityFeePerGas"] = Wei(fees.max_fee), Wei(fees.tip)
        return fn.build_transaction(params)

    def _take_nonce(self, sender: ChecksumAddress) -> int:
        with self._lock:
            pending = self.w3.eth.get_transaction_count(sender, "pending")
            taken = self._in_flight.setdefault(sender, set())
            nonce = max(pending, max(taken) + 1) if taken else pending
            taken.add(nonce)
            return nonce

    def _land(self, account: LocalAccount, fn: Call, gas: int, nonce: int, fees: Fees | None) -> TxReceipt:
        sent: list[HexBytes] = []
        tx: TxParams = {}
        for attempt in range(1, self.attempts + 1):
            if fees is not None:  # None once the cap allows no further raise: wait on what was sent
                tx = self._build(account.address, fn, gas, nonce, fees)
                # web3's TxParams is a TypedDict; eth-account declares a plain dict of the same values
                signed = account.sign_transaction(cast(TransactionDictType, tx))
                try:
                    sent.append(self.w3.eth.send_raw_transaction(signed.raw_transaction))
                except Web3RPCError as exc:
                    if not sent or "nonce too low" not in str(exc).lower():
                        raise SendRefused(str(exc)) from exc
                    # An earlier attempt at this nonce was mined meanwhile: its receipt is found below.
            receipt = self._wait_any(sent)
            if receipt is not None:
                if receipt["status"] != 1:
                    raise self._replay(tx, receipt)
                if attempt > 1:
                    log.info("nonce %d of %s mined at attempt %d", nonce, account.address, attempt)
                return receipt
            if attempt < self.attempts:
                log.warning(
                    "nonce %d of %s not mined in %.0f s; replacing it with higher fees",
                    nonce,
                    account.address,
                    self.receipt_timeout,
                )
                fees = fees.bumped(self.max_fee_cap) if fees is not None else None
        raise NotMined(f"nonce {nonce} of {account.address} not mined after {self.attempts} attempts")

    def _wait_any(self, hashes: Sequence[HexBytes]) -> TxReceipt | None:
        """The receipt of whichever attempt is mined within the receipt timeout, else None."""
        deadline = time.monotonic() + self.receipt_timeout
        while hashes:
            for tx_hash in reversed(hashes):
                try:
                    return self.w3.eth.get_transaction_receipt(tx_hash)
                except TransactionNotFound:
                    continue
            if time.monotonic() >= deadline:
                break
            time.sleep(POLL_SECONDS)
        return None

    def _replay(self, tx: TxParams, receipt: TxReceipt) -> ContractRevert:
        """The custom error a mined transaction reverted with: its call replayed on the block it was in."""
        call: TxParams = {"from": tx["from"], "data": tx["data"]}
        for key in ("to", "value"):
            if key in tx:
                call[key] = tx[key]
        try:
            self.w3.eth.call(call, receipt["blockNumber"])
        except ContractLogicError as exc:
            return self.errors.decode(exc.data)
        return self.errors.decode(None)
