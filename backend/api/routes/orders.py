"""Signed orders: post (every check the Exchange would make at fill time, made now), read, withdraw.

Posting needs no sign-in: the EIP-712 signature is the maker's authority. Withdrawing does, as the
maker, and takes the order off this book at once; only `Exchange.cancel`, sent by the maker's
wallet, stops a copy of the signed order from being filled elsewhere.
"""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from eth_keys import keys
from eth_keys.exceptions import BadSignature, ValidationError
from eth_utils import to_checksum_address
from fastapi import APIRouter, Path, Query, status
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from backend.api.deps import ChainDep, ChainIdDep, CurrentAddress, SessionDep, SettingsDep
from backend.api.errors import SIGNED_IN, ApiError, documented
from backend.api.reads import checked_address, page_bounds
from backend.api.schemas.orders import OrderCreate, OrderHash, OrderPage, OrderPublic, OrderWithdrawn
from backend.api.schemas.types import AddressQuery, BigIntQuery, Limit, Offset
from backend.api.wallet_tx import tx_json
from backend.chain.client import Market
from backend.chain.orders import DOMAIN_NAME, DOMAIN_VERSION, Order, OrderKind, order_hash
from backend.chain.protocol import CAPACITY_STATUSES
from backend.config import Settings
from backend.db.models import ORDER_KINDS, SignedOrder
from backend.market.order_state import ORDERS_WITH_STATE, as_order, so
from backend.market.templates import market_now

router = APIRouter(prefix="/orders", tags=["orders"])

SECP256K1_HALF_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141 // 2
ERC1271_MAGIC = bytes.fromhex("1626ba7e")
ERC1271_ABI = [
    {
        "name": "isValidSignature",
        "type": "function",
        "stateMutability": "view",
        "inputs": [{"name": "hash", "type": "bytes32"}, {"name": "signature", "type": "bytes"}],
        "outputs": [{"name": "", "type": "bytes4"}],
    }
]
UINT128_MAX = 2**128 - 1
INT64_MAX = 2**63 - 1  # the store's BIGINT expiry column
State = Literal["open", "partially_filled", "filled", "cancelled", "expired", "withdrawn"]
Kind = Literal["primary_sell", "sell", "buy"]  # db.models.ORDER_KINDS

ORDER_ERRORS = documented(
    {
        400: "the order is not fillable as posted; `code` says why: bad_signature, "
        "wrong_chain, wrong_verifying_contract, order_expired, expiry_too_soon, "
        "expiry_out_of_range, stale_counter, zero_amount, price_out_of_range, "
        "price_overflow, unknown_capacity, capacity_not_active, window_ended, not_provider, "
        "supply_cap_exceeded, insufficient_hours, insufficient_funds",
        409: "duplicate_order, order_cancelled or order_filled",
    }
)
NO_ORDER = documented({404: "not_found: no such order on this chain"})


def chain_now(market: Market) -> int:
    """The later of the wall clock and the chain's head: a fill mines in a block at least this late."""
    return max(int(time.time()), market.w3.eth.get_block("latest")["timestamp"])


def recover(digest: bytes, signature: bytes) -> str | None:
    """The signer of `digest`, accepted exactly as OpenZeppelin's ECDSA.tryRecover does (v 27/28,
    low s), or None."""
    if len(signature) != 65:
        return None
    r, s, v = int.from_bytes(signature[:32]), int.from_bytes(signature[32:64]), signature[64]
    if v not in (27, 28) or s > SECP256K1_HALF_N or r == 0 or s == 0:
        return None
    try:
        key = keys.Signature(vrs=(v - 27, r, s)).recover_public_key_from_msg_hash(digest)
    except (BadSignature, ValidationError, ValueError):
        return None
    return key.to_checksum_address()


def signed_by(market: Market, maker: str, digest: bytes, signature: bytes) -> bool:
    """Exchange._verifySignature: ECDSA by the maker, else ERC-1271 when the maker is a contract."""
    if recover(digest, signature) == maker:
        return True
    address = to_checksum_address(maker)  # as the order's maker already is
    if not market.w3.eth.get_code(address):
        return False
    wallet = market.w3.eth.contract(address=address, abi=ERC1271_ABI)
    try:
        return bytes(wallet.functions.isValidSignature(digest, signature).call()) == ERC1271_MAGIC
    except Exception:  # noqa: BLE001 — a wallet that reverts or answers garbage did not sign
        return False


def _check_static(body: OrderCreate, order: Order, market: Market, settings: Settings, now: int) -> None:
    if order.amount == 0:
        raise ApiError(400, "zero_amount", "amount is 0: an order must offer at least one GPU-hour")
    if not 0 < order.price <= settings.api_max_price:
        raise ApiError(
            400,
            "price_out_of_range",
            f"price {order.price} is outside (0, {settings.api_max_price}] base units per GPU-hour",
        )
    if order.price * order.amount > UINT128_MAX:
        raise ApiError(
            400,
            "price_overflow",
            f"amount {order.amount} x price {order.price} exceeds what the Exchange settles (2^128 - 1)",
        )
    if order.expiry > INT64_MAX:
        raise ApiError(
            400, "expiry_out_of_range", f"expiry {order.expiry} is past 2^63 - 1 seconds; sign a unix time"
        )
    if order.expiry < now:
        raise ApiError(400, "order_expired", f"the order expired at {order.expiry}; it is now {now}")
    if order.expiry < now + settings.api_min_expiry:
        raise ApiError(
            400,
            "expiry_too_soon",
            f"expiry {order.expiry} is less than "
            f"{settings.api_min_expiry:g} s after now ({now}); sign an order that lives longer",
        )
    if body.chain_id is not None and body.chain_id != market.chain_id:
        raise ApiError(
            400,
            "wrong_chain",
            f"the order was signed for chain {body.chain_id}; this market is on chain {market.chain_id}",
        )
    if body.verifying_contract is not None and body.verifying_contract != market.exchange.address:
        raise ApiError(
            400,
            "wrong_verifying_contract",
            f"the order was signed for verifying contract "
            f"{body.verifying_contract}; this market's Exchange is {market.exchange.address}",
        )


def _check_chain(order: Order, digest: bytes, market: Market, now: int) -> None:
    """What Exchange._consume and the settlement of a fill would check, read from the chain now."""
    exchange, hours = market.exchange.functions, market.hours.functions
    h = "0x" + digest.hex()
    current = exchange.counter(order.maker).call()
    if order.counter != current:
        raise ApiError(
            400,
            "stale_counter",
            f"the order was signed under counter {order.counter}; "
            f"{order.maker}'s counter on the Exchange is {current}",
        )
    filled, cancelled = exchange.status(digest).call()
    if cancelled:
        raise ApiError(409, "order_cancelled", f"order {h} is cancelled on chain")
    if filled >= order.amount:
        raise ApiError(409, "order_filled", f"order {h} is filled ({filled} of {order.amount})")

    c = market.capacity(order.capacity_id)
    state = CAPACITY_STATUSES[c["status"]] if c["status"] < len(CAPACITY_STATUSES) else str(c["status"])
    if state == "none":
        raise ApiError(400, "unknown_capacity", f"capacity {order.capacity_id} does not exist")
    if state != "active":
        raise ApiError(400, "capacity_not_active", f"capacity {order.capacity_id} is {state}")
    if now >= c["end"]:
        raise ApiError(400, "window_ended", f"capacity {order.capacity_id}'s window ended at {c['end']}")

    if order.kind == OrderKind.PRIMARY_SELL:
        provider = hours.providerOf(order.capacity_id).call()
        if provider != order.maker:
            raise ApiError(
                400,
                "not_provider",
                f"{order.maker} cannot mint capacity {order.capacity_id}: its provider is {provider}",
            )
        cap = hours.supplyCap(order.capacity_id).call()
        left = cap - c["minted"]
        if order.amount - filled > left:
            raise ApiError(
                400,
                "supply_cap_exceeded",
                f"{order.amount - filled} GPU-hours to mint but "
                f"capacity {order.capacity_id} has {left} left ({c['minted']} of {cap} minted)",
            )
    elif order.kind == OrderKind.SELL:
        # exchangeTransfer moves the seller's hours without an ERC-1155 approval: holding them suffices.
        held = market.hours_of(order.maker, order.capacity_id)
        if held < order.amount - filled:
            raise ApiError(
                400,
                "insufficient_hours",
                f"{order.maker} holds {held} GPU-hours of capacity "
                f"{order.capacity_id}, fewer than the {order.amount - filled} offered",
            )
    else:
        total = (order.amount - filled) * order.price
        balance = market.usdc_balance(order.maker)
        if balance < total:
            raise ApiError(
                400, "insufficient_funds", f"the bid costs {total} base units; {order.maker} holds {balance}"
            )


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
        status=m["status"],
        state=m["state"],
        filled=m["filled"],
        remaining=m["remaining"],
        posted_at=m["posted_at"],
    )


def _load(db: SessionDep, chain_id: int, now: int, h: str) -> OrderPublic:
    row = (
        db.connection()
        .execute(ORDERS_WITH_STATE.where(so.c.order_hash == h.lower()), {"chain_id": chain_id, "now": now})
        .first()
    )
    if row is None:
        raise ApiError(404, "not_found", f"no order {h.lower()} on chain {chain_id}")
    return _public(row)


POST_DESCRIPTION = f"""Checks the order as the Exchange would fill it now, then puts it on the book.

The EIP-712 domain is `{{name: "{DOMAIN_NAME}", version: "{DOMAIN_VERSION}", chainId, verifyingContract: the
Exchange}}`; send `chainId` and `verifyingContract` too and a wrong domain is named as such. Checked: the
signature (ECDSA by `maker`, or ERC-1271 when `maker` is a contract), expiry at least the minimum ahead,
`counter` equal to the maker's on-chain counter, not cancelled nor filled on chain, the capacity active with
its window not over, a primary sell by the capacity's provider within the supply left, a sell by a holder
of the hours, a bid by a holder of the money, and a price in (0, the maximum]."""


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=OrderPublic,
    summary="Post a signed order",
    description=POST_DESCRIPTION,
    responses=ORDER_ERRORS,
)
def post_order(body: OrderCreate, db: SessionDep, chain: ChainDep, settings: SettingsDep) -> OrderPublic:
    market = chain.market
    order = body.to_order()
    now = chain_now(market)
    _check_static(body, order, market, settings, now)
    digest = order_hash(order, market.chain_id, market.exchange.address)
    h = "0x" + digest.hex()
    if db.get(SignedOrder, (market.chain_id, h)) is not None:
        raise ApiError(409, "duplicate_order", f"order {h} is already posted")
    if not signed_by(market, order.maker, digest, bytes.fromhex(body.signature[2:])):
        raise ApiError(
            400,
            "bad_signature",
            f"the signature is not {order.maker}'s over order {h} in domain "
            f"({DOMAIN_NAME!r}, {DOMAIN_VERSION!r}, chain {market.chain_id}, "
            f"{market.exchange.address})",
        )
    _check_chain(order, digest, market, now)
    db.rollback()  # the INSERT opens its own transaction: SQLite cannot upgrade an overtaken read snapshot
    posted = time.time()
    db.add(
        SignedOrder(
            chain_id=market.chain_id,
            order_hash=h,
            maker=order.maker,
            kind=ORDER_KINDS[order.kind],
            capacity_id=order.capacity_id,
            amount=order.amount,
            price=order.price,
            expiry=order.expiry,
            salt=order.salt,
            counter=order.counter,
            signature=body.signature,
            posted_at=posted,
            updated_at=posted,
        )
    )
    try:
        db.commit()
    except IntegrityError:
        db.rollback()
        raise ApiError(409, "duplicate_order", f"order {h} is already posted") from None
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
    params = {"chain_id": chain_id, "now": market_now(conn, chain_id)}
    q = ORDERS_WITH_STATE
    if maker is not None:
        q = q.where(so.c.maker == checked_address(maker, "maker"))
    if capacity_id is not None:
        q = q.where(so.c.capacity_id == capacity_id)
    if kind is not None:
        q = q.where(so.c.kind == kind)
    sub = q.subquery()
    filtered = select(sub)
    if state is not None:
        filtered = filtered.where(sub.c.state == state)
    total = conn.execute(select(func.count()).select_from(filtered.subquery()), params).scalar_one()
    page = filtered.order_by(sub.c.posted_at.desc(), sub.c.order_hash).limit(limit).offset(offset)
    rows = conn.execute(page, params).all()
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
    h = order_hash.lower()
    row = db.get(SignedOrder, (market.chain_id, h))
    if row is None:
        raise ApiError(404, "not_found", f"no order {h} on chain {market.chain_id}")
    if row.maker != address:
        raise ApiError(403, "not_maker", f"order {h} is {row.maker}'s; you are signed in as {address}")
    order = as_order(row)
    tx = market.build_tx(row.maker, market.exchange.functions.cancel([order.as_tuple()]))
    db.rollback()  # one UPDATE in a transaction of its own (see post_order)
    db.exec(
        update(SignedOrder)
        .where(
            col(SignedOrder.chain_id) == market.chain_id,
            col(SignedOrder.order_hash) == h,
        )
        .values(status="withdrawn", updated_at=time.time())
    )
    db.commit()
    return OrderWithdrawn(
        order=_load(db, market.chain_id, market_now(db.connection(), market.chain_id), h),
        cancel_tx=tx_json(tx),
    )
