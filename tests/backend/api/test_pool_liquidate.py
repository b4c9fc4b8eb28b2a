"""A liquidator's and a keeper's pool transactions over real HTTP on a real Anvil: a healthy position is
refused with the pool's numbers and nothing moves; an unhealthy one is liquidated from the transactions
the API builds (the stablecoin approval first), and hours whose window ended pay their position's debt
through settle-expired."""

from __future__ import annotations

from backend.chain.dev_accounts import dev_account
from tests.backend.api.test_wallet import _send
from tests.backend.market_round import HOUR, submit_report
from tests.backend.pool_round import MARK, max_borrow, open_position
from tests.conftest import USDC, now, warp_to

WAD = 10**18


def _plan(api, url: str, body: dict) -> dict:
    answer = api.post(url, json=body)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_liquidation_from_the_api_refuses_a_healthy_position_then_seizes_an_unhealthy_one(
    market, serve, index
):
    rnd = open_position(market)
    pool, borrower = rnd.pool, rnd.borrower
    liquidator = dev_account(6, market.chain_id)
    market.faucet(liquidator, 1_000 * USDC)
    debt = max_borrow(rnd)
    market.send(borrower, pool.functions.borrow(debt, borrower.address))
    index()
    api = serve()
    url = f"/tx/pools/{pool.address}/liquidate"
    body = {
        "liquidator": liquidator.address,
        "borrower": borrower.address,
        "capacity_id": rnd.capacity,
        "seized_units": 5,
    }

    healthy = api.post(url, json=body)
    assert healthy.status_code == 422, healthy.text
    error = healthy.json()["error"]
    owed = pool.functions.debtOf(borrower.address).call()[0]
    limit = max_borrow(rnd)
    assert (error["code"], error["details"]["error"]) == ("pool_refused", "HealthyPosition")
    assert error["details"]["fields"] == {
        "borrower": borrower.address.lower(),
        "debt": owed,
        "maxDebt": limit,
    }
    both = api.post(url, json={**body, "repaid_shares": 1})
    assert both.status_code == 422 and both.json()["error"]["details"] == {
        "error": "InconsistentInput",
        "fields": {"seizedUnits": 5, "repaidShares": 1},
    }
    assert market.usdc.functions.allowance(liquidator.address, pool.address).call() == 0

    # The mark halves an hour later: the position is unhealthy and the liquidator has no allowance yet.
    warp_to(market, now(market) + HOUR)
    node = market.hours.functions.capacity(rnd.capacity).call()[0]
    submit_report(market, node, now(market) // HOUR - 1, 10_000, MARK // 2)
    approval = _plan(api, url, body)
    assert approval["then"] == "liquidate" and len(approval["transactions"]) == 1
    _send(market, liquidator, approval["transactions"][0])
    allowed = market.usdc.functions.allowance(liquidator.address, pool.address).call()
    # More hours than pledged, asked for or bought by repaying every share: the pool's bound, nothing moves.
    shares = pool.functions.debtOf(borrower.address).call()[1]
    for extra in ({"seized_units": 31}, {"seized_units": 0, "repaid_shares": shares}):
        answer = api.post(url, json={**body, **extra})
        assert answer.status_code == 422, answer.text
        details = answer.json()["error"]["details"]
        assert details["error"] == "InsufficientCollateral" and details["fields"]["pledged"] == 30
        assert details["fields"]["units"] > 30
    assert market.hours_of(liquidator.address, rnd.capacity) == 0
    plan = _plan(api, url, body)
    assert plan["then"] is None
    before_debt = pool.functions.debtOf(borrower.address).call()[0]
    before_cash = market.usdc_balance(liquidator.address)
    receipt = _send(market, liquidator, plan["transactions"][0])
    (event,) = market.events(receipt, pool, "Liquidated")
    assert (event["liquidator"], event["seizedUnits"], event["badDebtAssets"]) == (liquidator.address, 5, 0)
    assert market.hours_of(liquidator.address, rnd.capacity) == 5
    assert market.usdc_balance(liquidator.address) == before_cash - event["repaidAssets"]
    assert 0 < event["repaidAssets"] <= allowed
    assert pool.functions.debtOf(borrower.address).call()[0] < before_debt
    assert pool.functions.collateralOf(borrower.address).call() == [[rnd.capacity], [25]]


def test_settle_expired_from_the_api_pays_the_debt_of_an_ended_window(market, serve, index):
    rnd = open_position(market)
    pool, borrower = rnd.pool, rnd.borrower
    keeper = dev_account(6, market.chain_id)
    debt = max_borrow(rnd) // 2
    market.send(borrower, pool.functions.borrow(debt, borrower.address))
    index()
    api = serve()
    url = f"/tx/pools/{pool.address}/settle-expired"
    body = {"caller": keeper.address, "capacity_id": rnd.capacity, "borrowers": [borrower.address]}

    active = api.post(url, json=body)  # the window runs: nothing to collect yet
    assert active.status_code == 422, active.text
    assert active.json()["error"]["code"] == "pool_refused" and active.json()["error"]["details"]["error"]
    assert pool.functions.heldUnits(rnd.capacity).call() == 30
    too_many = api.post(url, json={**body, "borrowers": [borrower.address] * 101})
    assert too_many.status_code == 422 and too_many.json()["error"]["code"] == "invalid_request"

    end = market.hours.functions.capacity(rnd.capacity).call()[2]
    warp_to(market, end + market.hours.functions.terms(rnd.capacity).call()[2] + 1)
    refund = market.settlement.functions.unusedRefund(rnd.capacity, 30).call()
    before = market.usdc_balance(borrower.address)
    owed = pool.functions.debtOf(borrower.address).call()[0]
    (tx,) = _plan(api, url, body)["transactions"]
    receipt = _send(market, keeper, tx)
    (credited,) = market.events(receipt, pool, "ExpiredCredited")
    assert (credited["units"], credited["amount"]) == (30, refund)
    assert owed <= credited["repaid"] <= owed + 1  # interest of the block it was mined in
    assert pool.functions.debtOf(borrower.address).call() == [0, 0]
    assert pool.functions.collateralOf(borrower.address).call() == [[], []]
    assert market.usdc_balance(borrower.address) == before + credited["amount"] - credited["repaid"]
