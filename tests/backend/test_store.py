"""The SQL store: migrations match the models, uint256 values are exact, the escrow split math."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import insert, inspect, select
from sqlmodel import SQLModel

from backend.db.models import Balance, table_of
from backend.db.session import alembic_config, make_engine, migrate, normalize_url
from backend.indexer.project import ascii32


def test_migrations_create_exactly_the_models(make_store):
    engine = make_store()
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, SQLModel.metadata) == []


def test_migrations_go_down_and_up_again(make_store):
    engine = make_store()
    config = alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    migrate(engine)
    assert {"raw_event", "checkpoint", "capacity", "fill"} <= set(inspect(engine).get_table_names())


def test_uint256_values_are_exact_and_ordered(make_store):
    engine = make_store()
    values = [2**256 - 1, 5, 2**63, 2**63 - 1, 0, 10**30]
    table = table_of(Balance)
    with engine.begin() as conn:
        conn.execute(
            insert(table),
            [
                {"chain_id": 1, "holder": f"0x{i:040x}", "capacity_id": 1, "amount": v}
                for i, v in enumerate(values)
            ],
        )
    with engine.connect() as conn:
        stored = conn.execute(select(table.c.amount).order_by(table.c.amount)).scalars().all()
        below = select(table.c.amount).where(table.c.amount < 10).order_by(table.c.amount)
        small = conn.execute(below).scalars().all()
    assert stored == sorted(values)
    assert small == [0, 5]


def test_postgres_urls_use_psycopg3():
    assert normalize_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_url("sqlite:///x.db") == "sqlite:///x.db"


def test_postgres_connections_run_without_jit(postgres_database):
    # JIT compiling took seconds on the market's correlated lookups that run in milliseconds.
    engine = make_engine(postgres_database, pool_size=1)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SHOW jit").scalar() == "off"
        conn.rollback()
        assert conn.exec_driver_sql("SHOW jit").scalar() == "off"
    engine.dispose()


def test_ascii32():
    assert ascii32("0x" + b"H100-SXM5-80GB".ljust(32, b"\0").hex()) == "H100-SXM5-80GB"
    assert ascii32("0x" + "00" * 32) == ""
    odd = "0x" + "ff" * 32
    assert ascii32(odd) == odd
