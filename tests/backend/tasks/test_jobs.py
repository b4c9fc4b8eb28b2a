"""The periodic jobs on data made on a real chain and indexed, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import insert, select

from backend.chain.orders import OrderKind
from backend.db.models import NodeHealth, PostedOrder, PriceIndex, table_of
from backend.indexer.lock import writer_lock
from backend.indexer.run import Indexer, IndexerError
from backend.tasks import jobs
from backend.tasks.context import TaskContext
from tests.backend.conftest import index_all, indexer_settings
from tests.backend.market_round import HOUR, sell_hours, submit_report
from tests.conftest import USDC, now, warp_to


def _posted(chain_id: int, n: int, expiry: int, status: str = "open") -> dict:
    return {
        "chain_id": chain_id,
        "order_hash": "0x" + f"{n:064x}",
        "maker": "0x" + "11" * 20,
        "kind": "primary_sell",
        "capacity_id": 1,
        "amount": 10,
        "price": 2_000_000,
        "expiry": expiry,
        "salt": n,
        "counter": 0,
        "signature": "0x",
        "status": status,
        "posted_at": 0.0,
    }


def test_expire_orders_marks_only_open_orders_past_expiry(make_store):
    engine = make_store()
    so = table_of(PostedOrder)
    t = 1_900_000_000
    with engine.begin() as conn:
        conn.execute(
            insert(so),
            [
                _posted(31337, 1, t - 1),
                _posted(31337, 2, t),
                _posted(31337, 3, t + 60),
                _posted(31337, 4, t - 5, status="withdrawn"),
                _posted(1, 5, t - 1),
            ],
        )
        assert jobs.expire_orders(conn, 31337, t) == 1
        assert jobs.expire_orders(conn, 31337, t) == 0
        states = dict(conn.execute(select(so.c.order_hash, so.c.status)).all())
    assert [states["0x" + f"{n:064x}"] for n in range(1, 6)] == [
        "expired",
        "open",
        "open",
        "withdrawn",
        "open",
    ]


def test_sla_watchdog_flags_nodes_whose_attestations_stop(
    make_store, market, chain, deployments_dir, accounts
):
    engine = make_store()
    p1, p2 = accounts[1], accounts[2]
    for p in (p1, p2):
        market.faucet(p, 1_000 * USDC)
        market.approve(p, market.escrow.address)
    watched = market.register_node(p1, "H100-SXM5-80GB", 4, 80, "eu-west", "NVLink", ["GPU-1"])
    silent = market.register_node(p2, "A100-SXM4-80GB", 2, 80, "us-east", "PCIe", ["GPU-2"])
    idle = market.register_node(p2, "A100-SXM4-80GB", 2, 80, "us-east", "PCIe", ["GPU-3"])
    start = now(market) - now(market) % HOUR + HOUR
    bond = market.min_bond_per_unit() * 4 * 6
    market.create_capacity(p1, watched, start, start + 6 * HOUR, 1_000_000, bond)
    market.create_capacity(p2, silent, start, start + 6 * HOUR, 1_000_000, bond)
    market.create_capacity(p2, idle, start + 5 * HOUR, start + 6 * HOUR, 1_000_000, bond)  # not open yet
    warp_to(market, start + HOUR + 60)
    submit_report(market, watched, start // HOUR, 10_000, 2_000_000)
    index_all(engine, chain, deployments_dir)
    chain_id = market.chain_id
    nh = table_of(NodeHealth)

    def health(conn):
        return {r.node_id: (r.last_epoch, r.stale) for r in conn.execute(select(nh))}

    with engine.begin() as conn:
        # 90 minutes in: the watched node's first hour is attested; the silent one has nothing for
        # 90 minutes, past a one-hour limit.
        assert jobs.sla_watchdog(conn, chain_id, start + 1.5 * HOUR, HOUR) == [silent]
        assert health(conn) == {watched: (start // HOUR, False), silent: (None, True)}
        # Flagged once, not again; four hours in, the watched node's attestations have stopped too.
        assert jobs.sla_watchdog(conn, chain_id, start + 1.6 * HOUR, HOUR) == []
        flagged_at = conn.execute(select(nh.c.flagged_at).where(nh.c.node_id == silent)).scalar_one()
        assert flagged_at == start + 1.5 * HOUR
        assert jobs.sla_watchdog(conn, chain_id, start + 4 * HOUR, HOUR) == [watched]
        assert health(conn) == {watched: (start // HOUR, True), silent: (None, True)}
        # After the windows close, nobody is watched.
        assert jobs.sla_watchdog(conn, chain_id, start + 7 * HOUR, HOUR) == []
        assert health(conn) == {}


def test_index_once_reaches_the_head_and_yields_to_a_writer(
    make_store, market, chain, deployments_dir, accounts
):
    engine = make_store()
    p1, r3 = accounts[1], accounts[3]
    cap, start = sell_hours(market, p1, r3, 3, 2_000_000)
    settings = indexer_settings(engine, rpc_url=chain.url, deployments_dir=deployments_dir)
    indexer = Indexer.from_settings(settings, engine=engine)
    try:
        result = jobs.index_once(indexer)
        assert result["checkpoint"] == market.w3.eth.block_number and result["events"] > 0
        assert jobs.index_once(indexer)["events"] == 0
        market.fill(r3, market.sign(p1, OrderKind.PRIMARY_SELL, cap, 2, 2_000_000, start), 2)
        other = writer_lock(settings, engine, market.chain_id, owner="another indexer")
        assert other.acquire()
        try:
            assert "another indexer" in jobs.index_once(indexer)["skipped"]
        finally:
            other.release()
        assert jobs.index_once(indexer)["events"] > 0  # the same indexer, ticking again
    finally:
        indexer.close()


def test_the_task_context_keeps_one_indexer_and_starts_afresh_after_a_failure(
    make_store, market, chain, deployments_dir, accounts
):
    engine = make_store()
    sell_hours(market, accounts[1], accounts[3], 3, 2_000_000)
    settings = indexer_settings(engine, rpc_url=chain.url, deployments_dir=deployments_dir)
    ctx = TaskContext(settings, engine)
    assert ctx.index()["events"] > 0
    first = ctx._indexer
    assert ctx.index()["events"] == 0 and ctx._indexer is first  # the next tick reuses it
    down = TaskContext(settings.model_copy(update={"rpc_url": "http://127.0.0.1:9"}), engine)
    with pytest.raises(IndexerError, match="cannot reach the chain"):
        down.index()
    assert down._indexer is None  # nothing half-built is kept
    first.close()


def test_each_batch_with_fills_refreshes_the_price_index(
    make_store, market, chain, deployments_dir, accounts
):
    """The indexer writes the price index with the fills, in their transaction (no price-index job runs
    here); a rollback that undoes a fill takes its price back out."""
    engine = make_store()
    p1, r3 = accounts[1], accounts[3]
    cap, start = sell_hours(market, p1, r3, 3, 2_000_000)
    ctx = TaskContext(indexer_settings(engine, rpc_url=chain.url, deployments_dir=deployments_dir), engine)

    def prices() -> tuple:
        with engine.connect() as conn:
            rows = conn.execute(select(table_of(PriceIndex))).mappings().all()
        return tuple(
            (r["gpu_class"], r["last_price"], r["vwap_24h"], r["volume_24h"], r["fills_24h"]) for r in rows
        )

    ctx.index()
    assert prices() == (("H100-SXM5-80GB", 2_000_000, 2_000_000, 3, 1),)
    before = market.w3.provider.make_request("evm_snapshot", [])["result"]
    market.fill(r3, market.sign(p1, OrderKind.PRIMARY_SELL, cap, 2, 3_000_000, start), 2)
    ctx.index()
    assert prices() == (("H100-SXM5-80GB", 3_000_000, (3 * 2_000_000 + 2 * 3_000_000) // 5, 5, 2),)
    market.w3.provider.make_request("evm_revert", [before])  # the fill's block reorganised away
    for _ in range(3):
        market.w3.provider.make_request("evm_mine", [])
    ctx.index()
    ctx.index()
    assert prices() == (("H100-SXM5-80GB", 2_000_000, 2_000_000, 3, 1),)
    ctx._indexer.close()
