"""Unsigned settlement transactions: settle a booking, the unused hours of an ended window, or close
the window, by hand from any wallet. The keeper (backend/tasks/keeper.py) does the same on its own;
whichever comes first settles, and the other would revert with the contract's reason (a 409 here)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy import select

from backend.api.deps import ChainDep, SessionDep
from backend.api.errors import ApiError, documented
from backend.api.schemas.settle import (
    EndBookingRequest,
    SettleBookingRequest,
    SettleCapacityRequest,
    SettleUnusedRequest,
)
from backend.api.schemas.wallet import UnsignedTx
from backend.api.wallet_tx import tx_json
from backend.db.models import Balance, table_of

router = APIRouter(prefix="/tx/settle", tags=["settlement"])

_REVERT = documented(
    {
        409: "would_revert: the transaction would revert; `details.error` names the contract's error "
        "(NotSettleable: not yet; BookingNotOpen, CapacityNotSettleable: done "
        "already; UnitsOutstanding: settle bookings and unused hours first)"
    }
)
_MAX_HOLDERS = 200


@router.post(
    "/booking",
    response_model=UnsignedTx,
    response_model_by_alias=True,
    responses=_REVERT,
    summary="Settle a booking: pay the provider for attested hours, refund the rest",
)
def settle_booking(body: SettleBookingRequest, chain: ChainDep) -> dict[str, Any]:
    market = chain.market
    return tx_json(market.build_tx(body.sender, market.settlement.functions.settleBooking(body.booking_id)))


@router.post(
    "/unused",
    response_model=UnsignedTx,
    response_model_by_alias=True,
    responses={
        **_REVERT,
        **documented({404: "no_holders: holders left out, and the index shows nobody holding hours"}),
    },
    summary="Settle the hours holders left unused in an ended window",
)
def settle_unused(body: SettleUnusedRequest, db: SessionDep, chain: ChainDep) -> dict[str, Any]:
    market = chain.market
    holders = body.holders
    if holders is None:
        bal = table_of(Balance)
        query = (
            select(bal.c.holder)
            .where(bal.c.chain_id == market.chain_id, bal.c.capacity_id == body.capacity_id, bal.c.amount > 0)
            .order_by(bal.c.holder)
            .limit(_MAX_HOLDERS)
        )
        holders = list(db.exec(query).scalars())  # type: ignore[call-overload]
        if not holders:
            raise ApiError(
                404,
                "no_holders",
                f"the index shows nobody holding hours of capacity "
                f"{body.capacity_id}: nothing unused to settle",
            )
    fn = market.settlement.functions.settleUnused(body.capacity_id, holders)
    return tx_json(market.build_tx(body.sender, fn))


@router.post(
    "/capacity",
    response_model=UnsignedTx,
    response_model_by_alias=True,
    responses=_REVERT,
    summary="Close an ended, fully settled capacity and send the rest of its bond home",
)
def settle_capacity(body: SettleCapacityRequest, chain: ChainDep) -> dict[str, Any]:
    market = chain.market
    return tx_json(market.build_tx(body.sender, market.settlement.functions.settleCapacity(body.capacity_id)))


_END_REVERT = documented(
    {
        409: "would_revert: the transaction would revert; `details.error` names the contract's "
        "error (NotBookingHolder, BookingNotStarted, NothingToEnd, BookingNotOpen)"
    }
)


@router.post(
    "/end-booking",
    response_model=UnsignedTx,
    response_model_by_alias=True,
    responses=_END_REVERT,
    summary="End a running booking early: the hours not yet started refunded at once",
)
def end_booking(body: EndBookingRequest, chain: ChainDep) -> dict[str, Any]:
    market = chain.market
    return tx_json(market.build_tx(body.sender, market.settlement.functions.endBooking(body.booking_id)))
