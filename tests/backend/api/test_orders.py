"""Posting signed orders over HTTP against the real Exchange: what is fillable goes on the book,
everything else gets a 4xx naming why; withdrawal hands back the on-chain cancel."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import pytest
from eth_account import Account

from backend.chain.client import Market
from backend.chain.errors import ContractRevert
from backend.chain.orders import Order, OrderKind, SignedOrder, order_hash, sign_order, typed_data
from tests.backend.api import test_auth
from tests.backend.api.test_auth import bearer, deploy_wallet, error, sign_in
from tests.conftest import USDC, fund, now

HOUR = 3600
PRICE = 2 * USDC

wallet_artifact = test_auth.wallet_artifact  # the compiled ERC-1271 wallet, a session fixture


@pytest.fixture
def book(market: Market, accounts) -> dict[str, Any]:
    """Provider 1 with a 2-GPU, 3-hour capacity (6 GPU-hours); renters 3 and 4 funded and approved."""
    provider = accounts[1]
    fund(market, (provider, accounts[3], accounts[4]), 10_000 * USDC)
    node = market.register_node(provider, "H100-SXM5-80GB", 2, 80, "eu-west", "NVLink", ["GPU-a", "GPU-b"])
    t = now(market)
    start = t - t % HOUR + HOUR
    bond = market.min_bond_per_unit() * 6
    capacity = market.create_capacity(provider, node, start, start + 3 * HOUR, 1_000_000, bond)
    return {"provider": provider, "capacity": capacity, "start": start, "expiry": start + HOUR}


def body(signed: SignedOrder, **extra: Any) -> dict[str, Any]:
    """The POST /orders body: uint256 values as decimal strings, the rest as numbers (both are taken)."""
    o = signed.order
    return {
        "maker": o.maker,
        "kind": int(o.kind),
        "capacityId": o.capacity_id,
        "amount": o.amount,
        "price": str(o.price),
        "expiry": o.expiry,
        "salt": str(o.salt),
        "counter": o.counter,
        "signature": "0x" + signed.signature.hex(),
        **extra,
    }


def sign(market: Market, account, order: Order, *, chain_id: int | None = None, exchange: str | None = None):
    return sign_order(order, account, chain_id or market.chain_id, exchange or market.exchange.address)


def ask(market: Market, book: dict[str, Any], amount: int = 4, **changes: Any) -> Order:
    order = Order.new(
        book["provider"].address, OrderKind.PRIMARY_SELL, book["capacity"], amount, PRICE, book["expiry"]
    )
    return replace(order, **changes)


def test_a_primary_sell_goes_on_the_book_and_fills(serve, market, accounts, book, index):
    api = serve()
    signed = sign(market, book["provider"], ask(market, book))
    h = "0x" + signed.hash.hex()
    posted = api.post("/orders", json=body(signed))
    assert posted.status_code == 201, posted.text
    got = posted.json()
    assert got["hash"] == h and got["state"] == "open" and "status" not in got
    assert got["kind"] == "primary_sell" and got["filled"] == "0" and got["remaining"] == "4"
    assert got["order"] == {
        "maker": book["provider"].address,
        "kind": 0,
        "capacityId": str(book["capacity"]),
        "amount": "4",
        "price": str(PRICE),
        "expiry": str(book["expiry"]),
        "salt": str(signed.order.salt),
        "counter": "0",
    }
    assert api.get(f"/orders/{h}").json() == got

    # What the book hands out fills at the Exchange as it is.
    o = got["order"]
    from_book = Order(
        o["maker"],
        OrderKind(o["kind"]),
        int(o["capacityId"]),
        int(o["amount"]),
        int(o["price"]),
        int(o["expiry"]),
        int(o["salt"]),
        int(o["counter"]),
    )
    signature = bytes.fromhex(got["signature"][2:])
    fill = market.fill(accounts[3], SignedOrder(from_book, signature, signed.hash), 3)
    assert fill.amount == 3
    index()
    after = api.get(f"/orders/{h}").json()
    assert (after["state"], after["filled"], after["remaining"]) == ("partially_filled", "3", "1")

    page = api.get("/orders", params={"maker": book["provider"].address, "state": "partially_filled"}).json()
    assert [i["hash"] for i in page["items"]] == [h] and page["total"] == 1
    assert api.get("/orders", params={"state": "open"}).json()["total"] == 0
    assert api.get("/orders", params={"capacity_id": book["capacity"] + 1}).json()["items"] == []
    assert error(api.get("/orders", params={"state": "bogus"})) == (422, "invalid_request")
    assert error(api.get(f"/orders/0x{'00' * 32}")) == (404, "not_found")

    # A replay of the same order is a duplicate; once filled in full it is refused as filled.
    assert error(api.post("/orders", json=body(signed))) == (409, "duplicate_order")
    market.fill(accounts[4], signed, 1)
    rest = sign(market, book["provider"], ask(market, book, amount=2))
    market.fill(accounts[4], rest, 2)
    assert error(api.post("/orders", json=body(rest))) == (409, "order_filled")


def test_unfillable_orders_are_refused_with_the_reason(serve, market, accounts, book):
    api = serve(api_max_price=1_000 * USDC)
    provider = book["provider"]
    t = max(int(time.time()), now(market))  # the server's now: wall clock, or the chain's if ahead

    def post(signed: SignedOrder, **extra: Any) -> tuple[int, str]:
        response = api.post("/orders", json=body(signed, **extra))
        assert response.status_code >= 400, response.text
        assert response.json()["error"]["reason"], response.text
        return error(response)

    # Signed by someone else than the maker.
    forged = ask(market, book)
    sig = Account.sign_typed_data(
        accounts[2].key, full_message=typed_data(forged, market.chain_id, market.exchange.address)
    ).signature
    assert post(SignedOrder(forged, bytes(sig), b"")) == (400, "bad_signature")
    # Signed for another chain or another Exchange: named when the domain is stated, else a bad signature.
    foreign = sign(market, provider, ask(market, book), chain_id=1)
    assert post(foreign, chainId=1) == (400, "wrong_chain")
    assert post(foreign) == (400, "bad_signature")
    elsewhere = sign(market, provider, ask(market, book), exchange=market.usdc.address)
    assert post(elsewhere, verifyingContract=market.usdc.address) == (400, "wrong_verifying_contract")
    assert post(elsewhere) == (400, "bad_signature")
    # Time and counter.
    assert post(sign(market, provider, ask(market, book, expiry=t - 10))) == (400, "order_expired")
    assert post(sign(market, provider, ask(market, book, expiry=t + 20))) == (400, "expiry_too_soon")
    assert post(sign(market, provider, ask(market, book, counter=1))) == (400, "stale_counter")
    assert post(sign(market, provider, ask(market, book, expiry=2**64))) == (400, "expiry_out_of_range")
    # Amounts and prices.
    assert post(sign(market, provider, ask(market, book, amount=0))) == (400, "zero_amount")
    assert post(sign(market, provider, ask(market, book, price=0))) == (400, "price_out_of_range")
    dear = ask(market, book, price=1_000 * USDC + 1)
    too_dear = api.post("/orders", json=body(sign(market, provider, dear)))
    assert error(too_dear) == (400, "price_out_of_range")
    assert "1000000001" in too_dear.json()["error"]["reason"]
    over = api.post("/orders", json=body(sign(market, provider, ask(market, book, amount=7))))
    assert error(over) == (400, "supply_cap_exceeded") and "0 of 6 minted" in over.json()["error"]["reason"]
    # Capacity and maker.
    assert post(sign(market, provider, ask(market, book, capacity_id=999))) == (400, "unknown_capacity")
    stranger = accounts[2]
    not_mine = Order.new(stranger.address, OrderKind.PRIMARY_SELL, book["capacity"], 1, PRICE, book["expiry"])
    assert post(sign(market, stranger, not_mine)) == (400, "not_provider")
    # Cancelled on chain, by hash and by raising the counter.
    cancelled = sign(market, provider, ask(market, book))
    market.cancel_orders(provider, [cancelled.order])
    assert post(cancelled) == (409, "order_cancelled")
    before_bump = sign(market, provider, ask(market, book))
    market.increment_counter(provider)
    assert post(before_bump) == (400, "stale_counter")
    # Malformed bodies never reach the checks.
    good = body(sign(market, provider, ask(market, book, counter=1)))
    assert error(api.post("/orders", json={**good, "amount": "-1"})) == (422, "invalid_request")
    assert error(api.post("/orders", json={**good, "salt": str(2**256)})) == (422, "invalid_request")
    assert error(api.post("/orders", json={**good, "amount": 1.5})) == (422, "invalid_request")
    assert error(api.post("/orders", json={**good, "kind": 3})) == (422, "invalid_request")
    assert error(api.post("/orders", json={k: v for k, v in good.items() if k != "signature"})) == (
        422,
        "invalid_request",
    )
    # Nothing refused was stored; the good one still goes through.
    assert api.get("/orders").json()["total"] == 0
    # uint256 values past JavaScript's safe integers arrive as JSON numbers too.
    posted = api.post("/orders", json={**good, "salt": int(good["salt"]), "price": int(good["price"])})
    assert posted.status_code == 201, posted.text
    assert posted.json()["order"]["salt"] == good["salt"]


def test_sells_need_the_hours_and_bids_the_money(serve, market, accounts, book):
    api = serve()
    holder, broke = accounts[3], accounts[5]
    market.fill(holder, sign(market, book["provider"], ask(market, book, amount=2)), 2)

    resale = Order.new(holder.address, OrderKind.SELL, book["capacity"], 3, PRICE, book["expiry"])
    assert error(api.post("/orders", json=body(sign(market, holder, resale)))) == (400, "insufficient_hours")
    resale = replace(resale, amount=2)
    assert api.post("/orders", json=body(sign(market, holder, resale))).status_code == 201

    bid = Order.new(broke.address, OrderKind.BUY, book["capacity"], 2, PRICE, book["expiry"])
    assert error(api.post("/orders", json=body(sign(market, broke, bid)))) == (400, "insufficient_funds")
    market.faucet(broke, 2 * PRICE)
    posted = api.post("/orders", json=body(sign(market, broke, bid)))
    assert posted.status_code == 201 and posted.json()["kind"] == "buy"
    assert api.get("/orders", params={"kind": "buy"}).json()["total"] == 1


def test_a_contract_wallet_posts_a_bid_through_erc1271(serve, market, accounts, book, wallet_artifact):
    api = serve()
    owner = accounts[4]
    wallet = deploy_wallet(market, wallet_artifact, accounts[0], owner.address)
    market.send(accounts[0], market.usdc.functions.mint(wallet, 100 * USDC))
    bid = Order.new(wallet, OrderKind.BUY, book["capacity"], 2, PRICE, book["expiry"])
    digest = order_hash(bid, market.chain_id, market.exchange.address)
    by_owner = Account.sign_typed_data(
        owner.key, full_message=typed_data(bid, market.chain_id, market.exchange.address)
    ).signature
    posted = api.post("/orders", json=body(SignedOrder(bid, bytes(by_owner), digest)))
    assert posted.status_code == 201, posted.text
    assert posted.json()["order"]["maker"] == wallet
    by_stranger = Account.sign_typed_data(
        accounts[3].key,
        full_message=typed_data(replace(bid, salt=1), market.chain_id, market.exchange.address),
    ).signature
    assert error(
        api.post("/orders", json=body(SignedOrder(replace(bid, salt=1), bytes(by_stranger), b"")))
    ) == (400, "bad_signature")


def test_withdrawal_is_the_makers_and_returns_the_binding_cancel(serve, market, accounts, book, index):
    api = serve()
    provider = book["provider"]
    signed = sign(market, provider, ask(market, book))
    h = "0x" + signed.hash.hex()
    assert api.post("/orders", json=body(signed)).status_code == 201

    assert error(api.delete(f"/orders/{h}")) == (401, "unauthorized")
    other = sign_in(api, accounts[2])
    assert error(api.delete(f"/orders/{h}", headers=bearer(other))) == (403, "not_maker")
    assert api.get(f"/orders/{h}").json()["state"] == "open"

    token = sign_in(api, provider)
    assert error(api.delete(f"/orders/0x{'ab' * 32}", headers=bearer(token))) == (404, "not_found")
    withdrawn = api.delete(f"/orders/{h}", headers=bearer(token))
    assert withdrawn.status_code == 200, withdrawn.text
    got = withdrawn.json()
    assert got["order"]["state"] == "withdrawn"
    tx = got["cancel_tx"]
    assert tx["from"] == provider.address and tx["to"] == market.exchange.address
    assert tx["chainId"] == market.chain_id and isinstance(tx["gas"], int) and tx["data"].startswith("0x")
    assert api.get("/orders", params={"state": "open"}).json()["total"] == 0

    # Off the book is not off the chain: the signed order still fills until the cancel is mined.
    assert tuple(market.exchange.functions.status(signed.hash).call()) == (0, False)
    raw = provider.sign_transaction({k: v for k, v in tx.items() if k != "from"}).raw_transaction
    receipt = market.w3.eth.wait_for_transaction_receipt(market.w3.eth.send_raw_transaction(raw))
    assert receipt["status"] == 1
    assert tuple(market.exchange.functions.status(signed.hash).call()) == (0, True)
    with pytest.raises(ContractRevert, match="CancelledOrder"):
        market.fill(accounts[3], signed, 1)
    index()
    assert api.get(f"/orders/{h}").json()["state"] == "withdrawn"


def test_a_bearer_token_on_post_orders_is_checked(serve, market, accounts, book):
    api = serve()
    signed = sign(market, book["provider"], ask(market, book))
    garbage = api.post("/orders", json=body(signed), headers=bearer("not-a-token"))
    assert error(garbage) == (401, "unauthorized")
    someone_else = sign_in(api, accounts[5])
    foreign = api.post("/orders", json=body(signed), headers=bearer(someone_else))
    assert error(foreign) == (403, "not_maker")
    assert accounts[5].address in foreign.json()["error"]["reason"]
    assert api.get("/orders").json()["total"] == 0  # neither refusal put it on the book
    own = sign_in(api, book["provider"])
    posted = api.post("/orders", json=body(signed), headers=bearer(own))
    assert posted.status_code == 201, posted.text
    relayed = sign(market, book["provider"], ask(market, book, amount=2))
    assert api.post("/orders", json=body(relayed)).status_code == 201  # no token: anyone may relay
