"""The challenge protocol in-process: honest provers pass, every kind of cheat fails."""

from __future__ import annotations

import numpy as np
import pytest

from oracle.agent import prover as prover_module
from oracle.agent.prover import (
    LocalAgent,
    MatmulBackend,
    NumpyBackend,
    Prover,
    UnknownChallenge,
    select_backend,
)
from oracle.agent.telemetry.simulated import SimulatedSource
from oracle.node.verifier import challenge
from oracle.protocol.challenge import RevealedRows
from oracle.protocol.freivalds import ChallengeError


def honest(gpus: int = 2) -> Prover:
    return Prover(NumpyBackend(), SimulatedSource(1, gpus), max_n=1024)


def test_an_honest_prover_passes_with_throughput_and_efficiency():
    outcome = challenge(LocalAgent(honest()), 256, rows=16, rounds=8, gpu=1)
    assert outcome.passed, outcome.reason
    assert outcome.flops_per_second > 0 and outcome.observed_seconds >= outcome.claimed_seconds
    assert outcome.flop_per_joule is not None and outcome.flop_per_joule > 0
    assert outcome.false_accept_bound == 2.0**-8
    assert outcome.gpu_uuid == SimulatedSource(1, 2).gpus()[1].uuid


class SkipsWork(MatmulBackend):
    """Computes only the first half of C's rows and returns zeros for the rest."""

    name, device = "cheat", "none"

    def load(self, a, b):
        return a, b

    def multiply(self, loaded, signs):
        a, b = loaded
        c = np.zeros((a.shape[0], b.shape[1]), dtype=a.dtype)
        half = a.shape[0] // 2
        c[:half] = a[:half] @ (b * signs[:, None])
        return c, 0.0


class IgnoresSalt(MatmulBackend):
    """Precomputes A·B and ignores the signs that arrive with the run."""

    name, device = "cheat", "none"

    def load(self, a, b):
        return a @ b

    def multiply(self, loaded, signs):
        return loaded, 0.0


class LowPrecision(MatmulBackend):
    """Computes in float16 (a tensor-core shortcut) and hands back float32."""

    name, device = "cheat", "none"

    def load(self, a, b):
        return a, b

    def multiply(self, loaded, signs):
        a, b = loaded
        return (a.astype(np.float16) @ (b * signs[:, None]).astype(np.float16)).astype(np.float32), 0.0


@pytest.mark.parametrize("backend", [SkipsWork(), IgnoresSalt(), LowPrecision()])
def test_cheating_backends_fail(backend):
    outcome = challenge(
        LocalAgent(Prover(backend, None)), 256, rows=16, rounds=4, rng=np.random.default_rng(0)
    )
    assert not outcome.passed and "Freivalds rejected" in outcome.reason


class SwapsRows(LocalAgent):
    """Reveals correct rows, but not the ones committed to (it committed to a wrong C)."""

    def reveal(self, challenge_id, rows, n, dtype):
        revealed = super().reveal(challenge_id, rows, n, dtype)
        data = revealed.data.copy()
        data[0] += 1
        return RevealedRows(revealed.rows, data, revealed.proofs)


class RevealsOtherRows(LocalAgent):
    def reveal(self, challenge_id, rows, n, dtype):
        revealed = super().reveal(challenge_id, [(i + 1) % n for i in rows], n, dtype)
        return RevealedRows(list(rows), revealed.data, revealed.proofs)


@pytest.mark.parametrize("agent_class", [SwapsRows, RevealsOtherRows])
def test_rows_that_do_not_match_the_commitment_fail(agent_class):
    outcome = challenge(agent_class(honest()), 128, rows=8, rounds=2)
    assert not outcome.passed and "does not match the commitment" in outcome.reason


def test_the_protocol_refuses_misuse():
    p = honest()
    with pytest.raises(ChallengeError, match="outside"):
        p.prepare(1, 2048)
    with pytest.raises(ChallengeError, match="no GPU"):
        p.prepare(1, 16, gpu=5)
    with pytest.raises(UnknownChallenge):
        p.run("nope", 1)
    cid = p.prepare(1, 16)
    with pytest.raises(ChallengeError, match="not run"):
        p.reveal(cid, [0])
    p.run(cid, 2)
    with pytest.raises(ChallengeError, match="already run"):
        p.run(cid, 3)
    with pytest.raises(ChallengeError, match="rows"):
        p.reveal(cid, [16])
    p.reveal(cid, [0, 1])
    with pytest.raises(UnknownChallenge):
        p.reveal(cid, [0])  # revealed once, then forgotten


def test_only_a_few_challenges_are_kept():
    p = honest()
    first = p.prepare(1, 16)
    for seed in range(2, 5):
        p.prepare(seed, 16)
    with pytest.raises(UnknownChallenge):
        p.run(first, 1)


def test_backend_selection_without_a_gpu(monkeypatch):
    monkeypatch.setattr(prover_module, "_torch_ready", lambda: False)
    monkeypatch.setattr(prover_module, "_cupy_ready", lambda: False)
    assert select_backend().name == "numpy"
    assert select_backend("numpy").name == "numpy"
    with pytest.raises(ChallengeError, match="torch"):
        select_backend("torch")
    with pytest.raises(ChallengeError, match="unknown"):
        select_backend("tpu")


def test_large_products_commit_in_parallel_to_the_same_root():
    c = np.random.default_rng(0).random((4096, 4096), dtype=np.float32)  # 64 MiB: the threaded path
    tree = prover_module.commit_rows(c)
    leaves = [prover_module.row_leaf(i, row) for i, row in enumerate(c)]
    assert tree.leaves == leaves
