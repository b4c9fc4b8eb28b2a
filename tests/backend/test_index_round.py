"""A whole market round, indexed: every projection equals the contracts' views."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import func, select

from backend.db.models import EscrowFunds, IndexedFill, RawEvent, Settlement, Slash
from tests.backend.conftest import assert_same_store, chain_logs, index_all
from tests.backend.market_round import check_against_chain, play_round

PROJECTED_EVENTS = (
    "NodeRegistered",
    "NodeTransferred",
    "CapacityCreated",
    "CapacityCancelled",
    "CapacityClosed",
    "HoursActivated",
    "HoursRedeemed",
    "HoursExpired",
    "BookingClosed",
    "TransferSingle",
    "TransferBatch",
    "OrderFilled",
    "OrderCancelled",
    "CounterIncremented",
    "BondPosted",
    "BondReturned",
    "BondSlashed",
    "RefundsOpened",
    "BackingDeposited",
    "PremiumDeposited",
    "PremiumSettled",
    "Released",
    "Refunded",
    "Credited",
    "Withdrawn",
    "RevenueSplitSet",
    "Attested",
    "MarkPriceSet",
    "BookingSettled",
    "UnusedSettled",
    "CapacitySettled",
)


def test_market_round_is_projected(market, make_store, chain, deployments_dir):
    rnd = play_round(market)
    engine = make_store()
    summary = index_all(engine, chain, deployments_dir)
    logs = chain_logs(market)
    assert summary.events == len(logs) and summary.checkpoint == market.w3.eth.block_number

    counts = check_against_chain(engine, market, rnd)
    assert counts == {"capacities": 2, "bookings": 3, "orders": 4, "balances": 0, "attestations": 3}
    with engine.connect() as conn:
        by_name = select(RawEvent.event, func.count()).group_by(RawEvent.event)
        names = Counter(dict(conn.execute(by_name).all()))
        fills = conn.execute(
            select(IndexedFill.kind, IndexedFill.amount).order_by(
                IndexedFill.block_number, IndexedFill.log_index
            )
        ).all()
        settlements = conn.execute(
            select(Settlement.kind, Settlement.slashed).order_by(Settlement.block_number)
        ).all()
        slashes = (
            conn.execute(
                select(Slash.amount)
                .where(Slash.capacity_id == rnd.capacities[0])
                .order_by(Slash.block_number, Slash.log_index)
            )
            .scalars()
            .all()
        )
        released = conn.execute(
            select(EscrowFunds.released).where(EscrowFunds.capacity_id == rnd.capacities[0])
        )
    assert sum(names.values()) == len(logs)
    for name in PROJECTED_EVENTS:
        assert names[name] >= 1, f"the round emitted no {name}"
    assert [tuple(f) for f in fills] == [
        ("primary_sell", 8),
        ("primary_sell", 4),
        ("sell", 2),
        ("buy", 3),
        ("buy", 1),
    ]
    assert [s.kind for s in settlements] == ["booking", "booking", "unused", "unused", "capacity"]
    assert settlements[0].slashed == slashes[0] == 1 * 1 * 500_000  # 1 GPU, 2 failed hours, 1 of grace
    assert released.scalar_one() > 0

    # Indexing again from scratch in small ranges gives the same store.
    again = make_store()
    index_all(again, chain, deployments_dir, indexer_batch_blocks=3, indexer_max_batch_blocks=3)
    assert_same_store(engine, again)
