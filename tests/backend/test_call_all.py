"""Market.call_all: batched eth_calls return what each call returns alone, across batch boundaries, and a
revert raises the contract's error."""

from __future__ import annotations

import pytest

from backend.chain import errors
from backend.chain.client import CALL_BATCH
from tests.conftest import USDC


def test_batched_calls_equal_single_calls(market, accounts):
    market.faucet(accounts[3], 7 * USDC)
    pool = next(iter(market.pools.values()))
    fns = [
        market.usdc.functions.balanceOf(accounts[3].address),
        pool.functions.rateModel(),
        pool.functions.totalBorrow(),
        pool.functions.collateralOf(accounts[3].address),
        pool.functions.gpuClass(),
    ]
    assert market.call_all(fns) == [
        7 * USDC,
        tuple(pool.functions.rateModel().call()),
        tuple(pool.functions.totalBorrow().call()),
        ((), ()),  # eth-abi decodes arrays as tuples
        pool.functions.gpuClass().call(),
    ]


def test_more_calls_than_a_batch_come_back_in_order(market, accounts):
    for i, account in enumerate(accounts):
        market.faucet(account, (i + 1) * USDC)
    fns = [
        market.usdc.functions.balanceOf(accounts[i % len(accounts)].address) for i in range(CALL_BATCH + 7)
    ]
    assert market.call_all(fns) == [fn.call() for fn in fns]


def test_a_reverting_call_raises_its_error(market, accounts):
    with pytest.raises(errors.ERC20InvalidSender):  # an eth_call without a sender comes from address 0
        market.call_all(
            [
                market.usdc.functions.balanceOf(accounts[1].address),
                market.usdc.functions.transfer(accounts[1].address, 1),
            ]
        )
