"""The lending pools' events through the real indexer on a real Anvil: supply, pledge, borrow, interest,
repay, unpledge, withdraw, liquidation and bad debt project to what the pool's views say, and a reorg
across a borrow or a liquidation leaves the store equal to a fresh index."""

from __future__ import annotations

from sqlalchemy import select

from backend.db.models import Pool, PoolEvent, RawEvent, table_of
from tests.backend.conftest import assert_same_store, chain_logs, index_all, new_indexer
from tests.backend.market_round import HOUR
from tests.backend.pool_round import SUPPLIED, check_pool_against_chain, max_borrow, open_position
from tests.conftest import USDC, now, warp_to


def _pool_events(engine, pool: str) -> list[dict]:
    t = table_of(PoolEvent)
    with engine.connect() as conn:
        query = select(t).where(t.c.pool == pool).order_by(t.c.block_number, t.c.log_index)
        return [dict(r) for r in conn.execute(query).mappings()]


def test_every_pool_event_projects_to_what_the_pool_says(market, make_store, chain, deployments_dir):
    rnd = open_position(market)
    lender, borrower, pool = rnd.lender, rnd.borrower, rnd.pool
    borrowed = max_borrow(rnd) // 2
    market.send(borrower, pool.functions.borrow(borrowed, borrower.address))
    warp_to(market, now(market) + HOUR)
    market.send(lender, pool.functions.repay(borrowed // 4, borrower.address))  # anyone may repay
    market.send(lender, pool.functions.withdraw(100 * USDC, lender.address, lender.address))
    market.send(borrower, pool.functions.unpledge(rnd.capacity, 5, borrower.address))

    engine = make_store()
    index_all(engine, chain, deployments_dir)
    check_pool_against_chain(engine, market, rnd)
    with engine.connect() as conn:  # every log of the pool is stored, its vault shares' Transfers too
        stored = conn.execute(select(RawEvent.event).where(RawEvent.address == pool.address)).scalars().all()
    on_chain = [lg for lg in chain_logs(market) if lg["address"].lower() == pool.address.lower()]
    assert len(stored) == len(on_chain) and "Transfer" in stored

    events = _pool_events(engine, pool.address)
    kinds = [e["kind"] for e in events]
    assert kinds == ["supply", "pledge", "borrow", "interest", "repay", "withdraw", "unpledge"]
    supply, pledge, borrow, interest, repay, withdraw, unpledge = events
    assert (supply["account"], supply["assets"]) == (lender.address, SUPPLIED)
    assert (pledge["account"], pledge["capacity_id"], pledge["units"]) == (borrower.address, rnd.capacity, 30)
    assert (borrow["account"], borrow["counterparty"], borrow["assets"]) == (
        borrower.address,
        borrower.address,
        borrowed,
    )
    assert interest["assets"] > 0 and interest["total_borrow"] == borrowed + interest["assets"]
    assert (repay["account"], repay["counterparty"], repay["assets"]) == (
        borrower.address,
        lender.address,
        borrowed // 4,
    )
    assert (withdraw["account"], withdraw["assets"]) == (lender.address, 100 * USDC)
    assert (unpledge["units"], unpledge["counterparty"]) == (5, borrower.address)


def test_a_reorg_across_a_borrow_matches_a_fresh_index(market, make_store, chain, deployments_dir):
    rnd = open_position(market)
    borrower, pool = rnd.borrower, rnd.pool
    engine = make_store()
    index_all(engine, chain, deployments_dir)

    limit = max_borrow(rnd)
    market.send(borrower, pool.functions.borrow(limit // 2, borrower.address))
    market.send(borrower, pool.functions.repay(limit // 8, borrower.address))
    index_all(engine, chain, deployments_dir)  # the borrow and the repay are in the store ...
    head = market.w3.eth.block_number

    # ... and are replaced by a smaller borrow in the first new block, nothing in the second.
    # Anvil estimates a replayed transaction's gas on the old chain, where the borrow found a position
    # already in debt (cheaper storage writes): it gets a limit of its own.
    other = pool.functions.borrow(limit // 3, borrower.address)._encode_transaction_data()
    tx = {"from": borrower.address, "to": pool.address, "data": other, "gas": hex(300_000)}
    answer = market.w3.provider.make_request("anvil_reorg", [2, [[tx, 0]]])
    assert "error" not in answer, answer
    indexer = new_indexer(engine, chain, deployments_dir)
    indexer.initialize()
    summary = indexer.sync()
    indexer.close()
    assert [r.fork_block for r in summary.rollbacks] == [head - 2]

    fresh = make_store()
    index_all(fresh, chain, deployments_dir)
    assert_same_store(engine, fresh)
    check_pool_against_chain(engine, market, rnd)
    last = _pool_events(engine, pool.address)[-1]
    assert (last["kind"], last["assets"]) == ("borrow", limit // 3)


def test_expired_collateral_credits_project_to_what_the_pool_says(market, make_store, chain, deployments_dir):
    """The window ends with hours still pledged: settleExpired collects what they returned and pays the
    borrower's debt with it; the store follows the collateral, the debt and the pool's cash."""
    rnd = open_position(market)
    borrower, pool = rnd.borrower, rnd.pool
    borrowed = max_borrow(rnd) // 2
    market.send(borrower, pool.functions.borrow(borrowed, borrower.address))
    capacity = market.hours.functions.capacity(rnd.capacity).call()
    delay = market.hours.functions.terms(rnd.capacity).call()[2]
    warp_to(market, capacity[2] + delay + 1)  # Capacity(nodeId, start, end, ...)
    refund = market.settlement.functions.unusedRefund(rnd.capacity, 30).call()
    market.send(borrower, pool.functions.settleExpired(rnd.capacity, [borrower.address]))

    engine = make_store()
    index_all(engine, chain, deployments_dir)
    check_pool_against_chain(engine, market, rnd)
    collected, credited = _pool_events(engine, pool.address)[-2:]
    assert (collected["kind"], collected["units"], collected["assets"]) == ("expired", 30, refund)
    assert (credited["kind"], credited["account"], credited["assets"]) == (
        "expiry_credit",
        borrower.address,
        refund,
    )
    assert pool.functions.debtOf(borrower.address).call() == [0, 0]
    assert credited["shares"] > 0


def test_a_reorg_across_a_liquidation_matches_a_fresh_index(market, make_store, chain, deployments_dir):
    """The window runs down until the position is underwater; a liquidation seizing every unit writes
    the rest off (BadDebt, then Liquidated) and is indexed; a reorg replaces it with a repay."""
    rnd = open_position(market, pledged=40)
    borrower, lender, pool = rnd.borrower, rnd.lender, rnd.pool
    market.send(borrower, pool.functions.borrow(max_borrow(rnd), borrower.address))
    end = market.capacity(rnd.capacity)["end"]
    warp_to(market, end - (pool.functions.maturityBuffer().call() + 5) * HOUR)
    engine = make_store()
    index_all(engine, chain, deployments_dir)

    market.send(lender, pool.functions.liquidate(borrower.address, rnd.capacity, 40, 0, b""))
    index_all(engine, chain, deployments_dir)
    check_pool_against_chain(engine, market, rnd)
    kinds = [e["kind"] for e in _pool_events(engine, pool.address)]
    assert kinds[-3:] == ["interest", "bad_debt", "liquidation"]
    with engine.connect() as conn:
        (bad_debt,) = conn.execute(select(Pool.bad_debt).where(Pool.address == pool.address)).one()
    assert bad_debt > 0
    head = market.w3.eth.block_number

    repay = pool.functions.repay(USDC, borrower.address)._encode_transaction_data()
    tx = {"from": lender.address, "to": pool.address, "data": repay, "gas": hex(300_000)}
    answer = market.w3.provider.make_request("anvil_reorg", [1, [[tx, 0]]])
    assert "error" not in answer, answer
    indexer = new_indexer(engine, chain, deployments_dir)
    indexer.initialize()
    summary = indexer.sync()
    indexer.close()
    assert [r.fork_block for r in summary.rollbacks] == [head - 1]

    fresh = make_store()
    index_all(fresh, chain, deployments_dir)
    assert_same_store(engine, fresh)
    check_pool_against_chain(engine, market, rnd)
    kinds = [e["kind"] for e in _pool_events(engine, pool.address)]
    assert "liquidation" not in kinds and kinds[-1] == "repay"
