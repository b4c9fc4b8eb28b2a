"""The lending keeper on a real Anvil through the real indexer: a window running down is liquidated
before its hours perish; a position whose hours count for nothing is written off and its expired
units collected for the lenders; two keepers racing liquidate each position once."""

from __future__ import annotations

import threading
from collections import Counter

from sqlmodel import Session

from backend.chain.dev_accounts import dev_account
from backend.chain.orders import OrderKind
from backend.market.order_checks import Limits
from backend.market.orders import post
from backend.tasks.lending_keeper import LendingKeeper, find_lending_candidates
from tests.backend.conftest import index_all
from tests.backend.market_round import HOUR, submit_report
from tests.backend.pool_round import (
    BACKING,
    GPU_CLASS,
    MARK,
    check_pool_against_chain,
    max_borrow,
    open_position,
    open_positions,
)
from tests.conftest import USDC, fund, now, warp_to


def _keeper(market, index: int = 7, min_profit: int = USDC) -> LendingKeeper:
    account = dev_account(index, market.chain_id)
    fund(market, [account], 10_000 * USDC)
    return LendingKeeper(market, account, min_profit=min_profit)


def _tick(keeper: LendingKeeper, engine, chain, deployments_dir):
    index_all(engine, chain, deployments_dir)
    at = now(keeper.market)
    with engine.connect() as conn:
        found = find_lending_candidates(conn, keeper.market.chain_id, at, keeper.max_calls)
    return keeper.tick(found, at)


def _events(market, pool, name: str) -> list[dict]:
    return [
        dict(lg["args"])
        for lg in getattr(pool.events, name)().get_logs(from_block=market.deployment.deploy_block)
    ]


def test_a_window_running_down_is_liquidated_before_its_hours_perish(
    market, make_store, chain, deployments_dir
):
    rnd = open_position(market, pledged=40)
    pool, borrower = rnd.pool, rnd.borrower
    market.send(borrower, pool.functions.borrow(max_borrow(rnd), borrower.address))
    keeper = _keeper(market)
    greedy = _keeper(market, 8, min_profit=1_000 * USDC)  # wants more than any liquidation here yields
    engine = make_store()
    end = market.capacity(rnd.capacity)["end"]
    buffer = pool.functions.maturityBuffer().call()
    ticks, passed = [], []
    while not _events(market, pool, "Liquidated"):
        assert now(market) < end - buffer * HOUR, "the hours entered the buffer unliquidated"
        warp_to(market, now(market) + HOUR)
        passed.append(_tick(greedy, engine, chain, deployments_dir))
        ticks.append(_tick(keeper, engine, chain, deployments_dir))
    (decision,) = ticks[-1]
    assert ticks[:-1] == passed[:-1] == [[]] * (len(ticks) - 1)  # healthy until then: nothing sent
    assert (decision.call, decision.item, decision.outcome) == ("liquidate", borrower.address, "sent")
    # The other keeper saw the same unhealthy position and let it be, saying why with its numbers.
    (declined,) = passed[-1]
    assert (declined.call, declined.outcome, declined.tx) == ("liquidate", "skipped", None)
    assert declined.reason.startswith("not worth the gas: profit ") and f"< {1_000 * USDC}" in declined.reason
    (liquidated,) = _events(market, pool, "Liquidated")
    # The whole debt repaid while the hours still counted; the keeper holds the seized ones.
    assert now(market) < end - buffer * HOUR
    assert pool.functions.debtOf(borrower.address).call() == [0, 0]
    assert liquidated["liquidator"] == keeper.account.address and liquidated["badDebtAssets"] == 0
    seized = liquidated["seizedUnits"]
    assert market.hours.functions.balanceOf(keeper.account.address, rnd.capacity).call() == seized > 0
    # Worth more than it cost at the pool's own valuation: the incentive, not a loss.
    mark = market.oracle.functions.markPrice(pool.functions.gpuClass().call()).call()[0]
    assert pool.functions.unitValue(rnd.capacity, seized, mark).call() > liquidated["repaidAssets"]
    index_all(engine, chain, deployments_dir)
    check_pool_against_chain(engine, market, rnd)
    assert _tick(keeper, engine, chain, deployments_dir) == []  # idempotent: nothing left to do


def test_a_keeper_with_no_capital_flash_liquidates_into_an_open_bid(
    market, make_store, chain, deployments_dir
):
    """A bid posted to the API buys the capacity's units at the backing; the mark halves: the keeper,
    holding no stablecoin, seizes units through the pool's BidLiquidator, sells them into the bid in
    the same transaction and keeps what is left after the repayment."""
    rnd = open_position(market, pledged=40)
    pool, borrower = rnd.pool, rnd.borrower
    market.send(borrower, pool.functions.borrow(max_borrow(rnd), borrower.address))
    bidder = dev_account(6, market.chain_id)
    fund(market, [bidder], 10_000 * USDC)
    bid = market.sign(bidder, OrderKind.BUY, rnd.capacity, 40, BACKING, now(market) + 6 * HOUR)
    engine = make_store()
    with Session(engine) as db:
        post(db, market, bid.order, "0x" + bid.signature.hex(), Limits(max_price=10**12, min_expiry=0))
    keeper = LendingKeeper(market, dev_account(9, market.chain_id), min_profit=USDC)
    assert market.usdc_balance(keeper.account.address) == 0
    cap = market.capacity(rnd.capacity)
    warp_to(market, cap["start"] + 2 * HOUR + 60)
    submit_report(
        market, market.capacity(rnd.capacity)["nodeId"], cap["start"] // HOUR + 1, 10_000, MARK // 2
    )

    (decision,) = _tick(keeper, engine, chain, deployments_dir)
    assert (decision.call, decision.outcome) == ("liquidate", "sent"), decision.reason
    assert "flash: sell " in decision.reason
    (liquidated,) = _events(market, pool, "Liquidated")
    liquidator = market.liquidators[GPU_CLASS]
    assert liquidated["liquidator"] == liquidator.address
    sold = liquidated["seizedUnits"]
    assert market.hours.functions.balanceOf(bidder.address, rnd.capacity).call() == sold > 0
    profit = market.usdc_balance(keeper.account.address)
    assert profit >= USDC  # at least the keeper's floor, all of it the keeper's
    assert market.usdc_balance(liquidator.address) == 0
    assert market.hours.functions.balanceOf(liquidator.address, rnd.capacity).call() == 0
    index_all(engine, chain, deployments_dir)
    check_pool_against_chain(engine, market, rnd)


def test_worthless_hours_are_written_off_then_collected_for_the_lenders(
    market, make_store, chain, deployments_dir
):
    """The keeper first ticks inside the buffer: the hours count for nothing, the debt is written off
    (realiseBadDebt) and the units move to the pool's own position; after the window ends the keeper
    collects what they returned (settleExpired) into the lenders' cash."""
    rnd = open_position(market, pledged=30)
    pool, borrower = rnd.pool, rnd.borrower
    market.send(borrower, pool.functions.borrow(max_borrow(rnd), borrower.address))
    keeper = _keeper(market)
    engine = make_store()
    cap = market.capacity(rnd.capacity)
    warp_to(market, cap["end"] - pool.functions.maturityBuffer().call() * HOUR + 1)

    (write_off,) = _tick(keeper, engine, chain, deployments_dir)
    assert (write_off.call, write_off.outcome) == ("realiseBadDebt", "sent")
    (bad,) = _events(market, pool, "BadDebt")
    assert bad["borrower"] == borrower.address and bad["assets"] > 0
    assert pool.functions.collateralOf(pool.address).call() == [[rnd.capacity], [30]]
    index_all(engine, chain, deployments_dir)
    check_pool_against_chain(engine, market, rnd)

    delay = market.hours.functions.terms(rnd.capacity).call()[2]
    assert _tick(keeper, engine, chain, deployments_dir) == []  # the window has not ended: not yet
    warp_to(market, cap["end"] + delay + 1)
    cash = market.usdc_balance(pool.address)
    refund = market.settlement.functions.unusedRefund(rnd.capacity, 30).call()
    index_all(engine, chain, deployments_dir)
    at = now(market)
    with engine.connect() as conn:
        found = find_lending_candidates(conn, market.chain_id, at, keeper.max_calls)
    (collect,) = keeper.tick(found, at)
    assert (collect.call, collect.item, collect.outcome) == ("settleExpired", str(rnd.capacity), "sent")
    assert keeper.tick(found, at) == []  # the store lags, the chain says it is done: nothing sent
    assert market.usdc_balance(pool.address) == cash + refund and pool.functions.reserved().call() == 0
    assert pool.functions.collateralOf(pool.address).call() == [[], []]
    index_all(engine, chain, deployments_dir)
    check_pool_against_chain(engine, market, rnd)
    assert _tick(keeper, engine, chain, deployments_dir) == []


def test_two_keepers_racing_liquidate_each_position_once(market, make_store, chain, deployments_dir):
    crowd = open_positions(market, 8)
    keepers = [_keeper(market, i) for i in (7, 8)]
    engine = make_store()
    warp_to(market, crowd.start + 2 * HOUR + 60)
    submit_report(market, crowd.node, crowd.start // HOUR + 1, 10_000, MARK // 2, gpu_seconds=16 * 3600)
    index_all(engine, chain, deployments_dir)
    at = now(market)
    with engine.connect() as conn:
        found = find_lending_candidates(conn, market.chain_id, at, 25)
    assert sorted(found.debtors[crowd.pool.address]) == sorted(b.address for b in crowd.borrowers)
    results: dict[int, list] = {}
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def run(n: int) -> None:
        try:
            barrier.wait()
            results[n] = keepers[n].tick(found, at)
        except BaseException as exc:  # noqa: BLE001 — the test fails on any
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert errors == []
    decisions = [d for n in (0, 1) for d in results[n]]
    assert [d for d in decisions if d.outcome == "failed"] == []
    sent = Counter(d.item for d in decisions if d.outcome == "sent")
    assert sent == dict.fromkeys((b.address for b in crowd.borrowers), 1)
    liquidated = Counter(e["borrower"] for e in _events(market, crowd.pool, "Liquidated"))
    assert liquidated == sent
    assert crowd.pool.functions.totalBorrow().call() == [0, 0]
