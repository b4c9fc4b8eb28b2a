"""Request bodies are capped: a body over `api_max_body` bytes is refused with 413 before it is parsed.

A declared Content-Length over the cap is answered at once, nothing read; a body without one (chunked)
is counted as it arrives and refused as soon as it passes the cap, so no client can make the process
hold more than the cap of one request's body.
"""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from backend.api.errors import error_body

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
