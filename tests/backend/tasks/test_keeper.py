"""The settlement keeper on a real chain and both stores: it settles a mixed round with no human
call, once, and two keepers racing settle each item once."""

from __future__ import annotations

import json
import threading
from collections import Counter
from pathlib import Path

import pytest
from eth_account import Account
from sqlalchemy import select

from backend.chain.dev_accounts import dev_account
from backend.db.models import Booking, Capacity, EscrowAccount, EscrowFunds, table_of
from backend.tasks.context import TaskContext
from backend.tasks.keeper import (
    KeeperAccountError,
    SettlementKeeper,
    find_candidates,
    keeper_account,
    settle_delay,
)
from tests.backend.conftest import index_all, indexer_settings
from tests.backend.settle_round import HOURS, PRICE, SettleRound, play_settle_round, warp_past_delay
from tests.conftest import now


def keeper_context(engine, chain, deployments_dir, **overrides) -> TaskContext:
    settings = indexer_settings(engine, rpc_url=chain.url, deployments_dir=deployments_dir, **overrides)
    return TaskContext(settings, engine)


def settled_events(market, name: str) -> list[dict]:
    event = getattr(market.settlement.events, name)
    return [dict(log["args"]) for log in event().get_logs(from_block=market.deployment.deploy_block)]


def assert_fully_settled(market, rnd: SettleRound) -> None:
    (p1, p2), (r3, r4, r5) = rnd.providers, rnd.renters
    backing_ok, bond_ok, _, _ = rnd.funds[rnd.cap_ok]
    backing_bad, bond_bad, _, _ = rnd.funds[rnd.cap_bad]
    sla = market.settlement.functions.sla().call()
    slashed = 2 * (HOURS - sla[2]) * sla[3]
    assert market.booking(rnd.booking_ok)["closeReason"] == 1  # Completed
    assert market.booking(rnd.booking_bad)["closeReason"] == 3  # ProviderFailed
    assert market.capacity(rnd.cap_ok)["status"] == 3 and market.capacity(rnd.cap_ok)["closeReason"] == 1
    assert market.capacity(rnd.cap_bad)["status"] == 3 and market.capacity(rnd.cap_bad)["closeReason"] == 3
    for cap in (rnd.cap_ok, rnd.cap_bad):
        assert market.escrow.functions.funds(cap).call() == (0, 0, 0, 0)
        assert market.hours.functions.totalSupply(cap).call() == 0
    # Every hour of the good window delivered: its backing (less the fee, rounded up per settlement:
    # r3's booking of 3 units, then r5's 2 and r3's 3 unused) and its bond to the provider. The bad
    # one: every unit's backing back to its holder, plus the slash.
    fee_bps = market.escrow.functions.feeBps().call()
    fees_ok = sum(-(-units * PRICE * fee_bps // 10_000) for units in (3, 2, 3))
    treasury = market.escrow.functions.treasury().call()
    gained = {who: market.claimable(who) - before for who, before in rnd.claimable.items()}
    assert backing_ok == 8 * PRICE and backing_bad == 6 * PRICE
    assert gained == {
        p1.address: backing_ok - fees_ok + bond_ok,
        p2.address: bond_bad - slashed,
        r3.address: 0,
        r4.address: backing_bad + slashed,
        r5.address: 0,
        treasury: fees_ok,
    }
    # The cancelled capacity is the holders' to redeem: the keeper leaves it alone.
    assert market.capacity(rnd.cap_cancelled)["status"] == 2
    assert market.escrow.functions.funds(rnd.cap_cancelled).call() == rnd.funds[rnd.cap_cancelled]


def test_keeper_settles_a_mixed_round_once(make_store, market, chain, deployments_dir):
    engine = make_store()
    rnd = play_settle_round(market)
    ctx = keeper_context(engine, chain, deployments_dir, keeper_holders_per_call=1)
    index_all(engine, chain, deployments_dir)

    # The window is over, but the oracle may still attest its last hour: nothing is due yet.
    assert now(market) >= rnd.end
    assert ctx.settle() == {"settled": 0, "skipped": 0, "failed": 0, "decisions": []}

    warp_past_delay(market, rnd)
    first = ctx.settle()
    done = [(d["call"], d["id"], d["outcome"], d["holders"]) for d in first["decisions"]]
    r3, r5 = rnd.renters[0].address, rnd.renters[2].address
    assert done == [
        ("settleBooking", rnd.booking_ok, "settled", None),
        ("settleBooking", rnd.booking_bad, "settled", None),
        # one holder per call here (keeper_holders_per_call=1), in the store's order
        *[("settleUnused", rnd.cap_ok, "settled", [h]) for h in sorted([r3, r5])],
        ("settleCapacity", rnd.cap_ok, "settled", None),
        ("settleCapacity", rnd.cap_bad, "settled", None),
    ]
    assert all(d["tx"] for d in first["decisions"])
    assert_fully_settled(market, rnd)

    # Again before the store has seen it: every candidate is a skip with the contract's reason.
    second = ctx.settle()
    assert (second["settled"], second["failed"]) == (0, 0)
    reasons = Counter(d["reason"].split("(")[0] for d in second["decisions"])
    assert reasons == {"BookingNotOpen": 2, "CapacityNotSettleable": 2}
    # Indexed: nothing is left to do at all.
    index_all(engine, chain, deployments_dir)
    assert ctx.settle()["decisions"] == []
    assert len(settled_events(market, "BookingSettled")) == 2
    assert len(settled_events(market, "CapacitySettled")) == 2
    assert_fully_settled(market, rnd)

    # The store shows the payouts.
    acc, cap, bk = table_of(EscrowAccount), table_of(Capacity), table_of(Booking)
    with engine.connect() as conn:
        claimable = dict(
            conn.execute(
                select(acc.c.account, acc.c.claimable).where(acc.c.chain_id == market.chain_id)
            ).all()
        )
        status = dict(conn.execute(select(cap.c.capacity_id, cap.c.status)).all())
        bookings = dict(conn.execute(select(bk.c.booking_id, bk.c.close_reason)).all())
        funds = {
            r.capacity_id: (r.backing, r.bond, r.premium) for r in conn.execute(select(table_of(EscrowFunds)))
        }
    for who in (*rnd.providers, *rnd.renters):
        assert claimable.get(who.address, 0) == market.claimable(who.address)
    assert status == {rnd.cap_ok: "closed", rnd.cap_bad: "closed", rnd.cap_cancelled: "cancelled"}
    assert bookings == {rnd.booking_ok: "completed", rnd.booking_bad: "provider_failed"}
    assert funds[rnd.cap_ok] == funds[rnd.cap_bad] == (0, 0, 0)


def test_two_keepers_racing_settle_each_item_once(make_store, market, chain, deployments_dir):
    engine = make_store()
    rnd = play_settle_round(market)
    index_all(engine, chain, deployments_dir)
    warp_past_delay(market, rnd)
    keepers = [SettlementKeeper(market, dev_account(i, market.chain_id)) for i in (0, 8)]
    tick_time = now(market)
    with engine.connect() as conn:
        found = find_candidates(conn, market.chain_id, tick_time, 25)
    results: dict[int, list] = {}
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def run(n: int) -> None:
        try:
            barrier.wait()
            results[n] = keepers[n].tick(found, tick_time)
        except BaseException as exc:  # noqa: BLE001 — the test fails on any
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    decisions = [d for n in (0, 1) for d in results[n]]
    assert [d for d in decisions if d.outcome == "failed"] == []
    settled = Counter((d.call, d.id) for d in decisions if d.outcome == "settled")
    # Each booking and window settled exactly once, by one keeper or the other; unused hours once
    # per holder (each keeper sends all holders in one call, so one call wins).
    assert settled == {
        ("settleBooking", rnd.booking_ok): 1,
        ("settleBooking", rnd.booking_bad): 1,
        ("settleUnused", rnd.cap_ok): 1,
        ("settleCapacity", rnd.cap_ok): 1,
        ("settleCapacity", rnd.cap_bad): 1,
    }
    assert len(settled_events(market, "BookingSettled")) == 2
    assert len(settled_events(market, "UnusedSettled")) == 2
    assert_fully_settled(market, rnd)


def test_the_keeper_account_is_a_keystore_outside_dev_chains(make_store, tmp_path: Path):
    settings = indexer_settings(make_store())
    account, where = keeper_account(settings, 31337)
    assert account.address == dev_account(0, 31337).address and "dev account 0" in where
    with pytest.raises(KeeperAccountError, match="GPUHOURS_KEEPER_KEYSTORE"):
        keeper_account(settings, 1)
    key = Account.create()
    keystore, password = tmp_path / "keeper.json", tmp_path / "pw"
    keystore.write_text(json.dumps(Account.encrypt(key.key, "s3cret")))
    password.write_text("s3cret\n")
    with_keystore = settings.model_copy(
        update={"keeper_keystore": keystore, "keeper_password_file": password}
    )
    assert keeper_account(with_keystore, 1)[0].address == key.address
    password.write_text("wrong\n")
    with pytest.raises(KeeperAccountError, match="does not open") as info:
        keeper_account(with_keystore, 1)
    assert "s3cret" not in str(info.value) and key.key.hex() not in str(info.value)


def test_the_delay_is_the_one_the_capacity_recorded(market):
    rnd = play_settle_round(market)
    recorded = market.oracle.functions.maxDelay().call()
    market.send(dev_account(0, market.chain_id), market.oracle.functions.setMaxDelay(recorded + 600))
    assert settle_delay(market, rnd.cap_ok) == recorded  # not the oracle's new delay
