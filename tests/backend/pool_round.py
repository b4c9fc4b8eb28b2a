"""A lending round on the H100 pool driven by real transactions, and a check of the pool projections
against the pool's own views."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, select
from web3.contract import Contract

from backend.chain.client import Market
from backend.chain.dev_accounts import dev_account
from backend.chain.orders import OrderKind
from backend.db.models import Pool, PoolCollateral, PoolPosition, table_of
from tests.backend.market_round import HOUR, submit_report
from tests.conftest import USDC, fund, now, warp_to

GPU_CLASS = "H100-SXM5-80GB"
BACKING = 2_000_000
MARK = 2_100_000
SUPPLIED = 5_000 * USDC


@dataclass
class PoolRound:
    pool: Contract
    lender: Any
    borrower: Any
    capacity: int

    @property
    def accounts(self) -> list[Any]:
        return [self.lender, self.borrower]


def open_position(market: Market, pledged: int = 30) -> PoolRound:
    """A lender supplies; the borrower buys 40 H100-hours of a day-long window, pledges `pledged` of
    them, and the oracle attests the node's first hour and marks the class: ready to borrow."""
    p1, borrower, lender = (dev_account(i, market.chain_id) for i in (1, 3, 5))
    pool = market.pools[GPU_CLASS]
    fund(market, (p1, borrower, lender), 100_000 * USDC)
    for account in (borrower, lender):
        market.approve(account, pool.address)
    node = market.register_node(p1, GPU_CLASS, 4, 80, "eu-west", "NVLink", ["GPU-pool-1"])
    start = now(market) - now(market) % HOUR + HOUR
    cap = market.create_capacity(
        p1, node, start, start + 24 * HOUR, BACKING, market.min_bond_per_unit() * 4 * 24
    )
    market.fill(borrower, market.sign(p1, OrderKind.PRIMARY_SELL, cap, 40, BACKING, start), 40)
    market.send(lender, pool.functions.deposit(SUPPLIED, lender.address))
    market.send(borrower, market.hours.functions.setApprovalForAll(pool.address, True))
    market.send(borrower, pool.functions.pledge(cap, pledged))
    warp_to(market, start + HOUR + 60)
    submit_report(market, node, start // HOUR, 10_000, MARK)
    return PoolRound(pool, lender, borrower, cap)


def max_borrow(rnd: PoolRound) -> int:
    """What the borrower may owe at most now: value × LLTV, rounded down as the pool does."""
    value = rnd.pool.functions.collateralValue(rnd.borrower.address).call()
    return value * rnd.pool.functions.lltv().call() // 10**18


def check_pool_against_chain(engine: Engine, market: Market, rnd: PoolRound) -> None:
    """The pool's totals, the borrower's shares and collateral in the store equal the pool's views.
    Call it in the block of the pool's last event, so that no interest has accrued since."""
    chain, pool = market.chain_id, rnd.pool
    with engine.connect() as conn:

        def rows(model, **where):
            t = table_of(model)
            q = select(t).where(t.c.chain_id == chain, *(t.c[k] == v for k, v in where.items()))
            return [dict(r) for r in conn.execute(q).mappings()]

        (totals,) = rows(Pool, address=pool.address)
        assets, shares = pool.functions.totalBorrow().call()
        assert (totals["borrow_assets"], totals["borrow_shares"]) == (assets, shares)
        assert totals["supply_shares"] == pool.functions.totalSupply().call()
        assert totals["cash"] == market.usdc_balance(pool.address)
        for who in (a.address for a in rnd.accounts):
            position = rows(PoolPosition, pool=pool.address, borrower=who)
            assert (position[0]["borrow_shares"] if position else 0) == pool.functions.debtOf(who).call()[1]
            ids, units = pool.functions.collateralOf(who).call()
            stored = {
                r["capacity_id"]: r["units"] for r in rows(PoolCollateral, pool=pool.address, borrower=who)
            }
            assert stored == dict(zip(ids, units, strict=True))
