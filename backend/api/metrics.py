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
from starlette.routing import BaseRoute, Match, Mount

from backend.db.models import Checkpoint, table_of


def _route_label(route: Any, arrived: dict[str, Any], routes: list[BaseRoute]) -> str:
    """The template of the route that served a request: FastAPI's routes name themselves in the scope
    (`route`); Starlette's own (FastAPI's /docs and /openapi.json, a mounted folder) are found by matching
    the request as it arrived. A path no route serves is "unmatched"."""
    if route is not None:
        return str(route.path)
    for candidate in routes:
        if candidate.matches(arrived)[0] is Match.FULL:
            if isinstance(candidate, Mount):
                return candidate.path_format  # /assets/{path}: one series for all of its files
            return str(getattr(candidate, "path", "unmatched"))
    return "unmatched"


class _Instrument:
    """Plain ASGI middleware (cheaper than BaseHTTPMiddleware): counts and times each request by its
    route template, so /capacities/1 and /capacities/2 are one series."""

    def __init__(self, app: Any, requests: Counter, latency: Histogram, routes: list[BaseRoute]):
        self.app = app
        self.requests = requests
        self.latency = latency
        self.routes = routes

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        started = time.perf_counter()
        arrived = dict(scope)  # routing rewrites the scope (a mount's root_path, path_params)

        async def send_status(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = _route_label(scope.get("route"), arrived, self.routes)
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
    app.add_middleware(_Instrument, requests=requests, latency=latency, routes=app.router.routes)

    @app.get("/metrics", tags=["ops"], include_in_schema=False)
    def metrics(request: Request) -> Response:
        cp = table_of(Checkpoint)
        with request.app.state.engine.connect() as conn:
            for chain_id, block in conn.execute(select(cp.c.chain_id, cp.c.block_number)):
                checkpoint.labels(str(chain_id)).set(block)
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
