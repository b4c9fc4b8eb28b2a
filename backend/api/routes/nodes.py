"""Nodes: the registry with filters, one node's attested record and its attestations."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import and_, case, func, select

from backend.api.deps import ChainIdDep, SessionDep, SettingsDep
from backend.api.errors import documented, not_found
from backend.api.reads import (
    att,
    checked_address,
    epochs_attested,
    meets_sla,
    page_bounds,
    reliability_bps,
    sla_thresholds,
)
from backend.api.schemas.nodes import (
    AttestationPage,
    AttestationPublic,
    NodeDetail,
    NodePage,
    NodePublic,
    Reliability,
)
from backend.api.schemas.providers import NodeMetadataPublic
from backend.api.schemas.types import AddressQuery, IdPath, Limit, Offset
from backend.db.models import Capacity, Node, NodeHealth, NodeMetadata, Slash, table_of
from backend.market.templates import CHAIN_ID

router = APIRouter(prefix="/nodes", tags=["nodes"])

node = table_of(Node)
cap = table_of(Capacity)
meta = table_of(NodeMetadata)
health = table_of(NodeHealth)
slash = table_of(Slash)

NO_NODE = documented({404: "not_found: no such node"})

NODE_FIELDS = (
    "node_id",
    "owner",
    "gpu_model",
    "gpu_count",
    "vram_gb",
    "region",
    "interconnect",
    "gpu_uuids_hash",
    "registered_block",
    "registered_time",
)


#: Nodes with their attested reliability, a template over CHAIN_ID (reads.py).
NODES = select(
    node,
    reliability_bps(CHAIN_ID, node.c.node_id).label("reliability_bps"),
    epochs_attested(CHAIN_ID, node.c.node_id).label("epochs_attested"),
).where(node.c.chain_id == CHAIN_ID)


def _node_fields(row: Any) -> dict[str, Any]:
    m = row._mapping
    return {k: m[k] for k in (*NODE_FIELDS, "reliability_bps", "epochs_attested")}


@router.get("", response_model=NodePage, summary="Registered nodes, filtered and paged by id")
def list_nodes(
    db: SessionDep,
    chain_id: ChainIdDep,
    settings: SettingsDep,
    gpu_model: Annotated[str | None, Query(description="GPU model, exactly")] = None,
    region: Annotated[str | None, Query(description="region, exactly")] = None,
    owner: Annotated[AddressQuery, Query(description="the owner's address")] = None,
    limit: Limit = None,
    offset: Offset = 0,
) -> NodePage:
    limit, offset = page_bounds(settings, limit, offset)
    conn = db.connection()
    params = {"chain_id": chain_id}
    query = NODES
    if gpu_model is not None:
        query = query.where(node.c.gpu_model == gpu_model)
    if region is not None:
        query = query.where(node.c.region == region)
    if owner is not None:
        query = query.where(node.c.owner == checked_address(owner, "owner"))
    total = conn.execute(
        select(func.count()).select_from(query.with_only_columns(node.c.node_id).subquery()), params
    ).scalar_one()
    rows = conn.execute(query.order_by(node.c.node_id).limit(limit).offset(offset), params)
    return NodePage(
        items=[NodePublic(**_node_fields(r)) for r in rows], total=total, limit=limit, offset=offset
    )


@router.get(
    "/{node_id}",
    response_model=NodeDetail,
    summary="One node: metadata and attested reliability",
    responses=NO_NODE,
)
def get_node(db: SessionDep, chain_id: ChainIdDep, settings: SettingsDep, node_id: IdPath) -> NodeDetail:
    conn = db.connection()
    row = conn.execute(NODES.where(node.c.node_id == node_id), {"chain_id": chain_id}).first()
    if row is None:
        raise not_found("node", node_id)
    min_uptime, min_per_joule = sla_thresholds(conn, chain_id, settings)
    record = conn.execute(
        select(
            func.count().label("epochs"),
            func.sum(att.c.uptime_bps).label("uptime"),
            func.sum(att.c.load_bps).label("load"),
            func.sum(att.c.gpu_seconds).label("gpu_seconds"),
            func.sum(att.c.mflops_per_joule).label("mflops"),
            func.sum(att.c.gflops).label("gflops"),
            func.max(att.c.epoch).label("last_epoch"),
            func.sum(case((meets_sla(min_uptime, min_per_joule), 1), else_=0)).label("met"),
        ).where(att.c.chain_id == chain_id, att.c.node_id == node_id)
    ).one()
    n = record.epochs

    def mean(total: Any) -> int | None:
        return int(total) // n if n else None

    stale = conn.execute(
        select(health.c.stale).where(health.c.chain_id == chain_id, health.c.node_id == node_id)
    ).scalar()
    met = int(record.met or 0)
    reliability = Reliability(
        epochs=n,
        reliability_bps=row.reliability_bps,
        mean_load_bps=mean(record.load),
        gpu_seconds=int(record.gpu_seconds or 0),
        mean_mflops_per_joule=mean(record.mflops),
        mean_gflops=mean(record.gflops),
        last_epoch=record.last_epoch,
        stale=stale,
        sla_min_uptime_bps=min_uptime,
        sla_min_gflops_per_joule=min_per_joule,
        sla_epochs_met=met,
        sla_share_bps=met * 10_000 // n if n else None,
    )
    metadata = conn.execute(
        select(meta).where(meta.c.chain_id == chain_id, meta.c.node_id == node_id)
    ).first()
    slashed = conn.execute(
        select(func.coalesce(func.sum(slash.c.amount), 0))
        .select_from(
            slash.join(
                cap, and_(cap.c.chain_id == slash.c.chain_id, cap.c.capacity_id == slash.c.capacity_id)
            )
        )
        .where(slash.c.chain_id == chain_id, cap.c.node_id == node_id)
    ).scalar_one()
    capacities = conn.execute(
        select(func.count()).where(cap.c.chain_id == chain_id, cap.c.node_id == node_id)
    ).scalar_one()
    return NodeDetail(
        **_node_fields(row),
        reliability=reliability,
        slashed_total=int(slashed),
        capacities=capacities,
        metadata=NodeMetadataPublic(**{k: metadata._mapping[k] for k in NodeMetadataPublic.model_fields})
        if metadata is not None
        else None,
    )


@router.get(
    "/{node_id}/attestations",
    response_model=AttestationPage,
    summary="A node's attested epochs, newest first",
    responses=NO_NODE,
)
def list_attestations(
    db: SessionDep,
    chain_id: ChainIdDep,
    settings: SettingsDep,
    node_id: IdPath,
    limit: Limit = None,
    offset: Offset = 0,
) -> AttestationPage:
    limit, offset = page_bounds(settings, limit, offset)
    conn = db.connection()
    known = conn.execute(
        select(node.c.node_id).where(node.c.chain_id == chain_id, node.c.node_id == node_id)
    ).first()
    if known is None:
        raise not_found("node", node_id)
    min_uptime, min_per_joule = sla_thresholds(conn, chain_id, settings)
    where = (att.c.chain_id == chain_id, att.c.node_id == node_id)
    total = conn.execute(select(func.count()).where(*where)).scalar_one()
    rows = conn.execute(
        select(att, meets_sla(min_uptime, min_per_joule).label("meets_sla"))
        .where(*where)
        .order_by(att.c.epoch.desc())
        .limit(limit)
        .offset(offset)
    )
    items = [AttestationPublic(**{k: r._mapping[k] for k in AttestationPublic.model_fields}) for r in rows]
    return AttestationPage(items=items, total=total, limit=limit, offset=offset)
