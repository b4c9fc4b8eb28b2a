"""Lending pools over real HTTP on a real Anvil: pools and positions equal the chain, health factors and
liquidation prices hold at the mark they name, a mark crash turns a position into a liquidation
candidate, and the pool transactions the API builds, signed by the wallet's key, do what they say."""

from __future__ import annotations

from backend.chain.client import MAX_UINT256
from backend.chain.dev_accounts import dev_account
from backend.chain.orders import OrderKind
from tests.backend.api.test_wallet import _send
from tests.backend.market_round import HOUR, submit_report
from tests.backend.pool_round import GPU_CLASS, MARK, max_borrow, open_position
from tests.conftest import USDC, fund, now, warp_to

WAD = 10**18


def _second_borrower(market, rnd, units: int):
    """Dev account 4 gets `units` of the round's hours from the borrower and pledges them."""
    other = dev_account(4, market.chain_id)
    hours = market.hours.functions
    market.send(
        rnd.borrower, hours.safeTransferFrom(rnd.borrower.address, other.address, rnd.capacity, units, b"")
    )
    market.send(other, hours.setApprovalForAll(rnd.pool.address, True))
    market.send(other, rnd.pool.functions.pledge(rnd.capacity, units))
    return other


def test_pools_and_positions_equal_the_chain_riskiest_first(market, serve, index):
    rnd = open_position(market, pledged=20)
    pool = rnd.pool
    other = _second_borrower(market, rnd, 10)
    risky, safe = max_borrow(rnd) * 9 // 10, 1 * USDC
    market.send(rnd.borrower, pool.functions.borrow(risky, rnd.borrower.address))
    market.send(other, pool.functions.borrow(safe, other.address))
    index()
    api = serve()

    pools = api.get("/pools").json()
    assert pools["total"] == 2 and {p["gpu_class"] for p in pools["items"]} == {GPU_CLASS, "A100-SXM4-80GB"}
    (h100,) = [p for p in pools["items"] if p["gpu_class"] == GPU_CLASS]
    assert h100["address"] == pool.address
    assert h100["terms"]["lltv"] == pool.functions.lltv().call()
    assert h100["total_borrowed"] == pool.functions.totalBorrow().call()[0] == risky + safe
    assert h100["total_supplied"] == pool.functions.totalAssets().call()
    rate, utilization = pool.functions.borrowRate().call()
    assert (h100["borrow_rate_per_second"], h100["utilization"]) == (rate, utilization / WAD)
    assert 0 < h100["supply_apy"] < h100["borrow_apy"]
    assert (h100["mark"], h100["total_bad_debt"], h100["borrowers"]) == (MARK, 0, 2)

    page = api.get(f"/pools/{pool.address}/positions").json()
    assert [p["borrower"] for p in page["items"]] == [rnd.borrower.address, other.address]  # riskiest first
    for position in page["items"]:
        who = position["borrower"]
        assert (position["debt"], position["borrow_shares"]) == tuple(pool.functions.debtOf(who).call())
        assert position["collateral_value"] == pool.functions.collateralValue(who).call()
        lltv = pool.functions.lltv().call()
        assert position["health_factor"] == position["collateral_value"] * lltv / WAD / position["debt"]
        # The liquidation price is the least mark at which the position is healthy.
        units = {c["capacity_id"]: c["units"] for c in position["collateral"]}[rnd.capacity]
        price = position["liquidation_price"]
        assert pool.functions.unitValue(rnd.capacity, units, price).call() * lltv // WAD >= position["debt"]
        assert (
            pool.functions.unitValue(rnd.capacity, units, price - 1).call() * lltv // WAD < position["debt"]
        )
    assert api.get(f"/pools/{pool.address}/positions", params={"unhealthy": True}).json()["items"] == []
    one = api.get(f"/pools/{pool.address}/positions/{other.address}").json()
    assert one == page["items"][1]

    # The mark halves an hour later: the risky position turns liquidatable, the safe one does not.
    warp_to(market, now(market) + HOUR)
    epoch = now(market) // HOUR - 1
    node = market.hours.functions.capacity(rnd.capacity).call()[0]
    submit_report(market, node, epoch, 10_000, MARK // 2)
    candidates = api.get(f"/pools/{pool.address}/positions", params={"unhealthy": "true"}).json()
    assert [(p["borrower"], p["healthy"]) for p in candidates["items"]] == [(rnd.borrower.address, False)]
    assert candidates["items"][0]["health_factor"] < 1


def test_unknown_pools_and_positions_are_404_with_a_reason(market, serve, index):
    rnd = open_position(market)
    index()
    api = serve()
    nowhere = "0x" + "ab" * 20
    for path in (f"/pools/{nowhere}/positions", f"/pools/{nowhere}/positions/{rnd.borrower.address}"):
        answer = api.get(path)
        assert answer.status_code == 404 and answer.json()["error"]["code"] == "unknown_pool", answer.text
    nobody = dev_account(12, market.chain_id).address
    answer = api.get(f"/pools/{rnd.pool.address}/positions/{nobody}")
    assert answer.status_code == 404 and nobody in answer.json()["error"]["reason"]
    answer = api.post(f"/tx/pools/{nowhere}/borrow", json={"borrower": nobody, "assets": 1})
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "unknown_pool"
    assert api.get("/pools/0x1234/positions").status_code == 422


def test_pool_transactions_from_the_api_do_what_they_say(market, serve, index):
    rnd = open_position(market)
    pool = rnd.pool
    lender, borrower = dev_account(2, market.chain_id), dev_account(4, market.chain_id)
    market.faucet(lender, 1_000 * USDC)
    market.faucet(borrower, 10 * USDC)
    market.send(
        rnd.borrower,
        market.hours.functions.safeTransferFrom(
            rnd.borrower.address, borrower.address, rnd.capacity, 10, b""
        ),
    )
    index()
    api = serve()
    url = f"/tx/pools/{pool.address}"

    def step(action: str, account, body: dict) -> dict:
        """Ask for `action`; send what comes back, the approval first where one is needed."""
        answer = api.post(f"{url}/{action}", json=body)
        assert answer.status_code == 200, answer.text
        plan = answer.json()
        for tx in plan["transactions"]:
            _send(market, account, tx)
        if plan["then"] is not None:
            assert plan["then"] == action and len(plan["transactions"]) == 1
            return step(action, account, body)
        return plan

    step("supply", lender, {"owner": lender.address, "assets": 500 * USDC})
    assert pool.functions.maxWithdraw(lender.address).call() == 500 * USDC
    step("pledge", borrower, {"borrower": borrower.address, "capacity_id": rnd.capacity, "units": 10})
    assert pool.functions.collateralOf(borrower.address).call() == [[rnd.capacity], [10]]

    limit = pool.functions.collateralValue(borrower.address).call() * pool.functions.lltv().call() // WAD
    too_much = api.post(f"{url}/borrow", json={"borrower": borrower.address, "assets": limit + 1})
    assert too_much.status_code == 422, too_much.text
    error = too_much.json()["error"]
    assert error["code"] == "pool_refused" and error["details"]["error"] == "Unhealthy"
    assert error["details"]["fields"]["debt"] == limit + 1 and error["details"]["fields"]["maxDebt"] == limit
    assert pool.functions.debtOf(borrower.address).call()[0] == 0  # nothing half-done

    before = market.usdc_balance(borrower.address)
    step("borrow", borrower, {"borrower": borrower.address, "assets": limit // 2})
    assert market.usdc_balance(borrower.address) == before + limit // 2
    over = api.post(
        f"{url}/repay", json={"payer": borrower.address, "borrower": borrower.address, "assets": limit}
    )
    assert over.status_code == 422, over.text
    assert over.json()["error"]["details"]["fields"] == {
        "onBehalf": borrower.address,
        "assets": limit,
        "owed": pool.functions.debtOf(borrower.address).call()[0],
    }
    step("repay", borrower, {"payer": borrower.address, "borrower": borrower.address, "assets": MAX_UINT256})
    assert pool.functions.debtOf(borrower.address).call() == [0, 0]
    step("unpledge", borrower, {"borrower": borrower.address, "capacity_id": rnd.capacity, "units": 10})
    assert market.hours_of(borrower.address, rnd.capacity) == 10
    index()  # a position repaid and emptied leaves the listing; its history stays readable
    listed = [p["borrower"] for p in api.get(f"/pools/{pool.address}/positions").json()["items"]]
    assert listed == [rnd.borrower.address]
    closed = api.get(f"/pools/{pool.address}/positions/{borrower.address}").json()
    assert (closed["debt"], closed["collateral"], closed["borrowed"]) == (0, [], limit // 2)
    step("withdraw", lender, {"owner": lender.address, "assets": 100 * USDC})
    assert market.usdc_balance(lender.address) == 600 * USDC


def test_pool_refusals_carry_the_contracts_error_and_numbers(market, serve, index):
    rnd = open_position(market)
    borrower, pool = rnd.borrower, rnd.pool
    p2 = dev_account(2, market.chain_id)
    fund(market, [p2], 10_000 * USDC)
    node = market.register_node(p2, "A100-SXM4-80GB", 2, 80, "us-east", "PCIe", ["GPU-a100-pool"])
    start = now(market) - now(market) % HOUR + HOUR
    a100 = market.create_capacity(
        p2, node, start, start + 24 * HOUR, 1_000_000, market.min_bond_per_unit() * 48
    )
    market.fill(borrower, market.sign(p2, OrderKind.PRIMARY_SELL, a100, 5, 1_000_000, start), 5)
    index()
    api = serve()
    url = f"/tx/pools/{pool.address}"

    wrong = api.post(f"{url}/pledge", json={"borrower": borrower.address, "capacity_id": a100, "units": 5})
    assert wrong.status_code == 422, wrong.text
    details = wrong.json()["error"]["details"]
    assert details["error"] == "WrongGpuClass" and details["fields"]["capacityId"] == a100
    assert bytes.fromhex(details["fields"]["gpuModel"][2:]).rstrip(b"\0") == b"A100-SXM4-80GB"
    assert pool.functions.collateralOf(borrower.address).call()[0] == [rnd.capacity]  # nothing pledged

    max_age = pool.functions.markMaxAge().call()
    _, epoch = market.oracle.functions.markPrice(pool.functions.gpuClass().call()).call()
    warp_to(market, (epoch + 1) * HOUR + max_age + 1)
    stale = api.post(f"{url}/borrow", json={"borrower": borrower.address, "assets": 1 * USDC})
    assert stale.status_code == 422, stale.text
    details = stale.json()["error"]["details"]
    assert details["error"] == "StaleMark"
    assert (details["fields"]["epoch"], details["fields"]["maxAge"]) == (epoch, max_age)
