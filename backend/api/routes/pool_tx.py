"""Unsigned transactions for a lending pool: supply, withdraw, pledge, unpledge, borrow, repay, liquidate,
settle-expired.

Each is priced against the chain like the other wallet transactions (gas: the estimate with the shared
margin, backend/chain/gas.py). A call the pool would refuse (borrowing past the LLTV, a stale mark,
hours of another class, repaying more than is owed) is a 422 naming the contract's error and its
numbers. A step that needs the stablecoin's or the GPU-hours' approval first answers with the
approval alone and `then` naming the step, to be asked again once the approval is mined. The stablecoin
approval is for the amount asked (a repay of everything: the debt now and 1 % for the interest until it
is mined); the GPU-hours' is ERC-1155's setApprovalForAll, the only approval the standard has, and the
pool moves hours only in a pledge their holder sends.

A liquidation is estimated as the liquidator would send it, so a healthy position is the pool's
HealthyPosition with the debt and the most it may owe. Its repayment is known only to the pool (the
hours' value at the mark over the incentive, interest to the block): when the liquidator's allowance
is short, the estimate stops at the stablecoin's ERC20InsufficientAllowance, whose `needed` is that
repayment, and the answer is the approval of it with the same margin as a repay of everything."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from web3.contract import Contract
from web3.contract.contract import ContractFunction

from backend.api.deps import ChainDep
from backend.api.errors import ApiError, documented
from backend.api.routes.pools import find_pool
from backend.api.schemas.pools import (
    BorrowRequest,
    LiquidateRequest,
    PledgeRequest,
    PoolTxs,
    RepayRequest,
    SettleExpiredRequest,
    SupplyRequest,
    WithdrawRequest,
)
from backend.api.schemas.types import AddressPath
from backend.api.wallet_tx import tx_json
from backend.chain import errors
from backend.chain.client import MAX_UINT256
from backend.chain.errors import ContractRevert
from backend.chain.pools import with_repay_margin

router = APIRouter(prefix="/tx/pools", tags=["wallet"])

REFUSED = documented(
    {
        404: "unknown_pool: no lending pool of this deployment at that address",
        422: "pool_refused: the pool would revert; `details.error` names its error, `details.fields` the "
        "numbers (invalid_request: a malformed field)",
    }
)


def _jsonable(value: Any) -> Any:
    return "0x" + value.hex() if isinstance(value, bytes) else value


def _refused(exc: ContractRevert) -> ApiError:
    fields = {k: _jsonable(v) for k, v in exc.fields.items()}
    return ApiError(422, "pool_refused", f"the pool would revert with {exc}", error=exc.name, fields=fields)


def _txs(chain: ChainDep, sender: str, *fns: ContractFunction, then: str | None = None) -> PoolTxs:
    try:
        txs = [tx_json(chain.market.build_tx(sender, fn)) for fn in fns]
    except ContractRevert as exc:
        raise _refused(exc) from None
    return PoolTxs.model_validate({"transactions": txs, "then": then})


def _with_allowance(
    chain: ChainDep, pool: Contract, owner: str, amount: int, step: str, fn: ContractFunction
) -> PoolTxs:
    usdc = chain.market.usdc
    if usdc.functions.allowance(owner, pool.address).call() < amount:
        return _txs(chain, owner, usdc.functions.approve(pool.address, amount), then=step)
    return _txs(chain, owner, fn)


@router.post(
    "/{address}/supply", response_model=PoolTxs, responses=REFUSED, summary="Deposit stablecoin as a lender"
)
def supply(address: AddressPath, body: SupplyRequest, chain: ChainDep) -> PoolTxs:
    _, pool = find_pool(chain, address)
    deposit = pool.functions.deposit(body.assets, body.owner)
    return _with_allowance(chain, pool, body.owner, body.assets, "supply", deposit)


@router.post(
    "/{address}/withdraw", response_model=PoolTxs, responses=REFUSED, summary="Withdraw a lender's stablecoin"
)
def withdraw(address: AddressPath, body: WithdrawRequest, chain: ChainDep) -> PoolTxs:
    _, pool = find_pool(chain, address)
    return _txs(chain, body.owner, pool.functions.withdraw(body.assets, body.owner, body.owner))


@router.post(
    "/{address}/pledge", response_model=PoolTxs, responses=REFUSED, summary="Pledge GPU-hours as collateral"
)
def pledge(address: AddressPath, body: PledgeRequest, chain: ChainDep) -> PoolTxs:
    _, pool = find_pool(chain, address)
    hours = chain.market.hours
    if not hours.functions.isApprovedForAll(body.borrower, pool.address).call():
        return _txs(
            chain, body.borrower, hours.functions.setApprovalForAll(pool.address, True), then="pledge"
        )
    return _txs(chain, body.borrower, pool.functions.pledge(body.capacity_id, body.units))


@router.post(
    "/{address}/unpledge", response_model=PoolTxs, responses=REFUSED, summary="Take pledged GPU-hours back"
)
def unpledge(address: AddressPath, body: PledgeRequest, chain: ChainDep) -> PoolTxs:
    _, pool = find_pool(chain, address)
    return _txs(chain, body.borrower, pool.functions.unpledge(body.capacity_id, body.units, body.borrower))


@router.post(
    "/{address}/borrow", response_model=PoolTxs, responses=REFUSED, summary="Borrow against pledged hours"
)
def borrow(address: AddressPath, body: BorrowRequest, chain: ChainDep) -> PoolTxs:
    _, pool = find_pool(chain, address)
    return _txs(chain, body.borrower, pool.functions.borrow(body.assets, body.borrower))


@router.post("/{address}/repay", response_model=PoolTxs, responses=REFUSED, summary="Repay a borrower's debt")
def repay(address: AddressPath, body: RepayRequest, chain: ChainDep) -> PoolTxs:
    _, pool = find_pool(chain, address)
    owed, _ = pool.functions.debtOf(body.borrower).call()
    amount = body.assets
    if amount == MAX_UINT256:
        amount = with_repay_margin(owed)
    elif amount > owed:  # checked before the approval, which would hide the pool's refusal
        raise _refused(errors.RepayExceedsDebt({"onBehalf": body.borrower, "assets": amount, "owed": owed}))
    return _with_allowance(
        chain, pool, body.payer, amount, "repay", pool.functions.repay(body.assets, body.borrower)
    )


@router.post(
    "/{address}/liquidate",
    response_model=PoolTxs,
    responses=REFUSED,
    summary="Liquidate an unhealthy position: repay part of its debt, seize its GPU-hours",
)
def liquidate(address: AddressPath, body: LiquidateRequest, chain: ChainDep) -> PoolTxs:
    _, pool = find_pool(chain, address)
    fn = pool.functions.liquidate(body.borrower, body.capacity_id, body.seized_units, body.repaid_shares, b"")
    try:
        tx = chain.market.build_tx(body.liquidator, fn)
    except errors.ERC20InsufficientAllowance as exc:
        approve = chain.market.usdc.functions.approve(pool.address, with_repay_margin(exc.fields["needed"]))
        return _txs(chain, body.liquidator, approve, then="liquidate")
    except ContractRevert as exc:
        raise _refused(exc) from None
    return PoolTxs.model_validate({"transactions": [tx_json(tx)], "then": None})


@router.post(
    "/{address}/settle-expired",
    response_model=PoolTxs,
    responses=REFUSED,
    summary="Credit positions with what their pledged hours of an ended or cancelled capacity returned",
)
def settle_expired(address: AddressPath, body: SettleExpiredRequest, chain: ChainDep) -> PoolTxs:
    _, pool = find_pool(chain, address)
    return _txs(chain, body.caller, pool.functions.settleExpired(body.capacity_id, body.borrowers))
