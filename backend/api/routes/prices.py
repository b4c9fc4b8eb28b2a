"""Prices per GPU class: last fill, 24 h VWAP and volume, the oracle's mark; a class's recent fills."""

from __future__ import annotations

import time
from collections.abc import Collection
from typing import Annotated, Any

from fastapi import APIRouter, Path
from sqlalchemy import Connection, func, select

from backend.api.deps import ChainIdDep, SessionDep, SettingsDep
from backend.api.errors import documented, not_found
from backend.api.reads import page_bounds
from backend.api.schemas.prices import FillPage, FillPublic, PriceList, PricePublic
from backend.api.schemas.types import Limit, Offset
from backend.db.models import IndexedMarkPrice, PriceIndex, table_of
from backend.market.price_index import compute_price_index, fill, fills_by_class, node
from backend.market.templates import market_now

router = APIRouter(prefix="/prices", tags=["prices"])

mark = table_of(IndexedMarkPrice)
pidx = table_of(PriceIndex)

#: Rows of the price-index task are used while younger than this many task intervals.
FRESH_INTERVALS = 2


def latest_marks(
    conn: Connection, chain_id: int, classes: Collection[str] | None = None
) -> dict[str, tuple[int | None, int | None]]:
    """GPU class -> (price, epoch) of its latest MarkPriceSet, (None, None) without one, for every GPU
    model of a registered node (or those of `classes`): one probe of the mark index per class, however
    long the mark history."""
    models = select(node.c.gpu_model.label("gpu_class")).where(node.c.chain_id == chain_id).distinct()
    if classes is not None:
        models = models.where(node.c.gpu_model.in_(list(classes)))
    src = models.subquery()

    def newest(column: Any) -> Any:
        return (
            select(column)
            .where(mark.c.chain_id == chain_id, mark.c.gpu_class == src.c.gpu_class)
            .order_by(mark.c.epoch.desc())
            .limit(1)
            .scalar_subquery()
        )

    rows = conn.execute(
        select(src.c.gpu_class, newest(mark.c.price).label("price"), newest(mark.c.epoch).label("epoch"))
    )
    return {
        r.gpu_class: (None if r.price is None else int(r.price), None if r.epoch is None else int(r.epoch))
        for r in rows
    }


@router.get("", response_model=PriceList, summary="Per GPU class: last price, 24 h VWAP and volume, mark")
def list_prices(db: SessionDep, chain_id: ChainIdDep, settings: SettingsDep) -> PriceList:
    conn = db.connection()
    fresh_after = time.time() - FRESH_INTERVALS * settings.task_price_interval
    stored = conn.execute(
        select(pidx)
        .where(pidx.c.chain_id == chain_id, pidx.c.updated_at >= fresh_after)
        .order_by(pidx.c.gpu_class)
    ).all()
    rows: list[dict[str, Any]]
    if stored:
        source = "index"
        rows = [dict(r._mapping) for r in stored]
        as_of = int(max(r["updated_at"] for r in rows))
    else:
        source = "fills"
        as_of = market_now(conn, chain_id)
        rows = compute_price_index(conn, chain_id, as_of)
    marks = latest_marks(conn, chain_id)
    by_class = {r["gpu_class"]: r for r in rows}
    items = []
    for gpu_class in sorted(by_class.keys() | marks.keys()):
        r = by_class.get(gpu_class, {})
        price, epoch = marks.get(gpu_class, (None, None))
        items.append(
            PricePublic(
                gpu_class=gpu_class,
                last_price=r.get("last_price"),
                last_time=r.get("last_time"),
                vwap_24h=r.get("vwap_24h"),
                volume_24h=r.get("volume_24h", 0),
                fills_24h=r.get("fills_24h", 0),
                mark_price=price,
                mark_epoch=epoch,
            )
        )
    return PriceList(items=items, as_of=as_of, source=source)


@router.get(
    "/{gpu_class}/fills",
    response_model=FillPage,
    summary="Recent fills of a GPU class, newest first",
    responses=documented({404: "not_found: no node has this GPU model"}),
)
def list_fills(
    db: SessionDep,
    chain_id: ChainIdDep,
    settings: SettingsDep,
    gpu_class: Annotated[str, Path(max_length=64, description="a GPU model, e.g. H100-SXM5-80GB")],
    limit: Limit = None,
    offset: Offset = 0,
) -> FillPage:
    limit, offset = page_bounds(settings, limit, offset)
    conn = db.connection()
    known = conn.execute(
        select(node.c.node_id).where(node.c.chain_id == chain_id, node.c.gpu_model == gpu_class).limit(1)
    ).first()
    if known is None:
        raise not_found("GPU class", gpu_class)
    query = (
        select(fill)
        .select_from(fills_by_class(chain_id))
        .where(fill.c.chain_id == chain_id, node.c.gpu_model == gpu_class)
    )
    total = conn.execute(query.with_only_columns(func.count())).scalar_one()
    rows = conn.execute(
        query.order_by(fill.c.block_number.desc(), fill.c.log_index.desc()).limit(limit).offset(offset)
    )
    items = [FillPublic(**{k: r._mapping[k] for k in FillPublic.model_fields}) for r in rows]
    return FillPage(items=items, total=total, limit=limit, offset=offset)
