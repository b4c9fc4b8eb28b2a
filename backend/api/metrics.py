"""Prometheus metrics at GET /metrics: requests by route and status, latency, and the indexer's
position, each app with a registry of its own."""

from __future__ import annotations

import time
from typing import Any

from fastapi import FastAPI, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from sqlalchemy import select

from backend.db.models import Checkpoint, table_of


class _Instrument:
    """Plain ASGI middleware (cheaper than BaseHTTPMiddleware): counts and times each request by its
    route template, so /capacities/1 and /capacities/2 are one series."""

    def __init__(self, app: Any, requests: Counter, latency: Histogram):
        self.app = app
        self.requests = requests
        self.latency = latency

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        started = time.perf_counter()

        async def send_status(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")  # the router sets it on a match
            self.requests.labels(scope["method"], route, str(status)).inc()
            self.latency.labels(scope["method"], route).observe(time.perf_counter() - started)


def install(app: FastAPI) -> None:
    registry = CollectorRegistry()
    requests = Counter(
        "gpuhours_http_requests", "HTTP requests served", ["method", "route", "status"], registry=registry
    )
    latency = Histogram(
        "gpuhours_http_request_seconds", "HTTP request latency", ["method", "route"], registry=registry
    )
    checkpoint = Gauge(
        "gpuhours_indexer_checkpoint_block", "last block indexed", ["chain_id"], registry=registry
    )
    app.add_middleware(_Instrument, requests=requests, latency=latency)

    @app.get("/metrics", tags=["ops"], include_in_schema=False)
    def metrics(request: Request) -> Response:
        cp = table_of(Checkpoint)
        with request.app.state.engine.connect() as conn:
            for chain_id, block in conn.execute(select(cp.c.chain_id, cp.c.block_number)):
                checkpoint.labels(str(chain_id)).set(block)
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
