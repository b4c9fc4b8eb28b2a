"""Liveness and readiness for load balancers and orchestrators."""

from __future__ import annotations

import time
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import select, text

from backend.api.deps import ChainDep, EngineDep
from backend.api.errors import ApiError
from backend.db.models import Checkpoint, table_of

router = APIRouter(tags=["ops"])


class Health(BaseModel):
    status: Literal["ok", "degraded"] = Field(
        description="degraded: the chain does not answer; reads are served from the store, "
        "transactions are 503 until it does"
    )
    role: str = Field(description="what this process does: api, or api+tasks (indexer and jobs in-process)")
    chain: str = Field(description="ok, or what the last call to the chain met and for how long")


@router.get("/health", summary="The process answers, its role, and whether the chain does")
def health(request: Request, chain: ChainDep) -> Health:
    role = request.app.state.role
    outage = chain.outage()
    if outage is None:
        return Health(status="ok", role=role, chain="ok")
    what, since = outage
    return Health(
        status="degraded", role=role, chain=f"unreachable for {time.monotonic() - since:.0f} s: {what}"
    )


@router.get(
    "/ready",
    summary="The database and the chain answer; how far the indexer is behind",
    responses={503: {"description": "a dependency is down; `checks` says which"}},
)
def ready(engine: EngineDep, chain: ChainDep) -> JSONResponse:
    checks: dict[str, Any] = {}
    ok = True
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            cp = table_of(Checkpoint)
            row = conn.execute(select(cp.c.block_number).where(cp.c.chain_id == chain.chain_id)).first()
        checks["database"] = "ok"
    except ApiError as exc:
        row, ok = None, False
        checks["database"] = "ok"
        checks["chain"] = exc.reason
    except Exception as exc:  # noqa: BLE001 — any database failure makes the process unready
        row, ok = None, False
        checks["database"] = f"unreachable: {type(exc).__name__}"
    if "chain" not in checks:
        try:
            head = chain.market.w3.eth.block_number
            checks["chain"] = "ok"
            checks["head"] = head
            checks["indexed"] = row[0] if row else None
            checks["lag_blocks"] = head - row[0] if row else None
        except Exception as exc:  # noqa: BLE001 — any RPC failure makes the process unready
            ok = False
            checks["chain"] = f"unreachable: {type(exc).__name__}"
    return JSONResponse(
        {"status": "ready" if ok else "unready", "checks": checks}, status_code=200 if ok else 503
    )
