"""The oracle node's HTTP client for one agent. Every failure is one of two exceptions, never a crash."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import numpy as np

from oracle.protocol.challenge import RevealedRows, RunResult
from oracle.protocol.freivalds import DTYPES
from oracle.protocol.sample import GpuInfo, GpuSample, SampleError


class AgentError(Exception):
    """Base of what can go wrong talking to an agent."""


class AgentUnreachable(AgentError):
    """No answer: connection refused, timeout, or a 5xx."""


class AgentProtocolError(AgentError):
    """An answer that is not what the protocol says: wrong status, shape or encoding."""


@dataclass(frozen=True)
class AgentStatus:
    gpus: list[GpuInfo]
    max_challenge_n: int | None


class AgentClient:
    def __init__(self, url: str, timeout: float = 30.0, client: httpx.Client | None = None) -> None:
        self.url = url.rstrip("/")
        self._http = client or httpx.Client(timeout=timeout)

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, self.url + path, **kwargs)
        except httpx.HTTPError as exc:
            raise AgentUnreachable(f"{self.url}{path}: {type(exc).__name__}: {exc}") from None
        if response.status_code >= 500:
            raise AgentUnreachable(f"{self.url}{path}: HTTP {response.status_code}")
        if response.status_code != 200:
            try:
                detail = response.json().get("detail")
            except ValueError:
                detail = response.text[:200]
            raise AgentProtocolError(f"{self.url}{path}: HTTP {response.status_code}: {detail}")
        try:
            return response.json()
        except ValueError:
            raise AgentProtocolError(f"{self.url}{path}: the answer is not JSON") from None

    def health(self) -> dict[str, Any]:
        return self._call("GET", "/health")

    def status(self) -> AgentStatus:
        """The agent's GPUs and the largest challenge it accepts (None from an agent that does not say)."""
        health = self.health()
        try:
            gpus = [GpuInfo(**g) for g in health["gpus"]]
        except (KeyError, TypeError, ValueError) as exc:
            raise AgentProtocolError(f"{self.url}/health: no GPU list ({exc})") from None
        max_n = health.get("max_challenge_n")
        return AgentStatus(gpus, max_n if isinstance(max_n, int) and max_n > 0 else None)

    def samples(self, since: float, until: float) -> tuple[list[GpuSample], list[SampleError]]:
        """Samples with since <= timestamp < until; malformed ones come back as errors, not exceptions."""
        return self._parse(self._call("GET", "/samples", params={"since": since, "until": until}), "/samples")

    def hour_samples(self, epoch: int) -> tuple[list[GpuSample], list[SampleError]]:
        """The agent's sealed samples of an ended hour (the same set every oracle gets); an hour not
        sealed yet is an AgentProtocolError (HTTP 425) like any other answer to ask again."""
        path = f"/hours/{epoch}/samples"
        return self._parse(self._call("GET", path), path)

    def _parse(self, body: Any, path: str) -> tuple[list[GpuSample], list[SampleError]]:
        raw = body.get("samples") if isinstance(body, dict) else None
        if not isinstance(raw, list):
            raise AgentProtocolError(f"{self.url}{path}: no sample list")
        samples, errors = [], []
        for item in raw:
            try:
                if not isinstance(item, dict):
                    raise SampleError("?", f"not an object: {item!r:.80}")
                samples.append(GpuSample.build(**item))
            except SampleError as exc:
                errors.append(exc)
        return samples, errors

    def prepare(self, seed: int, n: int, dtype: str, gpu: int = 0) -> str:
        body = self._call("POST", "/challenge", json={"seed": seed, "n": n, "dtype": dtype, "gpu": gpu})
        if not isinstance(body, dict) or not isinstance(body.get("id"), str):
            raise AgentProtocolError(f"{self.url}/challenge: no challenge id")
        return body["id"]

    def run(self, challenge_id: str, salt: int) -> RunResult:
        body = self._call("POST", f"/challenge/{challenge_id}/run", json={"salt": salt})
        try:
            return RunResult(
                challenge_id=challenge_id,
                n=int(body["n"]),
                dtype=str(body["dtype"]),
                backend=str(body["backend"]),
                device=str(body["device"]),
                gpu_uuid=body.get("gpu_uuid"),
                compute_seconds=float(body["compute_seconds"]),
                energy_mj_before=_opt_int(body.get("energy_mj_before")),
                energy_mj_after=_opt_int(body.get("energy_mj_after")),
                commitment=_bytes32(body["commitment"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise AgentProtocolError(f"{self.url}/challenge/…/run: malformed answer ({exc})") from None

    def reveal(self, challenge_id: str, rows: Sequence[int], n: int, dtype: str) -> RevealedRows:
        body = self._call("POST", f"/challenge/{challenge_id}/reveal", json={"rows": list(rows)})
        try:
            data = np.frombuffer(
                base64.b64decode(body["data"], validate=True), dtype=np.dtype(DTYPES[dtype]).newbyteorder("<")
            )
            data = data.reshape(len(rows), n).astype(DTYPES[dtype])
            proofs = [[_bytes32(h) for h in proof] for proof in body["proofs"]]
            if [int(i) for i in body["rows"]] != list(rows) or len(proofs) != len(rows):
                raise ValueError("rows or proofs do not match the request")
        except (KeyError, TypeError, ValueError) as exc:
            raise AgentProtocolError(f"{self.url}/challenge/…/reveal: malformed answer ({exc})") from None
        return RevealedRows(list(rows), data, proofs)

    def close(self) -> None:
        self._http.close()


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _bytes32(value: Any) -> bytes:
    raw = bytes.fromhex(str(value).removeprefix("0x"))
    if len(raw) != 32:
        raise ValueError(f"expected 32 bytes, got {len(raw)}")
    return raw
