"""An oracle node: polls agents, challenges them, aggregates each epoch and signs the report.

Nothing an agent does can stop the node: an unreachable agent, a malformed sample or a failed
challenge is logged with its reason and counted against that node's uptime (oracle/node/epoch_attestation.py).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from eth_account.signers.local import LocalAccount

from backend.chain.protocol import EPOCH_SECONDS
from oracle.node.agent_client import AgentClient, AgentError
from oracle.node.epoch_attestation import EpochInput, EpochResult, PollRecord, aggregate_epoch, epoch_bounds
from oracle.node.verifier import ChallengeOutcome, challenge
from oracle.protocol.report import Domain, MarkPrice, Report, SignedReport, report_digest, sign_report
from oracle.protocol.sample import GpuSample
from oracle.settings import NodeSettings

log = logging.getLogger(__name__)
# Which GPU is challenged, and when, from the OS's generator: an agent must not predict either.
_unpredictable = random.SystemRandom()


@dataclass(frozen=True)
class AgentTarget:
    """A provider node this oracle watches."""

    node_id: int
    url: str
    gpu_count: int | None = None  # as registered on chain; asked of the agent when unknown
    booked_gpus: int | None = None


@dataclass(frozen=True)
class Seen:
    """What this oracle saw of one agent in one epoch by itself: its polls and its challenges."""

    polls: tuple[PollRecord, ...]
    challenges: tuple[ChallengeOutcome, ...]
    gpu_count: int | None


@dataclass
class _Log:
    polls: list[PollRecord] = field(default_factory=list)
    challenges: dict[int, list[ChallengeOutcome]] = field(default_factory=lambda: defaultdict(list))
    gpu_count: int | None = None
    max_challenge_n: int | None = None  # the largest the agent says it accepts
    challenge_n: int | None = None  # the size of its next challenge


def next_challenge_size(
    n: int, outcome: ChallengeOutcome, smallest: int, largest: int, seconds: float
) -> int:
    """The next challenge's size for an agent whose size-`n` challenge ended in `outcome`.

    Verified FLOP/s is only as good as the share of the timed call the product takes: on a fast GPU
    a small product is over before the round trip and the commitment are. So the size doubles (8x
    the work) while the product took under a quarter of `seconds`, halves when it took over four
    times as long or failed (a lost agent, a timeout), and stays within smallest..largest. Sizes are
    the oracle's choice; an agent that works slowly on purpose only gets smaller challenges and
    lower scores.
    """
    if seconds <= 0:
        return smallest
    if not outcome.passed or (outcome.observed_seconds or 0) > 4 * seconds:
        return max(smallest, n // 2)
    if (outcome.observed_seconds or 0) < seconds / 4 and 2 * n <= largest:
        return 2 * n
    return n


class OracleNode:
    def __init__(
        self,
        settings: NodeSettings,
        targets: Sequence[AgentTarget],
        *,
        client_factory: Callable[[str], AgentClient] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.targets = list(targets)
        self._clock = clock
        factory = client_factory or (lambda url: AgentClient(url, timeout=settings.http_timeout))
        self._clients = {t.node_id: factory(t.url) for t in self.targets}
        self._logs = {t.node_id: _Log(gpu_count=t.gpu_count) for t in self.targets}
        # The polling loop writes the logs while an HTTP request reads them (oracle/node/api.py).
        self._lock = threading.Lock()

    def poll(self, target: AgentTarget) -> PollRecord:
        """A liveness check; the first good one also learns the GPU count if it was not given."""
        record_log = self._logs[target.node_id]
        at = self._clock()
        try:
            status = self._clients[target.node_id].status()
        except AgentError as exc:
            log.warning("node %d: poll failed: %s", target.node_id, exc)
            record = PollRecord(at, False, str(exc))
            status = None
        else:
            record = PollRecord(at, True)
        with self._lock:
            if status is not None:
                if record_log.gpu_count is None:
                    record_log.gpu_count = len(status.gpus)
                record_log.max_challenge_n = status.max_challenge_n
            record_log.polls.append(record)
        return record

    def challenge(self, target: AgentTarget, epoch: int, gpu: int | None = None) -> ChallengeOutcome:
        """Challenge one of the node's GPUs (random unless given); the outcome counts toward `epoch`."""
        s = self.settings
        node_log = self._logs[target.node_id]
        count = node_log.gpu_count or 1
        smallest = min(s.challenge_n, node_log.max_challenge_n or s.challenge_n)
        n = node_log.challenge_n or smallest
        outcome = challenge(
            self._clients[target.node_id],
            n,
            rows=s.challenge_rows,
            rounds=s.freivalds_rounds,
            gpu=_unpredictable.randrange(count) if gpu is None else gpu,
            wall_clock=self._clock,
        )
        self._record_challenge(target, epoch, outcome)
        node_log.challenge_n = next_challenge_size(
            n, outcome, smallest, node_log.max_challenge_n or smallest, s.challenge_seconds
        )
        log.info(
            "node %d: challenge n=%d %s (%s)",
            target.node_id,
            n,
            "passed" if outcome.passed else "FAILED",
            outcome.reason if not outcome.passed else f"{outcome.gflops:.1f} GFLOP/s",
        )
        return outcome

    def seen(self, epoch: int) -> dict[int, Seen]:
        """This oracle's own watch of every agent in `epoch`, kept apart from the logs the polling
        loop forgets, so that the epoch can be observed again when its samples come late."""
        start, end = epoch_bounds(epoch)
        with self._lock:
            return {
                node_id: Seen(
                    tuple(p for p in node_log.polls if start <= p.at < end),
                    tuple(node_log.challenges.get(epoch, ())),
                    node_log.gpu_count,
                )
                for node_id, node_log in self._logs.items()
            }

    def observe(self, target: AgentTarget, epoch: int, seen: Seen | None = None) -> EpochInput:
        """What this oracle saw of `target` in `epoch` (`seen`, or its logs now), with the agent's
        sealed samples of the hour; a fetch that fails is said in `fetch_error`, not taken as no samples."""
        watch = seen or self.seen(epoch)[target.node_id]
        samples: list[GpuSample] = []
        malformed = 0
        fetch_error = None
        try:
            samples, errors = self._clients[target.node_id].hour_samples(epoch)
            malformed = len(errors)
            for error in errors[:5]:
                log.warning("node %d: malformed sample: %s", target.node_id, error)
        except AgentError as exc:
            log.warning("node %d: could not fetch epoch %d samples: %s", target.node_id, epoch, exc)
            fetch_error = str(exc)
        gpu_count = watch.gpu_count or len({s.uuid for s in samples}) or 1
        return EpochInput(
            target.node_id,
            epoch,
            gpu_count,
            samples,
            list(watch.polls),
            list(watch.challenges),
            target.booked_gpus,
            malformed,
            watch_gap=self.settings.watch_gap,
            fetch_error=fetch_error,
        )

    def attest(self, epoch: int, seen: dict[int, Seen] | None = None) -> list[EpochResult]:
        watch = seen or self.seen(epoch)
        return [aggregate_epoch(self.observe(t, epoch, watch[t.node_id])) for t in self.targets]

    def report(
        self, epoch: int, marks: Sequence[MarkPrice] = (), seen: dict[int, Seen] | None = None
    ) -> tuple[Report, list[EpochResult]]:
        results = self.attest(epoch, seen)
        attestations = tuple(sorted((r.attestation for r in results), key=lambda a: a.node_id))
        return Report(self.settings.signer_set, attestations, tuple(marks)), results

    def run_once(
        self,
        epoch: int,
        account: LocalAccount,
        domain: Domain,
        marks: Sequence[MarkPrice] = (),
        challenges: int = 1,
    ) -> tuple[SignedReport, list[EpochResult]]:
        """Poll and challenge every agent now, then attest `epoch` from the agents' buffered samples."""
        self.check_all(epoch, challenges)
        report, results = self.report(epoch, marks)
        signature = sign_report(report, account, domain)
        signed = SignedReport(report, report_digest(report, domain), (account.address,), (signature,))
        return signed, results

    def check_all(self, epoch: int, challenges: int = 1) -> None:
        """Poll every agent now and challenge the reachable ones; an unreachable one fails its challenge."""
        for target in self.targets:
            if self.poll(target).ok:
                for _ in range(challenges):
                    self.challenge(target, epoch)
            else:
                self._record_challenge(
                    target,
                    epoch,
                    ChallengeOutcome(self._clock(), self.settings.challenge_n, False, "agent unreachable"),
                )

    def watch(
        self,
        account: LocalAccount,
        domain: Domain,
        emit: Callable[[SignedReport, list[EpochResult]], None],
        stop: threading.Event,
        marks: Callable[[int], Sequence[MarkPrice]] = lambda epoch: (),
        grace: float = 30.0,
    ) -> None:
        """`run`, emitting each epoch's signed report as it ends."""

        def sign_epoch(epoch: int) -> None:
            report, results = self.report(epoch, marks(epoch))
            signature = sign_report(report, account, domain)
            digest = report_digest(report, domain)
            emit(SignedReport(report, digest, (account.address,), (signature,)), results)

        self.run(stop, sign_epoch, grace)

    def run(self, stop: threading.Event, on_epoch_end: Callable[[int], None], grace: float = 30.0) -> None:
        """Poll every `poll_interval` and challenge at random times (on average
        `challenges_per_epoch` an hour) until `stop`. Once an epoch has ended and `grace` seconds
        have passed for its last samples to arrive, call `on_epoch_end(epoch)`; that epoch's polls and
        challenges are forgotten afterwards, so whatever needs them must be computed there."""
        s = self.settings
        rate = s.challenges_per_epoch / EPOCH_SECONDS
        next_challenge = {t.node_id: self._clock() + _unpredictable.expovariate(rate) for t in self.targets}
        current = int(self._clock() // EPOCH_SECONDS)
        while not stop.is_set():
            now = self._clock()
            for target in self.targets:
                if self.poll(target).ok and now >= next_challenge[target.node_id]:
                    self.challenge(target, int(now // EPOCH_SECONDS))
                    next_challenge[target.node_id] = now + _unpredictable.expovariate(rate)
            if now >= (current + 1) * EPOCH_SECONDS + grace:
                on_epoch_end(current)
                self._forget_before(current + 1)
                current += 1
            stop.wait(s.poll_interval)

    def _record_challenge(self, target: AgentTarget, epoch: int, outcome: ChallengeOutcome) -> None:
        with self._lock:
            self._logs[target.node_id].challenges[epoch].append(outcome)

    def _forget_before(self, epoch: int) -> None:
        start, _ = epoch_bounds(epoch)
        with self._lock:
            for node_log in self._logs.values():
                node_log.polls = [p for p in node_log.polls if p.at >= start]
                for e in [e for e in node_log.challenges if e < epoch]:
                    del node_log.challenges[e]

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
