"""The oracle's side of a proof-of-compute challenge: pick, time, check, score.

Trust model. The agent is the party being measured, so nothing it says about time is believed: the
verified FLOP/s is 2n^3 over the time the *oracle* saw the `run` call take (the product, the row
commitment and one round trip). That is a lower bound the provider cannot inflate; the agent's own
`compute_seconds` is kept for diagnosis only. Energy comes from the node's energy counter (as all
telemetry does), read by the agent just before and after the product.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol, TypedDict, Unpack

import numpy as np

from oracle.node.agent_client import AgentError, AgentUnreachable
from oracle.protocol import freivalds
from oracle.protocol.challenge import RevealedRows, RunResult, row_leaf
from oracle.protocol.merkle import sha256, verify

log = logging.getLogger(__name__)

# Checks being prepared (freivalds.expect: NumPy, off the GIL) while their agents work.
_PREPARE = ThreadPoolExecutor(max_workers=2, thread_name_prefix="freivalds")


class Challengeable(Protocol):
    """What a challenge needs from an agent: the HTTP client, or its Prover in-process (LocalAgent)."""

    def prepare(self, seed: int, n: int, dtype: str, gpu: int = 0) -> str: ...
    def run(self, challenge_id: str, salt: int) -> RunResult: ...
    def reveal(self, challenge_id: str, rows: list[int], n: int, dtype: str) -> RevealedRows: ...


class _Measured(TypedDict, total=False):
    """What a challenge measured before its verdict."""

    gpu_uuid: str | None
    observed_seconds: float | None
    claimed_seconds: float | None


@dataclass(frozen=True)
class ChallengeOutcome:
    at: float  # unix time the challenge started
    n: int
    passed: bool
    reason: str
    gpu_uuid: str | None = None
    observed_seconds: float | None = None
    claimed_seconds: float | None = None
    flops_per_second: float | None = None
    flop_per_joule: float | None = None
    false_accept_bound: float | None = None

    @property
    def gflops(self) -> float | None:
        return None if self.flops_per_second is None else self.flops_per_second / 1e9

    @property
    def mflop_per_joule(self) -> float | None:
        return None if self.flop_per_joule is None else self.flop_per_joule / 1e6


def challenge(
    agent: Challengeable,
    n: int,
    *,
    rows: int = 32,
    rounds: int = 8,
    dtype: str = "float32",
    gpu: int = 0,
    rng: np.random.Generator | None = None,
    wall_clock: Callable[[], float] = time.time,
) -> ChallengeOutcome:
    """Run one challenge against `agent`. Never raises for the agent's faults: they fail the outcome."""
    rng = rng or np.random.default_rng(secrets.randbits(128))
    at = wall_clock()

    def failed(reason: str, **kw: Unpack[_Measured]) -> ChallengeOutcome:
        log.warning("challenge failed: %s", reason)
        return ChallengeOutcome(at, n, False, reason, **kw)

    seed, salt = secrets.randbits(128), secrets.randbits(128)
    picked = sorted(int(i) for i in rng.choice(n, size=min(rows, n), replace=False))
    # All but C is known now: prepare the check while the agent derives its matrices.
    expecting = _PREPARE.submit(freivalds.expect, seed, salt, n, picked, rounds=rounds, rng=rng, dtype=dtype)
    try:
        challenge_id = agent.prepare(seed, n, dtype, gpu)
        expectation = expecting.result()  # before the clock starts, so the product is timed alone
        start = time.perf_counter()
        result = agent.run(challenge_id, salt)
        observed = time.perf_counter() - start
        revealed = agent.reveal(challenge_id, picked, n, dtype)
    except AgentUnreachable as exc:
        return failed(f"agent unreachable: {exc}")
    except AgentError as exc:
        return failed(f"agent broke the protocol: {exc}")
    common: _Measured = {
        "gpu_uuid": result.gpu_uuid,
        "observed_seconds": observed,
        "claimed_seconds": result.compute_seconds,
    }
    if result.n != n or result.dtype != dtype:
        return failed(f"agent ran n={result.n} {result.dtype}, asked n={n} {dtype}", **common)
    if revealed.rows != picked or revealed.data.shape != (len(picked), n):
        return failed("agent revealed other rows than asked", **common)
    for k, i in enumerate(picked):
        if not verify(revealed.proofs[k], result.commitment, row_leaf(i, revealed.data[k]), sha256):
            return failed(f"row {i} does not match the commitment", **common)
    check = expectation.check(revealed.data)
    if not check.accepted:
        row = picked[check.failed_row or 0]
        return failed(
            f"Freivalds rejected row {row}: residual {check.max_residual:.3g} > {check.threshold:.3g}",
            **common,
        )
    work = freivalds.flops(n)
    flop_per_joule = None
    if result.energy_mj_before is not None and result.energy_mj_after is not None:
        joules = (result.energy_mj_after - result.energy_mj_before) / 1000
        if joules > 0:
            flop_per_joule = work / joules
        else:
            log.info("energy counter did not advance during the product; efficiency unknown")
    return ChallengeOutcome(
        at,
        n,
        True,
        "verified",
        flops_per_second=work / observed,
        flop_per_joule=flop_per_joule,
        false_accept_bound=check.false_accept_bound,
        **common,
    )
