"""The API's link to the chain: the deployed contracts, connected on first use and kept."""

from __future__ import annotations

import threading

from requests.exceptions import RequestException
from web3.exceptions import Web3Exception

from backend.api.errors import ApiError
from backend.chain import deployments
from backend.chain.client import Market
from backend.config import ApiSettings


class ChainLink:
    """Connects to settings.rpc_url and loads the deployment on first use; a chain that does not answer
    is a 503 for the request that needed it, and is tried again by the next one."""

    def __init__(self, settings: ApiSettings, market: Market | None = None):
        self._settings = settings
        self._market = market
        self._lock = threading.Lock()

    @property
    def market(self) -> Market:
        if self._market is None:
            with self._lock:
                if self._market is None:
                    self._market = self._connect()
        return self._market

    @property
    def chain_id(self) -> int:
        return self.market.chain_id

    def _connect(self) -> Market:
        try:
            return Market.connect(
                self._settings.rpc_url, self._settings.deployments_dir, timeout=self._settings.tx_timeout
            )
        except deployments.DeploymentError as exc:
            raise ApiError(503, "no_deployment", str(exc)) from None
        except (RequestException, Web3Exception, OSError) as exc:
            raise ApiError(
                503, "chain_unreachable", f"the chain at {self._settings.rpc_url} does not answer: {exc}"
            ) from None
