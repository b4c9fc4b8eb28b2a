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


def written_off(market: Market, pool: Contract) -> int:
    """The debt the pool has written off, summed over its BadDebt events."""
    logs = pool.events.BadDebt().get_logs(from_block=market.deployment.deploy_block)
    return sum(lg["args"]["assets"] for lg in logs)


def check_pool_against_chain(engine: Engine, market: Market, rnd: PoolRound | Crowd) -> None:
    """The pool's totals and bad debt, the shares and collateral of the round's accounts and the
    pool's own position in the store equal the pool's views and events.
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
        assert totals["cash"] == market.usdc_balance(pool.address) - pool.functions.reserved().call()
        assert totals["bad_debt"] == written_off(market, pool)
        for who in [a.address for a in rnd.accounts] + [pool.address]:
            position = rows(PoolPosition, pool=pool.address, borrower=who)
            assert (position[0]["borrow_shares"] if position else 0) == pool.functions.debtOf(who).call()[1]
            ids, units = pool.functions.collateralOf(who).call()
            stored = {
                r["capacity_id"]: r["units"] for r in rows(PoolCollateral, pool=pool.address, borrower=who)
            }
            assert stored == dict(zip(ids, units, strict=True))


@dataclass
class Crowd:
    """Many positions in the H100 pool, each pledging `units` of one 16-GPU node's window."""

    pool: Contract
    node: int
    capacity: int
    start: int
    borrowers: list[Any]

    @property
    def accounts(self) -> list[Any]:
        return self.borrowers


def open_positions(market: Market, count: int, units: int = 2) -> Crowd:
    """A lender supplies and buys `units` × `count` H100-hours of a 16-GPU node's day-long window;
    dev accounts 20, 21, ... each get `units` of them, pledge them and borrow all the mark allows
    (the oracle has attested the node and marked the class). Four transactions a position."""
    p1, lender = dev_account(1, market.chain_id), dev_account(5, market.chain_id)
    borrowers = [dev_account(20 + i, market.chain_id) for i in range(count)]
    for b in borrowers:  # Anvil funds the first dev accounts only
        market.w3.provider.make_request("anvil_setBalance", [b.address, hex(10**20)])
    pool, hours = market.pools[GPU_CLASS], market.hours.functions
    fund(market, [p1, lender], 10_000 * USDC)
    market.approve(lender, pool.address)
    serials = [f"GPU-crowd-{i}" for i in range(16)]
    node = market.register_node(p1, GPU_CLASS, 16, 80, "eu-west", "NVLink", serials)
    start = now(market) - now(market) % HOUR + HOUR
    cap = market.create_capacity(
        p1, node, start, start + 24 * HOUR, BACKING, market.min_bond_per_unit() * 16 * 24
    )
    market.fill(
        lender, market.sign(p1, OrderKind.PRIMARY_SELL, cap, units * count, BACKING, start), units * count
    )
    market.send(lender, pool.functions.deposit(SUPPLIED, lender.address))
    for b in borrowers:
        market.send(lender, hours.safeTransferFrom(lender.address, b.address, cap, units, b""))
        market.send(b, hours.setApprovalForAll(pool.address, True))
        market.send(b, pool.functions.pledge(cap, units))
    warp_to(market, start + HOUR + 60)
    submit_report(market, node, start // HOUR, 10_000, MARK, gpu_seconds=16 * 3600)
    lltv = pool.functions.lltv().call()
    for b in borrowers:
        limit = pool.functions.collateralValue(b.address).call() * lltv // 10**18
        market.send(b, pool.functions.borrow(limit, b.address))
    return Crowd(pool, node, cap, start, borrowers)
