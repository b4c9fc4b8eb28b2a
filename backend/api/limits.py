"""Limits against abuse: bodies capped, writes rate-limited per client.

Request bodies are capped: a body over `api_max_body` bytes is refused with 413 before it is parsed.

A declared Content-Length over the cap is answered at once, nothing read; a body without one (chunked)
is counted as it arrives and refused as soon as it passes the cap, so no client can make the process
hold more than the cap of one request's body.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from backend.api.errors import ApiError, error_body

CODE = "body_too_large"


def reason(limit: int) -> str:
    return f"the request body is larger than {limit} bytes"


class BodyLimit:
    """Plain ASGI middleware (see the module docstring)."""

    def __init__(self, app: Any, limit: int):
        self.app = app
        self.limit = limit

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await JSONResponse(error_body(CODE, reason(self.limit)), status_code=413)(scope, receive, send)
            return
        received = 0

        async def counted() -> dict[str, Any]:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.limit:
                # Raised inside the route's body parsing, which lets HTTPException through as it is.
                raise HTTPException(413, reason(self.limit))
            return message

        await self.app(scope, counted, send)


class WriteQuota:
    """Writes (posting orders, signing in) per client: a token bucket of `burst` writes refilled at
    `rate` a second, per client address, in this process; past it a 429 with Retry-After. At most
    MAX_CLIENTS buckets are kept (the least recently used go first, full again when they return)."""

    MAX_CLIENTS = 100_000

    def __init__(self, rate: float, burst: int):
        self.rate, self.burst = rate, burst
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # client -> (tokens, at)
        self._lock = threading.Lock()

    def take(self, client: str) -> None:
        now = time.monotonic()
        with self._lock:
            tokens, at = self._buckets.pop(client, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - at) * self.rate)
            if tokens < 1.0:
                self._buckets[client] = (tokens, now)
                wait = math.ceil((1.0 - tokens) / self.rate)
                raise ApiError(
                    429,
                    "rate_limited",
                    f"more than {self.burst} writes at once or {self.rate:g} a second from {client}: "
                    f"try again in {wait} s",
                    retry_after=wait,
                )
            self._buckets[client] = (tokens - 1.0, now)
            if len(self._buckets) > self.MAX_CLIENTS:
                self._buckets.popitem(last=False)


def write_quota(request: Request) -> None:
    """The dependency of every write route: one token of the client's bucket."""
    client = request.client.host if request.client else "unknown"
    request.app.state.write_quota.take(client)
