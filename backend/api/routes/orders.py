"""Signed orders: post (every check the Exchange would make at fill time, made now), read, withdraw.

Posting needs no sign-in: the EIP-712 signature is the maker's authority (a bearer token sent anyway
must be valid and sign in the maker: 401 or 403 otherwise, never ignored). Withdrawing does, as the
maker, and takes the order off this book at once; only `Exchange.cancel`, sent by the maker's
wallet, stops a copy of the signed order from being filled elsewhere.

The checks and the book are the market's (backend/market/orders.py); its refusals are answered with
their status by the API's error handler (errors.MARKET_STATUS).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, status

from backend.api.deps import ChainDep, ChainIdDep, CurrentAddress, OptionalAddress, SessionDep, SettingsDep
from backend.api.errors import RATE_LIMITED, SIGNED_IN, ApiError, documented
from backend.api.limits import write_quota
from backend.api.reads import checked_address, page_bounds
from backend.api.schemas.orders import OrderCreate, OrderHash, OrderPage, OrderPublic, OrderWithdrawn
from backend.api.schemas.types import AddressQuery, BigIntQuery, Limit, Offset
from backend.api.wallet_tx import tx_json
from backend.chain.orders import DOMAIN_NAME, DOMAIN_VERSION
from backend.db.models import ORDER_KINDS
from backend.market import orders as book
from backend.market.order_checks import Limits
from backend.market.order_state import PostedOrderState
from backend.market.templates import market_now

router = APIRouter(prefix="/orders", tags=["orders"])

State = Literal["open", "partially_filled", "filled", "cancelled", "expired", "withdrawn"]  # PostedOrderState
Kind = Literal["primary_sell", "sell", "buy"]  # db.models.ORDER_KINDS

ORDER_ERRORS = documented(
    {
        400: "the order is not fillable as posted; `code` says why: bad_signature, "
        "wrong_chain, wrong_verifying_contract, order_expired, expiry_too_soon, "
        "expiry_out_of_range, stale_counter, zero_amount, price_out_of_range, "
        "price_overflow, unknown_capacity, capacity_not_active, window_ended, not_provider, "
        "supply_cap_exceeded, insufficient_hours, insufficient_funds",
        401: "unauthorized: a bearer token was sent and it is unknown, expired or revoked",
        403: "not_maker: the bearer token signs in another address than the order's maker",
        409: "duplicate_order, order_cancelled or order_filled",
    }
)
NO_ORDER = documented({404: "not_found: no such order on this chain"})


def _public(row: Any) -> OrderPublic:
    m = row._mapping
    return OrderPublic(
        hash=m["order_hash"],
        chain_id=m["chain_id"],
        signature=m["signature"],
        kind=m["kind"],
        order={
            "maker": m["maker"],
            "kind": ORDER_KINDS.index(m["kind"]),
            "capacity_id": m["capacity_id"],
            "amount": m["amount"],
            "price": m["price"],
            "expiry": m["expiry"],
            "salt": m["salt"],
            "counter": m["counter"],
        },
        state=m["state"],
        filled=m["filled"],
        remaining=m["remaining"],
        posted_at=m["posted_at"],
    )


def _load(db: SessionDep, chain_id: int, now: int, h: str) -> OrderPublic:
    return _public(book.load(db.connection(), chain_id, now, h))


POST_DESCRIPTION = f"""Checks the order as the Exchange would fill it now, then puts it on the book.

The EIP-712 domain is `{{name: "{DOMAIN_NAME}", version: "{DOMAIN_VERSION}", chainId, verifyingContract: the
Exchange}}`; send `chainId` and `verifyingContract` too and a wrong domain is named as such. Checked: the
signature (ECDSA by `maker`, or ERC-1271 when `maker` is a contract), expiry at least the minimum ahead,
`counter` equal to the maker's on-chain counter, not cancelled nor filled on chain, the capacity active with
its window not over, a primary sell by the capacity's provider within the supply left, a sell by a holder
of the hours, a bid by a holder of the money, and a price in (0, the maximum].

No sign-in is needed: anyone may relay a signed order. A bearer token sent anyway must be valid (401)
and sign in the order's maker (403 `not_maker`)."""


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=OrderPublic,
    summary="Post a signed order",
    description=POST_DESCRIPTION,
    responses={**ORDER_ERRORS, **RATE_LIMITED},
    dependencies=[Depends(write_quota)],
    openapi_extra={"security": [{}, {"HTTPBearer": []}]},  # a token is optional (checked when sent)
)
def post_order(
    body: OrderCreate, db: SessionDep, chain: ChainDep, settings: SettingsDep, poster: OptionalAddress
) -> OrderPublic:
    if poster is not None and poster.lower() != body.maker.lower():
        raise ApiError(403, "not_maker", f"signed in as {poster}, but the order's maker is {body.maker}")
    market = chain.market
    limits = Limits(max_price=settings.api_max_price, min_expiry=settings.api_min_expiry)
    h, now = book.post(
        db, market, body.to_order(), body.signature, limits, body.chain_id, body.verifying_contract
    )
    return _load(db, market.chain_id, now, h)


@router.get(
    "/{order_hash}", response_model=OrderPublic, summary="One order and its state", responses=NO_ORDER
)
def get_order(
    order_hash: Annotated[OrderHash, Path(description="0x EIP-712 digest")],
    db: SessionDep,
    chain_id: ChainIdDep,
) -> OrderPublic:
    return _load(db, chain_id, market_now(db.connection(), chain_id), order_hash)


@router.get("", response_model=OrderPage, summary="Orders, newest first")
def list_orders(
    db: SessionDep,
    chain_id: ChainIdDep,
    settings: SettingsDep,
    maker: Annotated[AddressQuery, Query(description="the maker's address")] = None,
    capacity_id: BigIntQuery = None,
    state: Annotated[State | None, Query(description="the order's state now")] = None,
    kind: Kind | None = None,
    limit: Limit = None,
    offset: Offset = 0,
) -> OrderPage:
    limit, offset = page_bounds(settings, limit, offset)
    conn = db.connection()
    rows, total = book.page(
        conn,
        chain_id,
        market_now(conn, chain_id),
        limit,
        offset,
        maker=None if maker is None else checked_address(maker, "maker"),
        capacity_id=capacity_id,
        kind=kind,
        state=None if state is None else PostedOrderState(state),
    )
    return OrderPage(items=[_public(r) for r in rows], total=total, limit=limit, offset=offset)


@router.delete(
    "/{order_hash}",
    response_model=OrderWithdrawn,
    response_model_exclude_none=True,
    summary="Withdraw an order (maker only)",
    responses={
        **SIGNED_IN,
        **NO_ORDER,
        **documented(
            {
                403: "not_maker: signed in as another address",
                409: "would_revert: Exchange.cancel would revert; `details.error` names the contract's error",
            }
        ),
    },
)
def withdraw_order(
    order_hash: Annotated[OrderHash, Path(description="0x EIP-712 digest")],
    db: SessionDep,
    chain: ChainDep,
    address: CurrentAddress,
) -> OrderWithdrawn:
    """Takes the order off this book at once (`withdrawn`) and returns the unsigned
    `Exchange.cancel([order])` for the maker's wallet to sign and send.

    Only the on-chain cancel binds: until it is mined, anyone holding the signed order can still fill
    it at the Exchange. A contract wallet sends the same call through its own execution."""
    market = chain.market
    tx = book.withdraw(db, market, order_hash, address)
    return OrderWithdrawn(
        order=_load(db, market.chain_id, market_now(db.connection(), market.chain_id), order_hash),
        cancel_tx=tx_json(tx),
    )
