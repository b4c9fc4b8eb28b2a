"""Errors as JSON: `{"error": {"code": "...", "reason": "..."}}`, with a 4xx or 5xx status."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from requests.exceptions import ConnectionError as RequestsConnectionError
from requests.exceptions import RequestException
from requests.exceptions import Timeout as RequestsTimeout
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from backend.chain.errors import ContractRevert
from backend.market.errors import MarketError, NotMaker, OrderConflict, OrderNotFound, OrderRejected

#: Seconds a client is asked to wait before trying a 503 again.
RETRY_AFTER = 5

log = logging.getLogger(__name__)


class ApiError(Exception):
    """An error a client can act on: `code` is stable and machine-readable, `reason` a sentence."""

    def __init__(self, status: int, code: str, reason: str, **details: Any):
        super().__init__(reason)
        self.status = status
        self.code = code
        self.reason = reason
        self.details = details


#: The status each kind of the market's refusals is answered with.
MARKET_STATUS: dict[type[MarketError], int] = {
    OrderRejected: 400,
    NotMaker: 403,
    OrderNotFound: 404,
    OrderConflict: 409,
}


def from_market(exc: MarketError) -> ApiError:
    """The market's refusal as the API's error: same code and reason, the status of its kind."""
    return ApiError(MARKET_STATUS[type(exc)], exc.code, exc.reason)


def not_found(what: str, key: Any) -> ApiError:
    return ApiError(404, "not_found", f"no {what} {key}")


def error_body(code: str, reason: str, **details: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "reason": reason}
    if details:
        body["details"] = details
    return {"error": body}


class ErrorDetail(BaseModel):
    code: str = Field(description="stable and machine-readable: stale_counter, nonce_used, would_revert, ...")
    reason: str = Field(description="a sentence naming the values that made it fail")
    details: dict[str, Any] | None = Field(
        None, description="more, where there is more: the contract's error and its arguments for would_revert"
    )


class ErrorBody(BaseModel):
    """Every error the API answers with, 4xx or 5xx."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                error_body(
                    "stale_counter", "order counter 0 is below the maker's counter 1 on chain: re-sign it"
                )
            ]
        }
    )

    error: ErrorDetail


Responses = dict[int | str, dict[str, Any]]


def documented(descriptions: dict[int, str]) -> Responses:
    """`responses=` for a route: each status answered with ErrorBody as JSON (whatever the route's
    own media type), its description naming the codes."""
    return {
        status: {
            "description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
        }
        for status, description in descriptions.items()
    }


#: Documented on every route: the validation error, in the shape of every other error.
ERROR_RESPONSES: Responses = {
    422: {
        "model": ErrorBody,
        "description": "a parameter or field is missing or malformed; `reason` names each",
    },
    503: {
        "model": ErrorBody,
        "description": "store_unavailable: the SQL store does not answer (restarting, unreachable); "
        "Retry-After says when to try again",
    },
}
#: Write routes (limits.write_quota).
RATE_LIMITED = documented(
    {429: "rate_limited: too many writes from this client; Retry-After says when to retry"}
)
#: Routes behind sign-in (deps.CurrentAddress).
SIGNED_IN = documented({401: "unauthorized: no bearer token, or one unknown, expired or revoked"})


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        details = {k: v for k, v in exc.details.items() if k != "retry_after"}
        headers = None
        if exc.status in (429, 503):
            headers = {"Retry-After": str(exc.details.get("retry_after", RETRY_AFTER))}
        return JSONResponse(
            error_body(exc.code, exc.reason, **details), status_code=exc.status, headers=headers
        )

    @app.exception_handler(RequestsConnectionError)
    @app.exception_handler(RequestsTimeout)
    async def _chain_down(request: Request, exc: RequestException) -> JSONResponse:
        # The chain stopped answering after the API connected to it (api/chain.py says what then).
        return await _api_error(request, request.app.state.chain.unreachable(exc))

    @app.exception_handler(OperationalError)
    async def _store_down(request: Request, exc: OperationalError) -> JSONResponse:
        # The SQL store does not answer (restarting, unreachable) or, on SQLite, stayed locked.
        log.error("%s %s: the store does not answer: %s", request.method, request.url.path, exc.orig)
        reason = "the market's SQL store does not answer; try again shortly"
        return await _api_error(request, ApiError(503, "store_unavailable", reason))

    @app.exception_handler(MarketError)
    async def _market_error(request: Request, exc: MarketError) -> JSONResponse:
        return await _api_error(request, from_market(exc))

    @app.exception_handler(ContractRevert)
    async def _revert(_: Request, exc: ContractRevert) -> JSONResponse:
        # The transaction would revert: say which custom error, with its arguments.
        return JSONResponse(error_body("would_revert", str(exc), error=type(exc).__name__), status_code=409)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [f"{'.'.join(str(p) for p in e['loc'] if p != 'body')}: {e['msg']}" for e in exc.errors()]
        return JSONResponse(error_body("invalid_request", "; ".join(problems)), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if isinstance(exc.__cause__, UnicodeDecodeError):
            # FastAPI answers a body that is not UTF-8 with a bare 400; it is as malformed as bad JSON.
            return JSONResponse(
                error_body("invalid_request", f"body: not JSON ({exc.__cause__.reason})"), status_code=422
            )
        code = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized", 413: "body_too_large"}.get(
            exc.status_code, "error"
        )
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(allowed_methods(request))
        return JSONResponse(error_body(code, str(exc.detail)), status_code=exc.status_code, headers=headers)


def allowed_methods(request: Request) -> list[str]:
    """Every method the request's path answers. Starlette's 405 names only those of the first route
    that matched the path, and a path can have several (GET and DELETE /orders/{hash})."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches(request.scope)
        if match is not Match.NONE:
            methods |= getattr(route, "methods", None) or set()
    return sorted(methods)
