"""The jobs as Celery tasks: a real worker on the real Redis, the real chain and both stores."""

from __future__ import annotations

import uuid

import pytest
from celery.contrib.testing.worker import start_worker
from sqlalchemy import select

from backend.chain.orders import OrderKind
from backend.db.models import Checkpoint, PriceIndex, table_of
from backend.tasks.celery_app import CeleryNeedsRedis, make_celery
from backend.tasks.context import TaskContext
from tests.backend.conftest import RUN_ID, indexer_settings
from tests.backend.market_round import sell_hours


def test_celery_needs_redis(make_store):
    with pytest.raises(CeleryNeedsRedis, match="GPUHOURS_REDIS_URL is not set"):
        make_celery(indexer_settings(make_store(), redis_url=None))


def test_worker_indexes_and_prices_through_redis(
    make_store, redis_url, market, chain, deployments_dir, accounts
):
    engine = make_store()
    p1, r3 = accounts[1], accounts[3]
    cap, start = sell_hours(market, p1, r3, 3, 2_000_000)
    market.fill(r3, market.sign(p1, OrderKind.PRIMARY_SELL, cap, 8, 3_000_000, start), 1)

    # A queue of this test's own: nothing another test left behind can take its tasks.
    settings = indexer_settings(
        engine,
        rpc_url=chain.url,
        deployments_dir=deployments_dir,
        redis_url=redis_url,
        redis_namespace=f"gpuhours-test-{RUN_ID}-{uuid.uuid4().hex[:6]}",
    )
    app = make_celery(settings, TaskContext(settings, engine))
    assert set(app.conf.beat_schedule) == {
        "index",
        "expire_orders",
        "sla_watchdog",
        "price_index",
        "settle",
        "lend_keep",
    }
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        indexed = app.tasks["gpuhours.index"].delay().get(timeout=60)
        assert indexed["checkpoint"] == market.w3.eth.block_number
        assert app.tasks["gpuhours.price_index"].delay().get(timeout=60) == 1
        assert app.tasks["gpuhours.expire_orders"].delay().get(timeout=60) == 0
        assert app.tasks["gpuhours.settle"].delay().get(timeout=60) == {
            "settled": 0,
            "skipped": 0,
            "failed": 0,
            "decisions": [],
        }  # nothing has ended yet
        assert app.tasks["gpuhours.lend_keep"].delay().get(timeout=60) == {
            "sent": 0,
            "skipped": 0,
            "failed": 0,
            "decisions": [],
        }  # nothing pledged
    with engine.connect() as conn:
        cp = conn.execute(select(table_of(Checkpoint).c.block_number)).scalar_one()
        (row,) = conn.execute(select(table_of(PriceIndex))).mappings().all()
    assert cp == indexed["checkpoint"]
    assert row["gpu_class"] == "H100-SXM5-80GB"
    assert row["last_price"] == 3_000_000
    assert row["vwap_24h"] == (3 * 2_000_000 + 1 * 3_000_000) // 4
    assert (row["volume_24h"], row["fills_24h"]) == (4, 2)
