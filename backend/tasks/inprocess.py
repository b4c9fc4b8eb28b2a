"""The tasks without Redis: the indexer follows the head in one thread, and the periodic jobs run on
their intervals in another. A job that fails is logged and tried again at its next turn."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from backend.indexer.run import IndexerError
from backend.tasks.context import TaskContext

log = logging.getLogger(__name__)


class InProcessTasks:
    def __init__(self, context: TaskContext, start_over: bool = False):
        """`start_over`: the indexer first drops what the store holds of this chain (a new dev chain)."""
        self.context = context
        self.start_over = start_over
        self._stop = context.stopping  # also ends the RPC retries the indexer and the jobs are waiting out
        self._threads: list[threading.Thread] = []
        settings = context.settings
        self.jobs: list[tuple[str, float, Callable[[], Any]]] = [
            ("expire_orders", settings.task_expire_interval, context.expire_orders),
            ("sla_watchdog", settings.task_watchdog_interval, context.sla_watchdog),
            ("price_index", settings.task_price_interval, context.price_index),
        ]
        if settings.keeper_enabled:
            self.jobs.append(("settle", settings.task_keeper_interval, context.settle))
        if settings.lending_keeper_enabled:
            self.jobs.append(("lend_keep", settings.task_lending_keeper_interval, context.lend_keep))

    def start(self) -> InProcessTasks:
        for name, target in (("indexer", self._index), ("jobs", self._periodic)):
            thread = threading.Thread(target=target, name=f"gpuhours-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)

    def _index(self) -> None:
        settings = self.context.settings
        while not self._stop.is_set():
            try:
                indexer = self.context.new_indexer()
            except IndexerError as exc:
                if self._stop.is_set():
                    break
                log.error("indexer cannot start: %s; trying again", exc)
                self._stop.wait(max(settings.indexer_poll_interval, 5.0))
                continue
            start_over, self.start_over = self.start_over, False  # once, not on every restart
            try:
                indexer.run(wait_for_lock=True, stop=self._stop, start_over=start_over)
            except IndexerError as exc:
                if self._stop.is_set():
                    break
                log.error("indexer stopped: %s; restarting", exc)
                self._stop.wait(settings.indexer_poll_interval)
            finally:
                indexer.close()

    def _periodic(self) -> None:
        due = {name: 0.0 for name, _, _ in self.jobs}
        while not self._stop.is_set():
            now = time.monotonic()
            for name, every, job in self.jobs:
                if now >= due[name]:
                    due[name] = now + every
                    try:
                        job()
                    except Exception:  # a failed job must not stop the others
                        if self._stop.is_set():
                            return  # failed because it was told to stop
                        log.exception("task %s failed; it runs again in %.0f s", name, every)
            self._stop.wait(max(0.0, min(due.values()) - time.monotonic()))
