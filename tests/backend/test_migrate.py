"""Processes that start together on a fresh store migrate it exactly once, and all of them start."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import text

from backend.db.session import make_engine

# Each process waits for the go file, then migrates: all three meet an empty schema at once.
MIGRATE = """
import sys, time
from pathlib import Path
from backend.db.session import make_engine, migrate
go = Path(sys.argv[2])
while not go.exists():
    time.sleep(0.005)
migrate(make_engine(sys.argv[1]))
"""


@pytest.fixture
def fresh_store_url(db_kind, tmp_path, request) -> str:
    if db_kind == "sqlite":
        return f"sqlite:///{tmp_path}/fresh.db"
    database = request.getfixturevalue("postgres_database")
    schema = f"m_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    return f"{database}?options=-csearch_path%3D{schema}"


def test_three_processes_starting_together_migrate_once(fresh_store_url: str, tmp_path: Path) -> None:
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", MIGRATE, fresh_store_url, str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    time.sleep(2.0)  # every interpreter has imported the backend and waits
    go.touch()
    results = [(p.wait(timeout=120), p.stderr.read() if p.stderr else "") for p in procs]
    assert [rc for rc, _ in results] == [0, 0, 0], "\n".join(err for _, err in results)
    engine = make_engine(fresh_store_url)
    with engine.connect() as conn:
        versions = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
        tables = conn.execute(text("SELECT count(*) FROM checkpoint")).scalar_one()
    engine.dispose()
    assert len(versions) == 1
    assert tables == 0
