"""Unsigned transactions for wallets: fill, batch fill, activate, cancel, approve, claim, and the
EIP-2612 permit to sign. The API builds and prices them against the chain (a call that would revert is a 409
naming the contract's error); the wallet signs and sends. No key is held here."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from backend.api.deps import ChainDep, SessionDep
from backend.api.errors import ApiError, documented
from backend.api.schemas.wallet import (
    ActivateRequest,
    ApproveRequest,
    BatchFillRequest,
    CancelRequest,
    ClaimRequest,
    FillRequest,
    MakerRequest,
    PermitRequest,
    TypedData,
    UnsignedTx,
)
from backend.api.wallet_tx import tx_json
from backend.chain import eip712
from backend.chain.orders import Order
from backend.db.models import PostedOrder
from backend.market.order_state import as_order

router = APIRouter(prefix="/tx", tags=["wallet"])

_REVERT = documented(
    {409: "would_revert: the transaction would revert; `details.error` names the contract's error"}
)
_UNKNOWN_ORDER = {**_REVERT, **documented({404: "unknown_order: no such order was posted on this chain"})}


def _posted(db: SessionDep, chain_id: int, order_hash: str) -> tuple[Order, bytes]:
    row = db.get(PostedOrder, (chain_id, order_hash.lower()))
    if row is None:
        raise ApiError(404, "unknown_order", f"no order {order_hash} was posted on chain {chain_id}")
    order = as_order(row)
    return order, bytes.fromhex(row.signature[2:])


def _tx(chain: ChainDep, sender: str, fn: Any) -> dict[str, Any]:
    return tx_json(chain.market.build_tx(sender, fn))


@router.post(
    "/fill",
    response_model=UnsignedTx,
    response_model_by_alias=True,
    responses=_UNKNOWN_ORDER,
    summary="Take `amount` GPU-hours of a posted order",
)
def fill(body: FillRequest, db: SessionDep, chain: ChainDep) -> dict[str, Any]:
    market = chain.market
    order, signature = _posted(db, market.chain_id, body.order_hash)
    if body.permit is None:
        fn = market.exchange.functions.fill(order.as_tuple(), signature, body.amount)
    else:
        p = body.permit
        fn = market.exchange.functions.fillWithPermit(
            order.as_tuple(),
            signature,
            body.amount,
            (p.value, p.deadline, p.v, bytes.fromhex(p.r[2:]), bytes.fromhex(p.s[2:])),
        )
    return _tx(chain, body.taker, fn)


@router.post(
    "/fill-batch",
    response_model=UnsignedTx,
    response_model_by_alias=True,
    responses=_UNKNOWN_ORDER,
    summary="Take from several posted orders in one transaction",
)
def fill_batch(body: BatchFillRequest, db: SessionDep, chain: ChainDep) -> dict[str, Any]:
    market = chain.market
    fills = []
    for item in body.fills:
        order, signature = _posted(db, market.chain_id, item.order_hash)
        fills.append((order.as_tuple(), signature, item.amount))
    return _tx(chain, body.taker, market.exchange.functions.fillBatch(fills))


@router.post(
    "/activate",
    response_model=UnsignedTx,
    response_model_by_alias=True,
    responses=_REVERT,
    summary="Book `gpus` GPUs for `hours` hours from `start`, burning the hours",
)
def activate(body: ActivateRequest, chain: ChainDep) -> dict[str, Any]:
    fn = chain.market.hours.functions.activate(body.capacity_id, body.start, body.hours, body.gpus)
    return _tx(chain, body.holder, fn)


@router.post(
    "/cancel",
    response_model=UnsignedTx,
    response_model_by_alias=True,
    responses=_UNKNOWN_ORDER,
    summary="Cancel posted orders on chain, for good",
)
def cancel(body: CancelRequest, db: SessionDep, chain: ChainDep) -> dict[str, Any]:
    market = chain.market
    orders = [_posted(db, market.chain_id, h)[0].as_tuple() for h in body.order_hashes]
    return _tx(chain, body.maker, market.exchange.functions.cancel(orders))


@router.post(
    "/cancel-all",
    response_model=UnsignedTx,
    response_model_by_alias=True,
    responses=_REVERT,
    summary="Cancel every order the maker signed so far (bumps the maker's counter)",
)
def cancel_all(body: MakerRequest, chain: ChainDep) -> dict[str, Any]:
    return _tx(chain, body.maker, chain.market.exchange.functions.incrementCounter())


@router.post(
    "/approve",
    response_model=UnsignedTx,
    response_model_by_alias=True,
    responses=_REVERT,
    summary="Let the exchange (to buy) or the escrow (bonds) spend the stablecoin",
)
def approve(body: ApproveRequest, chain: ChainDep) -> dict[str, Any]:
    market = chain.market
    spender = market.exchange.address if body.spender == "exchange" else market.escrow.address
    return _tx(chain, body.owner, market.usdc.functions.approve(spender, body.amount))


@router.post(
    "/claim",
    response_model=UnsignedTx,
    response_model_by_alias=True,
    responses=_REVERT,
    summary="Withdraw everything credited to the account in escrow: refunds, slashed bond, earnings",
)
def claim(body: ClaimRequest, chain: ChainDep) -> dict[str, Any]:
    """`Escrow.withdraw(to)` sent by the account; with nothing to claim, a 409 naming
    `NothingToWithdraw`."""
    escrow = chain.market.escrow
    return _tx(chain, body.account, escrow.functions.withdraw(body.to or body.account))


@router.post(
    "/permit",
    response_model=TypedData,
    summary="The EIP-2612 permit for the exchange, as typed data to sign; then fill with it",
)
def permit(body: PermitRequest, chain: ChainDep) -> dict[str, Any]:
    market = chain.market
    _, name, version, chain_id, contract, _, _ = market.usdc.functions.eip712Domain().call()
    return eip712.typed_data(
        eip712.domain(name, version, chain_id, contract),
        "Permit",
        {"Permit": eip712.PERMIT_FIELDS},
        {
            "owner": body.owner,
            "spender": market.exchange.address,
            "value": body.value,
            "nonce": market.usdc.functions.nonces(body.owner).call(),
            "deadline": body.deadline,
        },
    )
