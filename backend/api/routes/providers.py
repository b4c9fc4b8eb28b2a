"""Providers: metadata of their registered nodes (name, endpoint, description, tags), written by the
node's owner on chain."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Path
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from backend.api.deps import ChainDep, CurrentAddress, SessionDep
from backend.api.errors import SIGNED_IN, ApiError, documented
from backend.api.schemas.providers import NodeMetadataRecord, NodeMetadataUpdate
from backend.db.models import NodeMetadata

router = APIRouter(prefix="/providers", tags=["providers"])

# uint64 on chain; ids are issued in sequence, and the store's BIGINT holds them up to 2^63 - 1.
NodeId = Annotated[int, Path(ge=1, le=2**63 - 1, description="the node id of GpuHours' registry")]
ZERO_ADDRESS = "0x" + "0" * 40


def _public(row: NodeMetadata) -> NodeMetadataRecord:
    return NodeMetadataRecord(
        chain_id=row.chain_id,
        node_id=row.node_id,
        owner=row.owner,
        name=row.name,
        description=row.description,
        endpoint=row.endpoint,
        tags=list(row.tags),
        updated_at=row.updated_at,
    )


@router.put(
    "/nodes/{node_id}/metadata",
    response_model=NodeMetadataRecord,
    summary="Describe a node (its owner)",
    responses={
        **SIGNED_IN,
        **documented(
            {
                400: "endpoint_too_long: the endpoint is over 256 characters",
                403: "not_node_owner: signed in as another address",
                404: "unknown_node: no such node on chain",
            }
        ),
    },
)
def put_metadata(
    node_id: NodeId, body: NodeMetadataUpdate, db: SessionDep, chain: ChainDep, address: CurrentAddress
) -> NodeMetadataRecord:
    """Replaces the node's metadata. The caller must be signed in as the node's owner on chain now."""
    market = chain.market
    owner = market.hours.functions.node(node_id).call()[0]
    if owner == ZERO_ADDRESS:
        raise ApiError(404, "unknown_node", f"node {node_id} is not registered on chain {market.chain_id}")
    if owner != address:
        raise ApiError(
            403, "not_node_owner", f"node {node_id} is owned by {owner}; you are signed in as {address}"
        )
    endpoint = str(body.endpoint) if body.endpoint is not None else None
    if endpoint is not None and len(endpoint) > 256:
        raise ApiError(400, "endpoint_too_long", f"endpoint is {len(endpoint)} characters; at most 256")
    values = {
        "owner": owner,
        "name": body.name,
        "description": body.description,
        "endpoint": endpoint,
        "tags": list(body.tags),
        "updated_at": time.time(),
    }
    key = (col(NodeMetadata.chain_id) == market.chain_id, col(NodeMetadata.node_id) == node_id)
    # UPDATE first, INSERT if there was nothing: each write opens its transaction (SQLite cannot
    # upgrade a read snapshot another writer has overtaken); a racing first write becomes an UPDATE.
    db.rollback()
    for _ in range(2):
        if db.exec(update(NodeMetadata).where(*key).values(**values)).rowcount == 0:
            db.add(NodeMetadata(chain_id=market.chain_id, node_id=node_id, **values))
        try:
            db.commit()
            break
        except IntegrityError:
            db.rollback()
    row = db.get(NodeMetadata, (market.chain_id, node_id), populate_existing=True)
    if row is None:  # pragma: no cover — written just above
        raise ApiError(409, "conflict", f"node {node_id}'s metadata changed while it was written; try again")
    return _public(row)


@router.get(
    "/nodes/{node_id}/metadata",
    response_model=NodeMetadataRecord,
    summary="A node's metadata",
    responses=documented({404: "not_found: no metadata for this node"}),
)
def get_metadata(node_id: NodeId, db: SessionDep, chain: ChainDep) -> NodeMetadataRecord:
    row = db.get(NodeMetadata, (chain.chain_id, node_id))
    if row is None:
        raise ApiError(404, "not_found", f"node {node_id} has no metadata on chain {chain.chain_id}")
    return _public(row)
