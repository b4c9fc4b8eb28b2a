"""Unsigned transactions over HTTP, signed by the wallet's own key and sent: they do what they say."""

from __future__ import annotations

from eth_account import Account

from tests.backend.api.conftest import PRICE, list_capacity
from tests.conftest import USDC, now


def _send(market, account, tx: dict) -> dict:
    """Sign what the API returned with the wallet's key, send it, and wait for the receipt."""
    assert tx["from"] == account.address
    fields = {
        k: (v if k in ("to", "data") else int(v)) for k, v in tx.items() if k != "from" and v is not None
    }
    signed = account.sign_transaction(fields)
    receipt = market.w3.eth.wait_for_transaction_receipt(
        market.w3.eth.send_raw_transaction(signed.raw_transaction)
    )
    assert receipt["status"] == 1
    return receipt


def test_approve_fill_activate_cancel_from_unsigned_transactions(serve, market, accounts, store):
    cap, start, order_hash = list_capacity(market, accounts, store)
    api = serve()
    renter = accounts[3]
    market.faucet(renter, 100 * USDC)

    # Without an allowance the fill would revert: the API says so by the contract's error name.
    refused = api.post("/tx/fill", json={"taker": renter.address, "order_hash": order_hash, "amount": 4})
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "would_revert"
    assert refused.json()["error"]["details"]["error"] == "ERC20InsufficientAllowance"

    approve = api.post("/tx/approve", json={"owner": renter.address, "spender": "exchange", "amount": 10**12})
    assert approve.status_code == 200, approve.text
    assert approve.json()["to"] == market.usdc.address
    _send(market, renter, approve.json())

    tx = api.post("/tx/fill", json={"taker": renter.address, "order_hash": order_hash, "amount": 4}).json()
    assert (tx["to"], tx["chainId"], tx["value"]) == (market.exchange.address, market.chain_id, 0)
    before = market.usdc_balance(renter.address)
    _send(market, renter, tx)
    assert market.hours_of(renter.address, cap) == 4
    assert before - market.usdc_balance(renter.address) == 4 * PRICE

    tx = api.post(
        "/tx/activate",
        json={"holder": renter.address, "capacity_id": cap, "start": start, "hours": 2, "gpus": 2},
    ).json()
    _send(market, renter, tx)
    assert market.hours_of(renter.address, cap) == 0
    assert market.hours.functions.bookedAt(cap, start).call() == 2

    p1 = accounts[1]
    tx = api.post("/tx/cancel", json={"maker": p1.address, "order_hashes": [order_hash]}).json()
    _send(market, p1, tx)
    assert market.exchange.functions.status(bytes.fromhex(order_hash[2:])).call() == (4, True)
    # Cancelled on chain: a fill now would revert with the contract's own error.
    again = api.post("/tx/fill", json={"taker": renter.address, "order_hash": order_hash, "amount": 1})
    assert again.json()["error"]["details"]["error"] == "CancelledOrder"


def test_fill_with_a_signed_permit_needs_no_approval(serve, market, accounts, store):
    cap, _, order_hash = list_capacity(market, accounts, store)
    api = serve()
    renter = accounts[4]
    market.faucet(renter, 100 * USDC)
    deadline = now(market) + 3600
    typed = api.post("/tx/permit", json={"owner": renter.address, "value": 3 * PRICE, "deadline": deadline})
    assert typed.status_code == 200, typed.text
    data = typed.json()
    assert data["message"]["spender"] == market.exchange.address
    signed = Account.sign_typed_data(renter.key, full_message=data)
    permit = {
        "value": 3 * PRICE,
        "deadline": deadline,
        "v": signed.v,
        "r": "0x" + signed.r.to_bytes(32, "big").hex(),
        "s": "0x" + signed.s.to_bytes(32, "big").hex(),
    }
    tx = api.post(
        "/tx/fill", json={"taker": renter.address, "order_hash": order_hash, "amount": 3, "permit": permit}
    )
    assert tx.status_code == 200, tx.text
    _send(market, renter, tx.json())
    assert market.hours_of(renter.address, cap) == 3


def test_batch_fill_and_bad_requests(serve, market, accounts, store):
    cap, _, order_hash = list_capacity(market, accounts, store)
    api = serve()
    renter = accounts[5]
    market.faucet(renter, 100 * USDC)
    market.approve(renter, market.exchange.address)
    tx = api.post(
        "/tx/fill-batch",
        json={
            "taker": renter.address,
            "fills": [{"order_hash": order_hash, "amount": 2}, {"order_hash": order_hash, "amount": 3}],
        },
    ).json()
    _send(market, renter, tx)
    assert market.hours_of(renter.address, cap) == 5

    unknown = api.post(
        "/tx/fill", json={"taker": renter.address, "order_hash": "0x" + "ab" * 32, "amount": 1}
    )
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "unknown_order"
    bad = api.post("/tx/fill", json={"taker": "0x1234", "order_hash": order_hash, "amount": 0})
    assert bad.status_code == 422
    reason = bad.json()["error"]["reason"]
    assert "taker" in reason and "is not an address" in reason and "amount" in reason
    too_much = api.post("/tx/fill", json={"taker": renter.address, "order_hash": order_hash, "amount": 6})
    assert too_much.json()["error"]["details"]["error"] == "InsufficientRemaining"


def test_a_built_fill_still_lands_after_the_state_it_was_priced_on_changes(serve, market, accounts, store):
    """The fill is priced while the renter already holds hours of the capacity (its balance slot is
    written nonzero to nonzero); before it is sent, an operator moves those hours away, so the mint
    writes a fresh slot (17,100 gas more). The gas the API put in the transaction must cover that."""
    cap, _, order_hash = list_capacity(market, accounts, store)
    api = serve()
    renter, operator = accounts[3], accounts[5]
    market.faucet(renter, 100 * USDC)
    market.approve(renter, market.exchange.address)
    market.send(renter, market.hours.functions.setApprovalForAll(operator.address, True))
    first = api.post("/tx/fill", json={"taker": renter.address, "order_hash": order_hash, "amount": 2})
    _send(market, renter, first.json())

    tx = api.post("/tx/fill", json={"taker": renter.address, "order_hash": order_hash, "amount": 2}).json()
    estimate = market.w3.eth.estimate_gas({"from": tx["from"], "to": tx["to"], "data": tx["data"]})
    assert tx["gas"] == estimate + max(estimate // 4, 30_000)  # the margin UnsignedTx documents

    move = market.hours.functions.safeTransferFrom(renter.address, operator.address, cap, 2, b"")
    market.send(operator, move)
    assert market.hours_of(renter.address, cap) == 0
    _send(market, renter, tx)  # out of gas inside the mint when the limit is the bare estimate
    assert market.hours_of(renter.address, cap) == 2


def test_claim_withdraws_what_escrow_credited(serve, market, accounts, store):
    cap, _, _ = list_capacity(market, accounts, store)
    api = serve()
    p1, other = accounts[1], accounts[3]
    # Nothing credited yet: the API says so by the contract's error, and builds nothing.
    refused = api.post("/tx/claim", json={"account": p1.address})
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"]["details"]["error"] == "NothingToWithdraw"

    market.cancel_capacity(p1, cap)  # the provider's bond comes back to it as credit
    credited = market.claimable(p1.address)
    assert credited > 0
    # To the account itself by default, to another address when asked; sent by the account.
    own = api.post("/tx/claim", json={"account": p1.address}).json()
    assert (own["from"], own["to"]) == (p1.address, market.escrow.address)
    assert own["data"].lower().endswith(p1.address[2:].lower())
    tx = api.post("/tx/claim", json={"account": p1.address, "to": other.address}).json()
    assert tx["from"] == p1.address
    before = market.usdc_balance(other.address)
    _send(market, p1, tx)
    assert market.usdc_balance(other.address) - before == credited
    assert market.claimable(p1.address) == 0
