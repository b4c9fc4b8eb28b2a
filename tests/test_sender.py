"""The chain layer's transaction sender on a real Anvil, behind the RPC proxy that swallows or delays
transactions the way a congested public node does."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import pytest
from eth_account.typed_transactions import TypedTransaction
from hexbytes import HexBytes
from web3 import HTTPProvider, Web3
from web3.contract import Contract
from web3.exceptions import TransactionNotFound

from backend.chain import errors
from backend.chain.client import Market
from backend.chain.dev_accounts import dev_account
from backend.chain.sender import MIN_BUMP_PERCENT, Fees, Sender
from tests.backend.rpc_proxy import FaultyProxy
from tests.conftest import USDC


def raised_enough(new: int, old: int) -> bool:
    return new * 100 >= old * (100 + MIN_BUMP_PERCENT)


def fields(raw: bytes) -> dict[str, Any]:
    return dict(TypedTransaction.from_bytes(HexBytes(raw)).as_dict())


@contextmanager
def through(proxy: FaultyProxy, market: Market, **sender_args: Any) -> Iterator[tuple[Sender, Contract]]:
    """A sender, and the stablecoin bound to it, whose every request goes through `proxy`."""
    with proxy:
        w3 = Web3(HTTPProvider(proxy.url))
        usdc = w3.eth.contract(address=market.usdc.address, abi=market.usdc.abi)
        yield Sender(w3, market.errors, market.chain_id, **sender_args), usdc


class SwallowFirstSend:
    """Answers the first eth_sendRawTransaction with its hash and never passes it on: a node that
    accepted the transaction and lost it."""

    def __init__(self) -> None:
        self.swallowed: list[bytes] = []
        self.done = threading.Event()

    def __call__(self, call: dict[str, Any]) -> dict[str, Any] | None:
        if call["method"] != "eth_sendRawTransaction" or self.swallowed:
            return None
        raw = HexBytes(call["params"][0])
        self.swallowed.append(raw)
        self.done.set()
        return {"jsonrpc": "2.0", "id": call["id"], "result": Web3.keccak(raw).to_0x_hex()}


def test_a_transaction_never_mined_is_replaced_at_its_nonce_with_both_fees_raised(chain, market):
    swallow = SwallowFirstSend()
    account = dev_account(6, market.chain_id)
    with through(FaultyProxy(chain.url, intercept=swallow), market, receipt_timeout=0.5, attempts=3) as (
        sender,
        usdc,
    ):
        receipt = sender.send(account, usdc.functions.mint(account.address, USDC))
    assert receipt["status"] == 1 and len(swallow.swallowed) == 1
    lost, mined = fields(swallow.swallowed[0]), market.w3.eth.get_transaction(receipt["transactionHash"])
    assert mined["nonce"] == lost["nonce"]
    assert raised_enough(mined["maxFeePerGas"], lost["maxFeePerGas"])
    assert raised_enough(mined["maxPriorityFeePerGas"], lost["maxPriorityFeePerGas"])
    assert market.usdc_balance(account.address) == USDC


def test_the_node_accepts_the_replacement_of_a_transaction_stuck_in_its_pool(chain, market):
    """Automine off: the first attempt waits in Anvil's pool; the replacement at the same nonce displaces
    it, and the block mined after the replacement holds only that. (Anvil accepts any higher fees; the
    10 % that other nodes require is checked against the swallowed attempt in the test above.)"""
    sends: list[str] = []
    proxy = FaultyProxy(chain.url)

    def mine_after_replacement(call: dict[str, Any]) -> dict[str, Any] | None:
        if call["method"] != "eth_sendRawTransaction":
            return None
        sends.append(call["params"][0])
        if len(sends) < 2:
            return None
        answer = proxy.upstream_call(call["method"], call["params"], call["id"])
        proxy.upstream_call("evm_mine", [])
        return answer

    proxy.intercept = mine_after_replacement
    account = dev_account(6, market.chain_id)
    market.w3.provider.make_request("evm_setAutomine", [False])
    try:
        with through(proxy, market, receipt_timeout=0.5, attempts=2) as (sender, usdc):
            receipt = sender.send(account, usdc.functions.mint(account.address, USDC))
    finally:
        market.w3.provider.make_request("evm_setAutomine", [True])
    first, replacement = (HexBytes(raw) for raw in sends)
    assert receipt["transactionHash"] == Web3.keccak(replacement)
    assert fields(first)["nonce"] == fields(replacement)["nonce"]
    with pytest.raises(TransactionNotFound):
        market.w3.eth.get_transaction(Web3.keccak(first))
    assert market.usdc_balance(account.address) == USDC


def test_a_send_while_another_is_in_flight_takes_the_next_nonce(chain, market):
    """The first transaction is lost, so the node's pending count has not moved; the second must not
    take its nonce, and both land, at consecutive nonces."""
    swallow = SwallowFirstSend()
    account = dev_account(6, market.chain_id)
    nonce = market.w3.eth.get_transaction_count(account.address)
    with (
        through(FaultyProxy(chain.url, intercept=swallow), market, receipt_timeout=0.5, attempts=4) as (
            sender,
            usdc,
        ),
        ThreadPoolExecutor(1) as pool,
    ):
        first = pool.submit(sender.send, account, usdc.functions.mint(account.address, 1))
        assert swallow.done.wait(30)
        second = sender.send(account, usdc.functions.mint(account.address, 2))
        receipts = [first.result(), second]
    mined = [market.w3.eth.get_transaction(r["transactionHash"])["nonce"] for r in receipts]
    assert mined == [nonce, nonce + 1]
    assert market.usdc_balance(account.address) == 3


def test_a_mined_revert_raises_the_named_custom_error(chain, market):
    """The estimate passes; between it and the block the owner revokes the allowance, so the mined
    transaction reverts, and its replay names the error with its arguments."""
    owner, spender = dev_account(7, market.chain_id), dev_account(8, market.chain_id)
    market.faucet(owner, 100)
    market.approve(owner, spender.address, 100)
    proxy = FaultyProxy(chain.url)
    revoke = market.usdc.encode_abi("approve", [spender.address, 0])

    def revoke_first(call: dict[str, Any]) -> None:
        if call["method"] == "eth_sendRawTransaction":  # Anvil's dev accounts are unlocked
            proxy.upstream_call(
                "eth_sendTransaction", [{"from": owner.address, "to": market.usdc.address, "data": revoke}]
            )

    proxy.intercept = revoke_first
    with (
        through(proxy, market) as (sender, usdc),
        pytest.raises(errors.ERC20InsufficientAllowance) as refused,
    ):
        sender.send(spender, usdc.functions.transferFrom(owner.address, spender.address, 100))
    assert refused.value.fields == {"spender": spender.address.lower(), "allowance": 0, "needed": 100}
    assert market.usdc_balance(owner.address) == 100


def test_a_bump_raises_both_fees_by_the_minimum_and_stops_at_the_cap():
    fees = Fees(max_fee=1_000, tip=1)
    bumped = fees.bumped()
    assert bumped is not None
    assert raised_enough(bumped.max_fee, fees.max_fee) and raised_enough(bumped.tip, fees.tip)
    assert fees.bumped(cap=1_100) == Fees(1_100, 2)
    assert fees.bumped(cap=1_099) is None  # no room left for the raise a node requires
    assert Fees(5_000, 3_000).capped(2_000) == Fees(2_000, 2_000)
