"""The aggregator: oracle nodes' observations in, one signed report on chain out.

For an epoch it asks every oracle node over HTTP for its signed observation (a node that cannot
answer, or whose observation is not signed by it or not of that epoch, is logged with the reason and
skipped), proposes the median report over what at least `threshold` nodes saw and shows it to the
nodes with those signed observations (oracle/protocol/consensus.py), asks them to sign it until the
threshold is met (refusals are logged), and lands it with the Submitter. The signer set's version
and threshold are read from the AttestationOracle itself, so a rotated set needs no configuration here.

Nothing that goes wrong is a crash: each attempt ends in an Outcome that says, in one sentence, what
landed or why nothing did (a revert by its custom error's name: AlreadyAttested when another
aggregator landed the epoch first).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from backend.chain.client import Market
from backend.chain.errors import ContractRevert
from backend.chain.protocol import EPOCH_SECONDS
from oracle.aggregator.node_client import Observation, OracleNodeClient, OracleNodeError
from oracle.aggregator.submitter import SubmitError, Submitter
from oracle.protocol.consensus import (
    ConsensusError,
    Proposal,
    ThresholdNotMet,
    collect_signatures,
    make_proposal,
)
from oracle.protocol.report import Domain, SignedReport
from oracle.protocol.rpc import RPC_ERRORS

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    """One attempt at one epoch."""

    epoch: int
    landed: bool
    summary: str  # one sentence for the operator
    error: str | None = None  # ThresholdNotMet, NoConsensus, AlreadyAttested, ... when nothing landed
    signed: SignedReport | None = None
    tx_hash: str | None = None


class RemoteSigner:
    """An oracle node as consensus.collect_signatures sees a signer."""

    def __init__(self, client: OracleNodeClient, address: str) -> None:
        self.client = client
        self.address = address

    def sign(self, proposal: Proposal) -> bytes | str:
        try:
            return self.client.sign(proposal)
        except OracleNodeError as exc:
            return f"{self.client.url}: {exc}"


class Aggregator:
    def __init__(
        self,
        market: Market,
        submitter: Submitter,
        nodes: Sequence[OracleNodeClient],
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.market = market
        self.submitter = submitter
        self.nodes = list(nodes)
        self.domain = Domain(market.chain_id, market.oracle.address)
        self._clock = clock

    def chain_time(self) -> int:
        """When the next block will be at the earliest: the chain may run ahead of this clock (a
        warped dev chain) or lag it (no block mined for a while)."""
        return max(int(self._clock()), int(self.market.w3.eth.get_block("latest")["timestamp"]))

    def last_complete_epoch(self) -> int:
        return self.chain_time() // EPOCH_SECONDS - 1

    def gather(self, epoch: int, signer_set: int) -> tuple[list[Observation], dict[str, str]]:
        """Observations of the nodes that answered, for this contract, with a current signer; and why
        each of the others was skipped."""
        observations: list[Observation] = []
        skipped: dict[str, str] = {}
        signers: dict[str, str] = {}
        for client in self.nodes:
            reason: str | None
            try:
                observation = client.observations(epoch)
            except OracleNodeError as exc:
                reason = str(exc)
            else:
                reason = self._unusable(observation, epoch, signer_set, signers)
            if reason:
                log.warning("oracle node %s skipped: %s", client.url, reason)
                skipped[client.url] = reason
                continue
            signers[observation.signer] = client.url
            observations.append(observation)
        return observations, skipped

    def _unusable(
        self, observation: Observation, epoch: int, signer_set: int, seen: dict[str, str]
    ) -> str | None:
        if observation.domain != self.domain:
            d = observation.domain
            return f"it signs for contract {d.verifying_contract} on chain {d.chain_id}, not this one"
        report = observation.report
        epochs = {a.epoch for a in report.attestations} | {m.epoch for m in report.marks}
        if epochs - {epoch}:
            return f"its observation of epoch {epoch} holds epoch(s) {sorted(epochs - {epoch})}"
        if not observation.signed.recovers(self.domain):
            return f"its observation is not signed by its signer {observation.signer}"
        if observation.signer in seen:
            return f"its signer {observation.signer} is also {seen[observation.signer]}'s"
        if not self.market.oracle.functions.isSigner(signer_set, observation.signer).call():
            return f"its signer {observation.signer} is not in signer set {signer_set}"
        return None

    def run(self, epoch: int) -> Outcome:
        """Try once to land `epoch`."""
        try:
            signer_set, threshold, _ = self.market.oracle.functions.signerSet().call()
            observations, skipped = self.gather(epoch, signer_set)
        except RPC_ERRORS as exc:
            return self._nothing(epoch, "RpcError", f"the chain could not be read: {exc}")
        if len(observations) < threshold:
            detail = "; ".join(f"{url}: {why}" for url, why in skipped.items())
            return self._nothing(
                epoch,
                "ThresholdNotMet",
                f"{threshold} signatures are needed but only {len(observations)} of {len(self.nodes)} "
                f"oracle nodes answered ({detail})",
            )
        try:
            proposal = make_proposal(
                [o.signed for o in observations], signer_set=signer_set, quorum=threshold
            )
        except ConsensusError as exc:
            return self._nothing(epoch, "NoConsensus", f"no report to propose: {exc}")
        clients = {c.url: c for c in self.nodes}
        signers = [RemoteSigner(clients[o.url], o.signer) for o in observations]
        try:
            signed = collect_signatures(proposal, signers, threshold, self.domain)
        except ThresholdNotMet as exc:
            return self._nothing(epoch, "ThresholdNotMet", f"not enough oracle nodes signed: {exc}")
        return self._submit(epoch, signed)

    def _submit(self, epoch: int, signed: SignedReport) -> Outcome:
        try:
            receipt = self.submitter.submit(signed.report, signed.signatures)
        except ContractRevert as exc:
            log.warning("epoch %d: the contract refused the report: %s", epoch, exc)
            why = f"the contract refused the report{_hint(exc)}: {exc}"
            return self._nothing(epoch, exc.name, why, signed)
        except SubmitError as exc:
            return self._nothing(epoch, "SubmitError", str(exc), signed)
        except RPC_ERRORS as exc:
            return self._nothing(epoch, "RpcError", f"the report could not be sent: {exc}", signed)
        tx_hash = "0x" + bytes(receipt["transactionHash"]).hex()
        report = signed.report
        summary = (
            f"landed epoch {epoch}: {_count(len(report.attestations), 'attestation')} and "
            f"{_count(len(report.marks), 'mark price')} signed by {', '.join(signed.signers)}; "
            f"tx {tx_hash} in block {receipt['blockNumber']}"
        )
        log.info(summary)
        return Outcome(epoch, True, summary, signed=signed, tx_hash=tx_hash)

    @staticmethod
    def _nothing(epoch: int, error: str, why: str, signed: SignedReport | None = None) -> Outcome:
        return Outcome(epoch, False, f"nothing landed for epoch {epoch} ({error}): {why}", error, signed)

    def watch(
        self, stop: threading.Event, on_outcome: Callable[[Outcome], None], *, interval: float, delay: float
    ) -> None:
        """Land each epoch once `delay` seconds have passed since it ended; retry every `interval` seconds
        until it lands, another aggregator lands it, or the next epoch ends."""
        done = -1
        while not stop.is_set():
            try:
                now = self.chain_time()
            except RPC_ERRORS as exc:
                log.warning("the chain's time could not be read: %s", exc)
            else:
                epoch = now // EPOCH_SECONDS - 1
                if epoch > done and now >= (epoch + 1) * EPOCH_SECONDS + delay:
                    outcome = self.run(epoch)
                    on_outcome(outcome)
                    if outcome.landed or outcome.error == "AlreadyAttested":
                        done = epoch
            stop.wait(interval)

    def close(self) -> None:
        for client in self.nodes:
            client.close()


def _count(n: int, what: str) -> str:
    return f"{n} {what}" if n == 1 else f"{n} {what}s"


def _hint(revert: ContractRevert) -> str:
    if revert.name != "AlreadyAttested":
        return ""
    return (
        f", this epoch has already landed for node {revert.fields.get('nodeId')} "
        "(another aggregator was first, or an earlier run)"
    )
