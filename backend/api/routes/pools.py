"""Lending pools: each pool's terms, totals and rates; borrowers' positions with health factor and
liquidation price, riskiest first, and the liquidation candidates among them.

The index says who has a position (pool_position, pool_collateral); what each owes and is worth is
re-read from the chain for every request, since interest and the mark move without events. A listing
of positions reads every position of the pool to sort them, in two rounds of batched calls."""

from __future__ import annotations

from math import expm1
from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import func, select, union
from sqlmodel import Session
from web3.contract import Contract
from web3.contract.contract import ContractFunction

from backend.api.deps import ChainDep, SessionDep, SettingsDep
from backend.api.errors import ApiError, documented
from backend.api.reads import checked_address, page_bounds
from backend.api.schemas.pools import (
    CollateralPublic,
    LiquidationPage,
    LiquidationPublic,
    PoolPage,
    PoolPositionPublic,
    PoolPublic,
    PoolTermsPublic,
    PositionPage,
    RateModelPublic,
)
from backend.api.schemas.types import AddressPath, Limit, Offset
from backend.chain.client import to_bytes32
from backend.chain.pools import WAD, YEAR
from backend.db.models import Pool, PoolCollateral, PoolEvent, PoolPosition, table_of
from backend.market.pool_health import PositionReading, read_positions

router = APIRouter(prefix="/pools", tags=["pools"])

NO_POOL = documented({404: "unknown_pool: no lending pool of this deployment at that address"})
NO_POSITION = documented(
    {404: "unknown_pool: no lending pool at that address; not_found: the borrower has no position in it"}
)


def find_pool(chain: ChainDep, address: str) -> tuple[str, Contract]:
    """(GPU class, pool) of the deployment's pool at `address`; 404 when it has none there."""
    checked = checked_address(address)
    for gpu_class, pool in chain.market.pools.items():
        if pool.address == checked:
            return gpu_class, pool
    raise ApiError(
        404, "unknown_pool", f"no lending pool at {checked} on chain {chain.chain_id}: see GET /pools"
    )


def _mark(chain: ChainDep, gpu_class: str) -> tuple[int, int]:
    price, epoch = chain.market.oracle.functions.markPrice(to_bytes32(gpu_class)).call()
    return price, epoch


def _borrowers(db: Session, chain_id: int, pool: str) -> list[str]:
    """Everyone the index says owes the pool or has hours pledged to it."""
    pos, col = table_of(PoolPosition), table_of(PoolCollateral)
    in_debt = select(pos.c.borrower).where(
        pos.c.chain_id == chain_id, pos.c.pool == pool, pos.c.borrow_shares > 0
    )
    pledged = select(col.c.borrower).where(col.c.chain_id == chain_id, col.c.pool == pool)
    return sorted(db.connection().execute(union(in_debt, pledged)).scalars())


def _pool_reads(chain: ChainDep, gpu_class: str, pool: Contract) -> list[ContractFunction]:
    """The calls _public_pool reads, in its order."""
    f = pool.functions
    mark = chain.market.oracle.functions.markPrice(to_bytes32(gpu_class))
    return [
        f.lltv(),
        f.rateModel(),
        f.maturityBuffer(),
        f.markMaxAge(),
        f.totalAssets(),
        f.totalBorrow(),
        f.borrowRate(),
        f.totalSupply(),
        mark,
        chain.market.usdc.functions.balanceOf(pool.address),
    ]


def _public_pool(db: Session, chain_id: int, gpu_class: str, pool: Contract, reads: list[Any]) -> PoolPublic:
    lltv, (base, slope1, slope2, kink), buffer, max_age, supplied, borrow, rate_now, shares, mark, cash = (
        reads
    )
    (borrowed, _), (rate, utilization), (price, epoch) = borrow, rate_now, mark
    stored = db.get(Pool, (chain_id, pool.address))
    return PoolPublic(
        gpu_class=gpu_class,
        address=pool.address,
        terms=PoolTermsPublic(
            lltv=lltv,
            rate_model=RateModelPublic(base=base, slope1=slope1, slope2=slope2, kink=kink),
            maturity_buffer_hours=buffer,
            mark_max_age=max_age,
        ),
        total_supplied=supplied,
        total_borrowed=borrowed,
        cash=cash,
        supply_shares=shares,
        utilization=utilization / WAD,
        borrow_rate_per_second=rate,
        borrow_apy=expm1(rate * YEAR / WAD),
        supply_apy=expm1(rate * utilization / WAD * YEAR / WAD),
        total_bad_debt=stored.bad_debt if stored is not None else 0,
        mark=price,
        mark_epoch=epoch,
        borrowers=len(_borrowers(db, chain_id, pool.address)),
    )


def _public_position(db: Session, chain_id: int, pool: str, r: PositionReading) -> PoolPositionPublic:
    indexed = db.get(PoolPosition, (chain_id, pool, r.borrower))
    return PoolPositionPublic(
        pool=pool,
        borrower=r.borrower,
        debt=r.debt,
        borrow_shares=r.borrow_shares,
        collateral=[
            CollateralPublic(capacity_id=c.capacity_id, units=c.units, backing=c.backing, value=c.value)
            for c in r.collateral
        ],
        collateral_value=r.collateral_value,
        max_debt=r.max_debt,
        health_factor=r.health_factor,
        liquidation_price=r.liquidation_price,
        healthy=r.healthy,
        borrowed=indexed.borrowed if indexed is not None else 0,
        repaid=indexed.repaid if indexed is not None else 0,
    )


def _riskiest_first(r: PositionReading) -> tuple[bool, float, str]:
    return r.health_factor is None, r.health_factor or 0.0, r.borrower


@router.get(
    "", response_model=PoolPage, summary="The lending pools, one per GPU class, with rates and totals"
)
def list_pools(
    db: SessionDep, chain: ChainDep, settings: SettingsDep, limit: Limit = None, offset: Offset = 0
) -> PoolPage:
    limit, offset = page_bounds(settings, limit, offset)
    pools = sorted(chain.market.pools.items())
    page = pools[offset : offset + limit]
    reads = chain.market.call_all(
        [fn for gpu_class, pool in page for fn in _pool_reads(chain, gpu_class, pool)]
    )
    width = len(reads) // len(page) if page else 0
    items = [
        _public_pool(db, chain.chain_id, gpu_class, pool, reads[i * width : (i + 1) * width])
        for i, (gpu_class, pool) in enumerate(page)
    ]
    return PoolPage(items=items, total=len(pools), limit=limit, offset=offset)


@router.get(
    "/{address}/positions",
    response_model=PositionPage,
    responses=NO_POOL,
    summary="A pool's positions, riskiest first (lowest health factor; no debt last)",
)
def list_positions(
    address: AddressPath,
    db: SessionDep,
    chain: ChainDep,
    settings: SettingsDep,
    unhealthy: Annotated[
        bool,
        Query(
            description="only positions that owe more than their collateral allows: liquidation candidates"
        ),
    ] = False,
    limit: Limit = None,
    offset: Offset = 0,
) -> PositionPage:
    limit, offset = page_bounds(settings, limit, offset)
    gpu_class, pool = find_pool(chain, address)
    lltv, (mark, _) = pool.functions.lltv().call(), _mark(chain, gpu_class)
    readings = read_positions(chain.market, pool, _borrowers(db, chain.chain_id, pool.address), lltv, mark)
    readings = sorted((r for r in readings if not (unhealthy and r.healthy)), key=_riskiest_first)
    items = [_public_position(db, chain.chain_id, pool.address, r) for r in readings[offset : offset + limit]]
    return PositionPage(items=items, total=len(readings), limit=limit, offset=offset)


@router.get(
    "/{address}/positions/{borrower}",
    response_model=PoolPositionPublic,
    responses=NO_POSITION,
    summary="One borrower's position: debt, collateral, health factor, liquidation price",
)
def get_position(
    address: AddressPath, borrower: AddressPath, db: SessionDep, chain: ChainDep
) -> PoolPositionPublic:
    gpu_class, pool = find_pool(chain, address)
    who = checked_address(borrower, "borrower")
    (reading,) = read_positions(
        chain.market, pool, [who], pool.functions.lltv().call(), _mark(chain, gpu_class)[0]
    )
    indexed = db.get(PoolPosition, (chain.chain_id, pool.address, who))
    if reading.debt == 0 and not reading.collateral and indexed is None:
        raise ApiError(404, "not_found", f"{who} has no position in the {gpu_class} pool {pool.address}")
    return _public_position(db, chain.chain_id, pool.address, reading)


@router.get(
    "/{address}/liquidations",
    response_model=LiquidationPage,
    responses=NO_POOL,
    summary="A pool's liquidations and bad-debt write-offs, newest first",
)
def list_liquidations(
    address: AddressPath,
    db: SessionDep,
    chain: ChainDep,
    settings: SettingsDep,
    limit: Limit = None,
    offset: Offset = 0,
) -> LiquidationPage:
    limit, offset = page_bounds(settings, limit, offset)
    _, pool = find_pool(chain, address)
    ev = table_of(PoolEvent)
    where = (
        ev.c.chain_id == chain.chain_id,
        ev.c.pool == pool.address,
        ev.c.kind.in_(("liquidation", "bad_debt")),
    )
    conn = db.connection()
    total = conn.execute(select(func.count()).select_from(ev).where(*where)).scalar_one()
    rows = conn.execute(
        select(ev)
        .where(*where)
        .order_by(ev.c.block_number.desc(), ev.c.log_index.desc())
        .limit(limit)
        .offset(offset)
    ).mappings()
    items = [
        LiquidationPublic(
            kind=r["kind"],
            borrower=r["account"],
            liquidator=r["counterparty"],
            capacity_id=r["capacity_id"],
            units=r["units"],
            assets=r["assets"],
            shares=r["shares"],
            block_number=r["block_number"],
            block_time=r["block_time"],
            tx_hash=r["tx_hash"],
        )
        for r in rows
    ]
    return LiquidationPage(items=items, total=total, limit=limit, offset=offset)
