"""`gpuhours index` as a user runs it: one pass, a held lock, a store of another chain."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import func, select, update

from backend.chain.deployments import REPO_ROOT
from backend.db.models import Checkpoint, IndexerLock, RawEvent, table_of
from backend.db.session import make_engine


def _index(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("gpuhours")
    return subprocess.run(
        [str(exe), "index", *args],
        cwd=REPO_ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_index_once_then_refusals(market, chain, deployments_dir, tmp_path, accounts):
    market.register_node(accounts[1], "H100-SXM5-80GB", 8, 80, "eu-west", "NVLink", ["a"])
    url = f"sqlite:///{tmp_path}/cli.db"
    env = {"GPUHOURS_DB_URL": url, "GPUHOURS_DEPLOYMENTS_DIR": str(deployments_dir), "GPUHOURS_REDIS_URL": ""}

    done = _index("--once", "--rpc-url", chain.url, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"checkpoint at block {market.w3.eth.block_number}" in done.stdout
    engine = make_engine(url)
    with engine.connect() as conn:
        count = conn.execute(select(func.count()).select_from(RawEvent)).scalar()
    assert count > 0 and f"indexed {count} events" in done.stdout

    # Another writer holds the lock: a clear sentence and exit code 1, no traceback.
    with engine.begin() as conn:
        conn.execute(
            table_of(IndexerLock)
            .insert()
            .values(name="indexer:31337", owner="elsewhere:1", expires_at=time.time() + 60)
        )
    held = _index("--once", "--rpc-url", chain.url, env=env)
    assert held.returncode == 1 and "another indexer writes chain 31337" in held.stdout
    assert "Traceback" not in held.stdout + held.stderr
    with engine.begin() as conn:
        conn.execute(table_of(IndexerLock).delete())

    # The store holds another chain 31337 (an earlier Anvil): say so, and --reset starts over.
    with engine.begin() as conn:
        conn.execute(update(table_of(Checkpoint)).values(genesis_hash="0x" + "ab" * 32))
    other = _index("--once", "--rpc-url", chain.url, env=env)
    assert other.returncode == 1 and "--reset" in other.stdout
    assert "Traceback" not in other.stdout + other.stderr
    again = _index("--once", "--reset", "--rpc-url", chain.url, env=env)
    assert again.returncode == 0 and f"indexed {count} events" in again.stdout, again.stdout + again.stderr
    engine.dispose()


def test_index_without_a_deployment_says_so(chain, tmp_path):
    env = {"GPUHOURS_DB_URL": f"sqlite:///{tmp_path}/x.db", "GPUHOURS_DEPLOYMENTS_DIR": str(tmp_path)}
    result = _index("--once", "--rpc-url", chain.url, env=env)
    assert result.returncode == 1 and "no deployment for chain 31337" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
