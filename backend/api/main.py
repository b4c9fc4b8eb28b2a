"""The FastAPI application: `create_app()` wires settings, the SQL store and the chain into the routes."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import Depends, FastAPI
from sqlalchemy import Engine

from backend.api import docs, errors, metrics, openapi, web
from backend.api.admission import Admission, pool_size
from backend.api.cache import ReadCache
from backend.api.chain import ChainLink
from backend.api.limits import BodyLimit, WriteQuota
from backend.api.routes import ROUTERS
from backend.api.strict import known_query_only
from backend.chain.client import Market
from backend.config import ApiSettings, cached_settings
from backend.db.session import engine_from_settings, migrate

DESCRIPTION = """\
The gpuhours market: GPU-hours of registered nodes, sold as ERC-1155 tokens through EIP-712 orders.

Every number here comes from chain events indexed into the SQL store. Providers sign in with
Ethereum (EIP-4361) and post signed orders; wallets ask for unsigned transactions and sign them
themselves: the API never holds a user's key. Errors are JSON: `{"error": {"code", "reason"}}`.

Money is an integer in the stablecoin's smallest unit (USDC: 6 decimals, `2200000` is $2.20), prices
are per GPU-hour, times are Unix seconds; `GET /market` states the deployed stablecoin's decimals.

Market reads (`/capacities`, `/orders`, `/nodes`, `/prices`) carry an `ETag` (send it back in
`If-None-Match` for a 304 until something changed), `X-Indexed-Head` (the indexed block the answer is
as of) and `X-Indexed-Head-Age` (seconds since that block). A 503 (`store_unavailable`,
`chain_unreachable`) carries `Retry-After`.
"""


def create_app(
    settings: ApiSettings | None = None,
    *,
    engine: Engine | None = None,
    market: Market | None = None,
    role: str = "api",
) -> FastAPI:
    settings = settings or cached_settings(ApiSettings)
    engine = engine or engine_from_settings(settings, connections=pool_size(settings.api_db_concurrency))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # As many worker threads as connections (admission.py): every admitted request gets both.
        anyio.to_thread.current_default_thread_limiter().total_tokens = pool_size(settings.api_db_concurrency)
        if settings.db_auto_migrate:
            migrate(engine)
        yield

    app = FastAPI(
        title="gpuhours",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        responses=errors.ERROR_RESPONSES,
        dependencies=[Depends(known_query_only)],
        docs_url=None,  # docs.py serves it from local files
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.role = role  # shown by /health
    app.state.write_quota = WriteQuota(settings.api_write_rate, settings.api_write_burst)
    app.state.chain = ChainLink(settings, market, engine)
    app.state.event_feeds = {}  # chain id -> the process's one reader of new events (event_feed.py)
    errors.install(app)
    openapi.install(app, settings.api_page_max)
    docs.install(app)
    app.add_middleware(Admission, limit=settings.api_db_concurrency)  # waiting counts in the latency
    # Outside admission: a hit replays from memory without waiting for a slot; a miss is admitted.
    app.add_middleware(ReadCache, engine=engine)  # inside the metrics, which count its hits too
    app.add_middleware(BodyLimit, limit=settings.api_max_body)  # before a body takes a slot
    metrics.install(app)
    for router in ROUTERS:
        app.include_router(router)
    web.install(app)  # the web page at /, when it is built (after the routers: it takes only / and /assets)
    return app


#: What `gpuhours serve --workers N` hands its workers beside the process's own GPUHOURS_* settings.
ROLE_VARIABLE = "GPUHOURS_SERVE_ROLE"


def worker_environment(host: str, port: int, role: str) -> dict[str, str]:
    """The environment of a worker of `gpuhours serve --workers N`: where it is served (sign-in follows
    it), its role, and no migration (the command ran it once before starting any)."""
    return {
        "GPUHOURS_API_HOST": host,
        "GPUHOURS_API_PORT": str(port),
        "GPUHOURS_DB_AUTO_MIGRATE": "false",
        ROLE_VARIABLE: role,
    }


def worker_app() -> FastAPI:
    """The app of one worker of `gpuhours serve --workers N` (uvicorn's factory), from its environment."""
    return create_app(role=os.environ.get(ROLE_VARIABLE, "api"))
