"""A 50 % mark crash across a hundred positions on a real Anvil, cleared by the lending keeper as the
task runner runs it: every position liquidated once, and the bad debt equal to the wei in the chain
(totalBorrow, BadDebt events), the store (pool.bad_debt) and the API (GET /pools)."""

from __future__ import annotations

import time
from collections import Counter

from sqlalchemy import select

from backend.chain.dev_accounts import dev_account
from backend.db.models import Pool, table_of
from backend.tasks.context import TaskContext
from tests.backend.conftest import indexer_settings
from tests.backend.market_round import HOUR, submit_report
from tests.backend.pool_round import (
    GPU_CLASS,
    MARK,
    SUPPLIED,
    check_pool_against_chain,
    open_positions,
    written_off,
)
from tests.conftest import USDC, fund, warp_to

POSITIONS = 100


def test_a_mark_crash_is_cleared_and_its_bad_debt_shown_to_the_wei(
    market, store, chain, deployments_dir, serve, index
):
    crowd = open_positions(market, POSITIONS)
    pool = crowd.pool
    owed = pool.functions.totalBorrow().call()[0]
    keeper = dev_account(7, market.chain_id)
    fund(market, [keeper], 10_000 * USDC)
    ctx = TaskContext(
        indexer_settings(store, rpc_url=chain.url, deployments_dir=deployments_dir, keeper_dev_account=7),
        store,
    )
    index()
    assert ctx.lend_keep()["sent"] == 0  # all healthy at the mark they borrowed at

    warp_to(market, crowd.start + 2 * HOUR + 60)
    submit_report(market, crowd.node, crowd.start // HOUR + 1, 10_000, MARK // 2, gpu_seconds=16 * 3600)
    started, ticks = time.monotonic(), []
    while not ticks or ticks[-1]["sent"]:
        index()
        ticks.append(ctx.lend_keep())
    elapsed = time.monotonic() - started
    assert sum(t["failed"] for t in ticks) == 0
    # 25 calls a tick: four ticks clear the hundred, the fifth finds nothing.
    assert [t["sent"] for t in ticks] == [25, 25, 25, 25, 0], elapsed

    liquidated = Counter(e["args"]["borrower"] for e in pool.events.Liquidated().get_logs(from_block=0))
    assert liquidated == dict.fromkeys((b.address for b in crowd.borrowers), 1)
    # Underwater at the crashed mark: each liquidation seized every unit at their value, without
    # incentive, and wrote off the rest; nothing is owed any more.
    assert pool.functions.totalBorrow().call() == [0, 0]
    bad_debt = written_off(market, pool)
    interest = sum(e["args"]["interest"] for e in pool.events.InterestAccrued().get_logs(from_block=0))
    assert 0 < bad_debt < owed
    # What lenders lost is the bad debt, to the wei: all they are owed is what they supplied, plus
    # interest, less it.
    assert pool.functions.totalAssets().call() == SUPPLIED + interest - bad_debt
    index()
    check_pool_against_chain(store, market, crowd)
    with store.connect() as conn:
        stored = conn.execute(
            select(table_of(Pool).c.bad_debt).where(table_of(Pool).c.address == pool.address)
        ).scalar_one()
    (h100,) = [p for p in serve().get("/pools").json()["items"] if p["gpu_class"] == GPU_CLASS]
    assert stored == h100["total_bad_debt"] == bad_debt
    # The history: every liquidation and write-off, newest first, equal to the chain's events.
    api = serve()
    first = api.get(f"/pools/{pool.address}/liquidations", params={"limit": 500}).json()
    kinds = Counter(item["kind"] for item in first["items"])
    assert first["total"] == len(first["items"]) == kinds["liquidation"] + kinds["bad_debt"]
    assert kinds["liquidation"] == POSITIONS
    assert sum(i["assets"] for i in first["items"] if i["kind"] == "bad_debt") == bad_debt
    blocks = [i["block_number"] for i in first["items"]]
    assert blocks == sorted(blocks, reverse=True)
    assert api.get(f"/pools/{'0x' + '12' * 20}/liquidations").status_code == 404
