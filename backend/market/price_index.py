"""The price index: per GPU class (the registered GPU model of the node behind a capacity), the last
fill's price and the 24 hour volume-weighted average, from the indexed fills.

`compute_price_index` is the one computation: the indexer stores its rows in `price_index` in the
transaction of each batch with fills (so they follow every block), the price-index task every
interval (so the 24 h window moves with time), and GET /prices runs it itself when the stored rows are
not fresh."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, and_, case, func, select

from backend.db.models import Capacity, IndexedFill, Node, table_of

DAY = 24 * 3600

fill = table_of(IndexedFill)
cap = table_of(Capacity)
node = table_of(Node)


def fills_by_class(chain_id: int) -> Any:
    """fill ⋈ capacity ⋈ node of a chain: every fill with its GPU class."""
    return fill.join(
        cap, and_(cap.c.chain_id == fill.c.chain_id, cap.c.capacity_id == fill.c.capacity_id)
    ).join(node, and_(node.c.chain_id == cap.c.chain_id, node.c.node_id == cap.c.node_id))


def compute_price_index(conn: Connection, chain_id: int, now: int) -> list[dict[str, Any]]:
    """One row per GPU class that ever traded: gpu_class, last_price and last_time (the latest fill by
    block and log index), and over fills with now − 24 h < block time ≤ now: vwap_24h (Σ amount ×
    price ÷ Σ amount, rounded down; None without fills), volume_24h (GPU-hours) and fills_24h.

    One statement: the fills ranked newest first within their class, then grouped by class."""
    ranked = (
        select(
            node.c.gpu_model.label("gpu_class"),
            fill.c.price,
            fill.c.amount,
            fill.c.block_time,
            func.row_number()
            .over(
                partition_by=node.c.gpu_model,
                order_by=(fill.c.block_number.desc(), fill.c.log_index.desc()),
            )
            .label("rn"),
        )
        .select_from(fills_by_class(chain_id))
        .where(fill.c.chain_id == chain_id)
        .subquery()
    )
    recent = and_(ranked.c.block_time > now - DAY, ranked.c.block_time <= now)
    rows = conn.execute(
        select(
            ranked.c.gpu_class,
            func.max(case((ranked.c.rn == 1, ranked.c.price))).label("last_price"),
            func.max(case((ranked.c.rn == 1, ranked.c.block_time))).label("last_time"),
            func.sum(case((recent, ranked.c.amount * ranked.c.price), else_=0)).label("value"),
            func.sum(case((recent, ranked.c.amount), else_=0)).label("volume"),
            func.sum(case((recent, 1), else_=0)).label("fills"),
        )
        .group_by(ranked.c.gpu_class)
        .order_by(ranked.c.gpu_class)
    ).all()
    out = []
    for r in rows:
        volume = int(r.volume or 0)
        out.append(
            {
                "gpu_class": r.gpu_class,
                "last_price": int(r.last_price),
                "last_time": None if r.last_time is None else int(r.last_time),
                "vwap_24h": int(r.value) // volume if volume else None,
                "volume_24h": volume,
                "fills_24h": int(r.fills or 0),
            }
        )
    return out
