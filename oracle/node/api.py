"""The oracle node's HTTP API, served to aggregators.

GET  /health                 this node's signer, EIP-712 domain and agents
GET  /observations/{epoch}   this node's own attestations (and mark prices) of an ended epoch, signed
POST /sign                   a proposal (a report and the signed observations it is derived from)
                             -> {signer, signature}, or 409 {reason} if it refuses

A node observes an epoch once, after it has ended and `grace` seconds have passed, and keeps that
view, so it signs one observation per epoch. Its own polls and challenges of the epoch are fixed
then; an agent's sealed samples that could not be fetched are asked for again on each later request
(409 until then), for `retry_for` seconds, and only after that is the hour observed without them.
It signs a proposed report when the report is derived correctly from at least a quorum of its
peers' signed observations (oracle/protocol/consensus.py), whatever its own observation says. Agents
are polled and challenged by a background thread (OracleNode.run) for as long as the app runs. The
signing key is only ever used to sign; it is never logged or served.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address
from fastapi import Body, FastAPI, Path
from fastapi.responses import JSONResponse

from backend.chain.protocol import HOUR
from oracle.node.epoch_attestation import EpochResult, epoch_bounds
from oracle.node.service import OracleNode, Seen
from oracle.protocol.consensus import Proposal, ReportSigner
from oracle.protocol.observation import SignedObservation
from oracle.protocol.report import Domain, MarkPrice, Report, ReportError, report_digest

log = logging.getLogger(__name__)

KEEP_EPOCHS = 48  # views kept; reports older than the contract's staleness window cannot land anyway


class EpochUnavailable(Exception):
    """This node has no view of that epoch to offer: it has not ended yet, or is too old."""


class EpochViews:
    """Each ended epoch as this node saw it, computed once and then kept."""

    def __init__(
        self,
        node: OracleNode,
        marks: Callable[[int], Sequence[MarkPrice]] = lambda epoch: (),
        *,
        clock: Callable[[], float] = time.time,
        grace: float = 30.0,
        max_age: float = 6 * HOUR,
        retry_for: float = 900.0,
    ) -> None:
        self.node = node
        self._marks = marks
        self._clock = clock
        self.grace = grace
        self.max_age = max_age
        self.retry_for = retry_for
        self._views: dict[int, tuple[Report, list[EpochResult]]] = {}
        self._seen: dict[int, dict[int, Seen]] = {}  # this node's watch of epochs not observed yet
        self._lock = threading.Lock()  # one computation per epoch, however many ask at once

    def get(self, epoch: int) -> tuple[Report, list[EpochResult]]:
        with self._lock:
            if epoch in self._views:
                return self._views[epoch]
            _, end = epoch_bounds(epoch)
            now = self._clock()
            if now < end + self.grace:
                raise EpochUnavailable(f"epoch {epoch} has not ended here (plus {self.grace:.0f} s of grace)")
            if now - end > self.max_age:
                raise EpochUnavailable(
                    f"epoch {epoch} ended {now - end:.0f} s ago, more than {self.max_age:.0f} s"
                )
            seen = self._seen.setdefault(epoch, self.node.seen(epoch))
            view = self.node.report(epoch, self._marks(epoch), seen)
            unfetched = [r for r in view[1] if r.fetch_error]
            if unfetched and now < end + self.grace + self.retry_for:
                first = unfetched[0]
                raise EpochUnavailable(
                    f"the samples of node {first.attestation.node_id} in epoch {epoch} could not be "
                    f"fetched ({first.fetch_error}); asked again on the next request"
                )
            self._views[epoch] = view
            del self._seen[epoch]
            for old in [e for e in (*self._views, *self._seen) if e <= epoch - KEEP_EPOCHS]:
                self._views.pop(old, None)
                self._seen.pop(old, None)
            return view


def _refuse(status: int, reason: str) -> JSONResponse:
    return JSONResponse(status_code=status, content={"reason": reason})


def create_node_app(
    views: EpochViews,
    account: LocalAccount,
    domain: Domain,
    *,
    watch: bool = True,
) -> FastAPI:
    """The node's HTTP app; with `watch`, its agents are polled and challenged while it runs."""
    node = views.node
    signer = to_checksum_address(account.address)
    settings = node.settings
    reviewer = ReportSigner(
        account, domain, settings.peers, quorum=settings.quorum, signer_set=settings.signer_set
    )
    stop = threading.Event()

    def keep_epoch(epoch: int) -> None:
        try:
            views.get(epoch)  # before the loop forgets the epoch's polls and challenges
        except EpochUnavailable as exc:
            log.warning("epoch %d: %s", epoch, exc)
        except Exception:  # a bad epoch must not stop the polling that every later epoch needs
            log.exception("epoch %d: could not be observed", epoch)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        thread = None
        if watch:
            thread = threading.Thread(target=node.run, args=(stop, keep_epoch, views.grace), daemon=True)
            thread.start()
        try:
            yield
        finally:
            stop.set()
            if thread is not None:
                thread.join(timeout=10)
            node.close()

    app = FastAPI(title="gpuhours oracle node", lifespan=lifespan)

    def domain_json() -> dict[str, Any]:
        contract = to_checksum_address(domain.verifying_contract)
        return {"chainId": domain.chain_id, "verifyingContract": contract}

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {
            "signer": signer,
            "domain": domain_json(),
            "agents": {str(t.node_id): t.url for t in node.targets},
        }

    @app.get("/observations/{epoch}", response_model=None)
    def observations(epoch: int = Path(ge=0, lt=2**64)) -> dict[str, Any] | JSONResponse:
        try:
            report, results = views.get(epoch)
        except EpochUnavailable as exc:
            return _refuse(409, str(exc))
        return {
            "epoch": epoch,
            "signer": signer,
            "domain": domain_json(),
            "report": report.to_json(),
            "signature": "0x" + SignedObservation.sign(report, account, domain).signature.hex(),
            "notes": {str(r.attestation.node_id): r.reasons for r in results},
        }

    @app.post("/sign", response_model=None)
    def sign(body: dict[str, Any] = Body(...)) -> dict[str, Any] | JSONResponse:
        try:
            proposal = Proposal.from_json(body)
        except ReportError as exc:
            return _refuse(422, str(exc))
        if not reviewer.peers:
            return _refuse(
                409, "this node has no peers configured (GPUHOURS_ORACLE_PEERS), so it signs no report"
            )
        report = proposal.report
        epochs = sorted({a.epoch for a in report.attestations} | {m.epoch for m in report.marks})
        if not epochs:
            return _refuse(409, "the report is empty")
        answer = reviewer.sign(proposal)
        if isinstance(answer, str):
            log.warning("refused to sign a report for epoch(s) %s: %s", epochs, answer)
            return _refuse(409, answer)
        log.info("signed report 0x%s for epoch(s) %s", report_digest(report, domain).hex(), epochs)
        return {"signer": signer, "signature": "0x" + answer.hex()}

    return app
