"""The jobs on the embedded default (a SQLite file) while other connections write: each transaction
reads, then writes, so it must wait for the other writers rather than fail with "database is locked"."""

from __future__ import annotations

import threading
from collections import Counter

from backend.db.session import make_engine, migrate
from backend.tasks.context import TaskContext
from tests.backend.conftest import indexer_settings


def test_jobs_wait_for_each_other_on_a_sqlite_file(market, chain, deployments_dir, tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path}/store.db")
    migrate(engine)
    settings = indexer_settings(engine, rpc_url=chain.url, deployments_dir=deployments_dir)
    contexts = [TaskContext(settings, engine) for _ in range(4)]
    failures: Counter[str] = Counter()
    done = 0
    start = threading.Barrier(len(contexts))
    lock = threading.Lock()

    def work(context: TaskContext) -> None:
        nonlocal done
        context.chain_time()  # the RPC connection is made before the race starts
        start.wait()
        for _ in range(40):
            for job in (context.sla_watchdog, context.price_index, context.expire_orders):
                try:
                    job()
                except Exception as exc:  # noqa: BLE001 — counted, reported below
                    with lock:
                        failures[f"{job.__name__}: {str(exc).splitlines()[0]}"] += 1
                else:
                    with lock:
                        done += 1

    threads = [threading.Thread(target=work, args=(c,)) for c in contexts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    engine.dispose()
    assert not failures, dict(failures)
    assert done == 4 * 40 * 3
