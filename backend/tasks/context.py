"""What the jobs need, made once per process (after a Celery worker forks): the store, the chain's RPC
and its id, the indexer, the settlement and lending keepers. Jobs measure time by the chain's latest
block, as the contracts do."""

from __future__ import annotations

import logging
import threading
from typing import Any

from eth_account.signers.local import LocalAccount
from sqlalchemy import Engine

from backend.chain.client import Market
from backend.config import TaskSettings
from backend.db.session import begin_write, engine_from_settings, migrate
from backend.indexer.rpc import Header, Rpc
from backend.indexer.run import Indexer, IndexerError
from backend.tasks import jobs
from backend.tasks.keeper import KeeperAccountError, SettlementKeeper, find_candidates, keeper_account
from backend.tasks.lending_keeper import LendingKeeper, find_lending_candidates

log = logging.getLogger(__name__)


class TaskContext:
    def __init__(self, settings: TaskSettings, engine: Engine | None = None):
        self.settings = settings
        self._engine = engine
        self._rpc: Rpc | None = None
        self._chain_id: int | None = None
        self._indexer: Indexer | None = None
        self._market: Market | None = None
        self._keeper: SettlementKeeper | None = None
        self._lending_keeper: LendingKeeper | None = None
        self._no_keeper: str | None = None
        #: Set when the process shuts down: RPC retries of the indexer and the jobs give up at once.
        self.stopping = threading.Event()

    @property
    def engine(self) -> Engine:
        """The store, migrated once per process when settings.db_auto_migrate says so."""
        if self._engine is None:
            self._engine = engine_from_settings(self.settings)
            if self.settings.db_auto_migrate:
                migrate(self._engine)
        return self._engine

    @property
    def rpc(self) -> Rpc:
        if self._rpc is None:
            s = self.settings
            self._rpc = Rpc(
                s.rpc_url,
                timeout=s.indexer_rpc_timeout,
                retries=s.indexer_rpc_retries,
                backoff=s.indexer_backoff,
                max_backoff=s.indexer_max_backoff,
                stop=self.stopping,
            )
        return self._rpc

    @property
    def chain_id(self) -> int:
        if self._chain_id is None:
            self._chain_id = self.rpc.chain_id()
        return self._chain_id

    @property
    def market(self) -> Market:
        """The deployed contracts, for the jobs that send transactions."""
        if self._market is None:
            s = self.settings
            self._market = Market.connect(s.rpc_url, s.deployments_dir, timeout=s.tx_timeout)
        return self._market

    def chain_time(self) -> int:
        """The latest block's timestamp: what `block.timestamp` is now, for expiries and epochs."""
        return Header.from_json(self.rpc.call("eth_getBlockByNumber", ["latest", False])).timestamp

    # The jobs, each in a transaction of its own.

    def new_indexer(self) -> Indexer:
        """An indexer on this context's store, which the context has migrated already."""
        return Indexer.from_settings(
            self.settings.model_copy(update={"db_auto_migrate": False}),
            engine=self.engine,
            after_fills=jobs.update_price_index,  # each batch with fills refreshes the price index
            stop=self.stopping,
        )

    def index(self) -> dict[str, Any]:
        """One tick of a long-lived indexer: deployment, ABIs and fetch-ahead thread are set up once.
        After a failure the next tick starts from a fresh one."""
        if self._indexer is None:
            self._indexer = self.new_indexer()
        try:
            return jobs.index_once(self._indexer)
        except IndexerError:
            self._indexer.close()
            self._indexer = None
            raise

    def expire_orders(self) -> int:
        now = self.chain_time()
        with begin_write(self.engine) as conn:
            return jobs.expire_orders(conn, self.chain_id, now)

    def sla_watchdog(self) -> list[int]:
        now = self.chain_time()
        with begin_write(self.engine) as conn:
            return jobs.sla_watchdog(conn, self.chain_id, now, self.settings.sla_stale_after)

    def price_index(self) -> int:
        now = self.chain_time()
        with begin_write(self.engine) as conn:
            return jobs.update_price_index(conn, self.chain_id, now)

    def _keeper_account(self, which: str) -> LocalAccount | None:
        """The account both keepers send from; None (said once) without one."""
        if self._no_keeper is not None:
            return None
        try:
            account, where = keeper_account(self.settings, self.chain_id)
        except KeeperAccountError as exc:
            self._no_keeper = str(exc)
            log.error("keepers off: %s", exc)
            return None
        log.info("%s keeper sends from %s (%s)", which, account.address, where)
        return account

    def settle(self) -> dict[str, Any]:
        """One settlement keeper tick. Without an account to send from it does nothing, and says
        why once."""
        if self._keeper is None:
            account = self._keeper_account("settlement")
            if account is None:
                return {"disabled": self._no_keeper}
            s = self.settings
            self._keeper = SettlementKeeper(
                self.market, account, max_calls=s.keeper_max_calls, holders_per_call=s.keeper_holders_per_call
            )
        now = self.chain_time()
        with self.engine.connect() as conn:
            found = find_candidates(conn, self.chain_id, now, self.settings.keeper_max_calls)
        decisions = self._keeper.tick(found, now)
        counts = {o: sum(d.outcome == o for d in decisions) for o in ("settled", "skipped", "failed")}
        return {**counts, "decisions": [d.as_dict() for d in decisions]}

    def lend_keep(self) -> dict[str, Any]:
        """One lending keeper tick: expired collateral, liquidations, bad debt. Without an account to
        send from it does nothing, and says why once."""
        s = self.settings
        if self._lending_keeper is None:
            account = self._keeper_account("lending")
            if account is None:
                return {"disabled": self._no_keeper}
            self._lending_keeper = LendingKeeper(
                self.market,
                account,
                min_profit=s.lending_keeper_min_profit,
                max_calls=s.lending_keeper_max_calls,
                borrowers_per_call=s.lending_keeper_borrowers_per_call,
            )
        now = self.chain_time()
        with self.engine.connect() as conn:
            found = find_lending_candidates(conn, self.chain_id, now, s.lending_keeper_max_calls)
        decisions = self._lending_keeper.tick(found, now)
        counts = {o: sum(d.outcome == o for d in decisions) for o in ("sent", "skipped", "failed")}
        return {**counts, "decisions": [d.as_dict() for d in decisions]}
