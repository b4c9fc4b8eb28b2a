"""The agent's HTTP API, served to oracle nodes: samples every GPU at 1 Hz and answers challenges.

GET  /health                     the source, its GPUs, and counts of errors and outages
GET  /samples?since=&until=      buffered samples with since <= timestamp < until
GET  /hours/{epoch}/samples      an ended hour's sealed samples, the same bytes to every oracle;
                                 425 while it is not sealed, 404 when it is not kept
POST /challenge                  {seed, n, dtype, gpu} -> {id}: derive A and B, load them
POST /challenge/{id}/run         {salt} -> commitment and timing of C = A·diag(s)·B
POST /challenge/{id}/reveal      {rows} -> those rows of C with their Merkle proofs

Sampling runs in a background thread (oracle/agent/sampling.py), which also seals each hour once it
has ended (oracle/agent/sealing.py).
"""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, HTTPException, Path, Query, Response
from pydantic import BaseModel, Field

from oracle.agent.prover import Prover, UnknownChallenge
from oracle.agent.sampling import SampleBuffer, Sampler
from oracle.agent.sealing import NotKept, NotSealed, SealedHours
from oracle.agent.telemetry.source import TelemetrySource
from oracle.protocol.freivalds import DEFAULT_DTYPE, DTYPES, ChallengeError
from oracle.protocol.sample import GpuInfo

log = logging.getLogger(__name__)


class PrepareBody(BaseModel):
    seed: int = Field(ge=0, lt=2**256)
    n: int = Field(ge=1)
    dtype: str = DEFAULT_DTYPE
    gpu: int = Field(0, ge=0)


class RunBody(BaseModel):
    salt: int = Field(ge=0, lt=2**256)


class RevealBody(BaseModel):
    rows: list[int] = Field(min_length=1, max_length=4096)


def create_agent_app(
    source: TelemetrySource,
    prover: Prover,
    *,
    interval: float = 1.0,
    buffer_seconds: int = 7200,
    backfill: int = 0,
    clock: Callable[[], float] = time.time,
    sample: bool = True,
    seal_after: float = 5.0,
) -> FastAPI:
    """The agent's HTTP app. Sampling starts and stops with the app (its lifespan)."""
    gpus: list[GpuInfo] = source.gpus()
    buffer = SampleBuffer(capacity=max(1, len(gpus)) * int(buffer_seconds / interval))
    started = clock()
    sealed = SealedHours(
        buffer, history_since=started - backfill, keep=buffer_seconds // 3600, settle=seal_after, clock=clock
    )
    sampler = Sampler(source, buffer, interval, clock, on_tick=sealed.seal_ended)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if backfill:
            sampler.backfill(backfill)
        if sample:
            sampler.start()
        try:
            yield
        finally:
            sampler.stop()
            source.close()

    app = FastAPI(title="gpuhours oracle agent", lifespan=lifespan)
    app.state.sampler = sampler
    app.state.buffer = buffer

    @app.get("/health")
    def health() -> dict:
        return {
            "source": source.name,
            "gpus": [g.model_dump() for g in gpus],
            "started_at": started,
            "now": clock(),
            "samples_buffered": len(buffer),
            "reads": sampler.reads,
            "sample_errors": sampler.sample_errors,
            "outages": sampler.outages,
            "backend": prover.backend.name,
            "device": prover.backend.device,
            "max_challenge_n": prover.max_n,
        }

    @app.get("/samples")
    def samples(since: float = Query(..., ge=0), until: float = Query(..., ge=0)) -> dict:
        if until <= since:
            raise HTTPException(400, "until must be after since")
        if until - since > buffer_seconds + 3600:
            raise HTTPException(400, f"ask for at most {buffer_seconds + 3600} seconds at once")
        return {"now": clock(), "samples": [s.model_dump() for s in buffer.between(since, until)]}

    @app.get("/hours/{epoch}/samples")
    def hour_samples(epoch: int = Path(ge=0, lt=2**40)) -> Response:
        try:
            body = sealed.get(epoch)
        except NotSealed as exc:
            raise HTTPException(425, str(exc)) from None
        except NotKept as exc:
            raise HTTPException(404, str(exc)) from None
        return Response(body, media_type="application/json")

    @app.post("/challenge")
    def prepare(body: PrepareBody) -> dict:
        if body.dtype not in DTYPES:
            raise HTTPException(400, f"dtype must be one of {', '.join(DTYPES)}")
        try:
            return {"id": prover.prepare(body.seed, body.n, body.dtype, body.gpu)}
        except ChallengeError as exc:
            raise HTTPException(400, str(exc)) from None

    @app.post("/challenge/{challenge_id}/run")
    def run(challenge_id: str, body: RunBody) -> dict:
        try:
            result = prover.run(challenge_id, body.salt)
        except UnknownChallenge as exc:
            raise HTTPException(404, str(exc)) from None
        except ChallengeError as exc:
            raise HTTPException(409, str(exc)) from None
        return {
            "n": result.n,
            "dtype": result.dtype,
            "backend": result.backend,
            "device": result.device,
            "gpu_uuid": result.gpu_uuid,
            "compute_seconds": result.compute_seconds,
            "energy_mj_before": result.energy_mj_before,
            "energy_mj_after": result.energy_mj_after,
            "commitment": "0x" + result.commitment.hex(),
        }

    @app.post("/challenge/{challenge_id}/reveal")
    def reveal(challenge_id: str, body: RevealBody) -> dict:
        try:
            revealed = prover.reveal(challenge_id, body.rows)
        except UnknownChallenge as exc:
            raise HTTPException(404, str(exc)) from None
        except ChallengeError as exc:
            raise HTTPException(400, str(exc)) from None
        data = revealed.data.astype(revealed.data.dtype.newbyteorder("<"), copy=False).tobytes()
        return {
            "rows": revealed.rows,
            "data": base64.b64encode(data).decode(),
            "proofs": [["0x" + h.hex() for h in proof] for proof in revealed.proofs],
        }

    return app
