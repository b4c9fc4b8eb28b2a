"""The periodic jobs, as plain functions of a database connection and the time, so that Celery
workers, the in-process scheduler and tests all run the same code. Each returns what it did."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Connection, func, select, update

from backend.chain.protocol import EPOCH_SECONDS, CapacityStatusName
from backend.db.models import Capacity, IndexedAttestation, NodeHealth, PostedOrder, PriceIndex, table_of
from backend.indexer.journal import upsert_rows
from backend.indexer.lock import LockHeld
from backend.indexer.run import Indexer
from backend.market.order_state import OrderStatus
from backend.market.price_index import compute_price_index


def index_once(indexer: Indexer) -> dict[str, Any]:
    """Index to the head and stop. Another writer holding the lock is not an error: it is indexing."""
    try:
        summary = indexer.run(once=True)
    except LockHeld as exc:
        return {"skipped": str(exc)}
    return {"events": summary.events, "batches": summary.batches, "checkpoint": summary.checkpoint}


def expire_orders(conn: Connection, chain_id: int, now: int) -> int:
    """Mark open posted orders past their expiry as expired; returns how many."""
    so = table_of(PostedOrder)
    return conn.execute(
        update(so)
        .where(so.c.chain_id == chain_id, so.c.status == OrderStatus.OPEN, so.c.expiry < now)
        .values(status=OrderStatus.EXPIRED, updated_at=time.time())
    ).rowcount


def sla_watchdog(conn: Connection, chain_id: int, now: float, stale_after: float) -> list[int]:
    """For every node with an active capacity window open now: its last attested epoch, and whether
    attestations have gone stale (none for `stale_after` seconds after the later of the window's start
    and the last attested hour's end). Returns the nodes newly flagged."""
    cap = table_of(Capacity)
    att = table_of(IndexedAttestation)
    health = table_of(NodeHealth)
    last_epoch = (
        select(att.c.node_id, func.max(att.c.epoch).label("epoch"))
        .where(att.c.chain_id == chain_id)
        .group_by(att.c.node_id)
        .subquery()
    )
    rows = conn.execute(
        select(cap.c.node_id, func.min(cap.c.start).label("since"), last_epoch.c.epoch)
        .select_from(cap.outerjoin(last_epoch, last_epoch.c.node_id == cap.c.node_id))
        .where(
            cap.c.chain_id == chain_id,
            cap.c.status == CapacityStatusName.ACTIVE,
            cap.c.start <= now,
            cap.c.end > now,
        )
        .group_by(cap.c.node_id, last_epoch.c.epoch)
    ).all()
    before = {
        r.node_id: r
        for r in conn.execute(select(health).where(health.c.chain_id == chain_id, health.c.stale.is_(True)))
    }
    flagged, out = [], []
    for node_id, since, epoch in rows:
        covered_until = max(since, (epoch + 1) * EPOCH_SECONDS if epoch is not None else since)
        stale = now - covered_until > stale_after
        was = before.get(node_id)
        if stale and was is None:
            flagged.append(node_id)
        out.append(
            {
                "chain_id": chain_id,
                "node_id": node_id,
                "last_epoch": epoch,
                "stale": stale,
                "flagged_at": (was.flagged_at if was is not None else now) if stale else None,
                "checked_at": now,
            }
        )
    # Nodes no longer in an open window are no longer watched.
    conn.execute(
        health.delete().where(
            health.c.chain_id == chain_id, health.c.node_id.not_in([r["node_id"] for r in out])
        )
    )
    upsert_rows(conn, health, out)
    return flagged


def update_price_index(conn: Connection, chain_id: int, now: int) -> int:
    """Recompute every GPU class's last price and 24 h VWAP from the fills; returns the classes."""
    rows = [
        {**row, "chain_id": chain_id, "updated_at": time.time()}
        for row in compute_price_index(conn, chain_id, now)
    ]
    upsert_rows(conn, table_of(PriceIndex), rows)
    return len(rows)
