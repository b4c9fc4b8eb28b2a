"""An indexer that dies mid-batch (an exception from a hook, or SIGKILL of the process) and is started
again leaves no gap and no duplicate: the store equals a fresh index."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from backend.chain.deployments import REPO_ROOT
from backend.db.models import Checkpoint, RawEvent
from tests.backend.conftest import assert_same_store, chain_logs, index_all, new_indexer, store_url
from tests.backend.market_round import play_round


class Crash(Exception):
    pass


def _chain_logs(market) -> set[tuple[str, int]]:
    return {(lg["blockHash"], int(lg["logIndex"], 16)) for lg in chain_logs(market)}


def _stored(engine) -> tuple[list[tuple[str, int]], int]:
    with engine.connect() as conn:
        keys = [tuple(r) for r in conn.execute(select(RawEvent.block_hash, RawEvent.log_index))]
        checkpoint = conn.execute(select(Checkpoint.block_number)).scalar_one()
    return keys, checkpoint


def test_killed_mid_batch_resumes_without_gap_or_duplicate(market, make_store, chain, deployments_dir):
    play_round(market)
    engine = make_store()
    seen: list[int] = []
    batches = {"n": 0}

    def die_in_the_third_batch(event, i):
        seen.append(event.log.block_number)
        if i == 0:
            batches["n"] += 1
        if batches["n"] >= 3 and i == 2:  # the first batch from the third on with three events
            raise Crash("killed in the middle of a batch")

    indexer = new_indexer(
        engine,
        chain,
        deployments_dir,
        hook=die_in_the_third_batch,
        indexer_batch_blocks=6,
        indexer_max_batch_blocks=6,
    )
    indexer.initialize()
    with pytest.raises(Crash):
        indexer.sync()
    indexer.close()
    keys, checkpoint = _stored(engine)
    assert keys and len(keys) == len(set(keys))
    with engine.connect() as conn:  # only whole batches up to the checkpoint are there
        above = select(func.count()).select_from(RawEvent).where(RawEvent.block_number > checkpoint)
        assert conn.execute(above).scalar() == 0
    assert max(seen) > checkpoint  # the crash hit events past the checkpoint, which were not kept

    again = new_indexer(engine, chain, deployments_dir, indexer_batch_blocks=6, indexer_max_batch_blocks=6)
    again.initialize()
    again.sync()
    again.close()
    keys, _ = _stored(engine)
    assert len(keys) == len(set(keys)) and set(keys) == _chain_logs(market)
    fresh = make_store()
    index_all(fresh, chain, deployments_dir)
    assert_same_store(engine, fresh)


def test_sigkill_and_restart(market, make_store, chain, deployments_dir, tmp_path):
    play_round(market)
    engine = make_store()
    env = {
        **os.environ,
        "GPUHOURS_DB_URL": store_url(engine),
        "GPUHOURS_DEPLOYMENTS_DIR": str(deployments_dir),
        "GPUHOURS_INDEXER_BATCH_BLOCKS": "1",
        "GPUHOURS_INDEXER_MAX_BATCH_BLOCKS": "1",
        "GPUHOURS_INDEXER_LOCK_TTL": "1",
        "GPUHOURS_REDIS_URL": "",
    }
    exe = str(Path(sys.executable).with_name("gpuhours"))
    log = tmp_path / "index.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [exe, "index", "--rpc-url", chain.url],
            cwd=REPO_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and log.read_text().count("blocks ") < 5:
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    keys, _ = _stored(engine)
    assert 0 < len(keys) < len(_chain_logs(market)), log.read_text()

    # The killed writer's lock row expires after its TTL (the advisory lock died with its connection).
    time.sleep(1.1)
    done = subprocess.run(
        [exe, "index", "--once", "--rpc-url", chain.url],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    keys, _ = _stored(engine)
    assert len(keys) == len(set(keys)) and set(keys) == _chain_logs(market)
    fresh = make_store()
    index_all(fresh, chain, deployments_dir)
    assert_same_store(engine, fresh)
