"""The API's link to the chain: the deployed contracts, connected on first use and kept.

When the chain does not answer, the API degrades rather than stops: reads of the index are served from
the store (the chain id is the one the store indexes), what needs the chain (building a transaction,
checking an order against it) is a 503 with Retry-After, and `/health` says `degraded` until a call
to the chain succeeds again. `/health` asks the chain itself (one `eth_blockNumber`, a short timeout, at
most once a PROBE_INTERVAL per process), so every API process says the same whichever served the
failed call, and a hanging RPC cannot hang the health check.
"""

from __future__ import annotations

import threading
import time

import requests
from requests.exceptions import RequestException
from sqlalchemy import Engine, select
from web3.exceptions import Web3Exception

from backend.api.errors import ApiError
from backend.chain import deployments
from backend.chain.client import Market
from backend.config import ApiSettings
from backend.db.models import Checkpoint, table_of

cp = table_of(Checkpoint)

PROBE_INTERVAL = 1.0  # seconds between /health's own calls to the chain
PROBE_TIMEOUT = 2.0  # seconds /health waits for the chain's answer


class ChainLink:
    """Connects to settings.rpc_url and loads the deployment on first use; a chain that does not answer
    is a 503 for the request that needed it, and is tried again by the next one."""

    def __init__(self, settings: ApiSettings, market: Market | None = None, engine: Engine | None = None):
        self._settings = settings
        self._market = market
        self._engine = engine
        self._lock = threading.Lock()
        #: Why the last call to the chain failed and since when (monotonic); None while it answers.
        self.down: tuple[str, float] | None = None
        self._probed = -PROBE_INTERVAL  # monotonic time of /health's last call to the chain

    @property
    def market(self) -> Market:
        if self._market is None:
            with self._lock:
                if self._market is None:
                    self._market = self._connect()
        return self._market

    @property
    def chain_id(self) -> int:
        """The chain's id; while it does not answer, the one chain the store indexes (if just one)."""
        try:
            return self.market.chain_id
        except ApiError as exc:
            indexed = self._indexed_chains()
            if exc.code != "chain_unreachable" or len(indexed) != 1:
                raise
            return indexed[0]

    def unreachable(self, exc: Exception) -> ApiError:
        """The 503 for a call that did not reach the chain; remembered for /health."""
        if self.down is None:
            self.down = (f"{type(exc).__name__}", time.monotonic())
        return ApiError(
            503, "chain_unreachable", f"the chain at {self._settings.rpc_url} does not answer: {exc}"
        )

    def outage(self) -> tuple[str, float] | None:
        """What the chain's last call met and since when, or None if it answers: the chain is asked
        (see the module docstring) unless it was asked less than PROBE_INTERVAL ago."""
        now = time.monotonic()
        if now - self._probed < PROBE_INTERVAL:
            return self.down
        self._probed = now
        call = {"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []}
        try:
            answer = requests.post(self._settings.rpc_url, json=call, timeout=PROBE_TIMEOUT)
            answer.raise_for_status()
            if "result" not in answer.json():
                raise RequestException(f"no result: {answer.text[:100]}")
        except (RequestException, ValueError, OSError) as exc:
            self.unreachable(exc)
            return self.down
        self.down = None
        return None

    def _indexed_chains(self) -> list[int]:
        if self._engine is None:
            return []
        with self._engine.connect() as conn:
            return list(conn.execute(select(cp.c.chain_id)).scalars())

    def _connect(self) -> Market:
        try:
            market = Market.connect(
                self._settings.rpc_url, self._settings.deployments_dir, timeout=self._settings.tx_timeout
            )
        except deployments.DeploymentError as exc:
            raise ApiError(503, "no_deployment", str(exc)) from None
        except (RequestException, Web3Exception, OSError) as exc:
            raise self.unreachable(exc) from None
        self.down = None
        return market
