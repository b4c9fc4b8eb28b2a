"""Reorgs: find where the chain forked from what the store holds, and roll the store back to it.

The store keeps the hashes of the blocks in the reorg window (`block`) and of its checkpoint. When
the chain's block at the checkpoint no longer has the stored hash, the stored blocks are compared with
the chain's from the newest down; the first that matches is the fork point, and everything above it
(raw events, event rows, journaled projection rows, block hashes) is rolled back with the checkpoint,
in one transaction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import Connection, delete, select, update

from backend.db.models import EVENT_TABLES, Block, Checkpoint, RawEvent, table_of
from backend.indexer.journal import undo
from backend.indexer.rpc import Rpc

log = logging.getLogger(__name__)


class DeepReorg(RuntimeError):
    """The chain forked below every block the store remembers."""


class ConcurrentWriter(RuntimeError):
    """The checkpoint moved under this writer: another indexer is writing to the same store."""


@dataclass(frozen=True)
class Rollback:
    fork_block: int
    from_block: int
    raw_events: int
    rows_restored: int


def find_fork_point(conn: Connection, rpc: Rpc, chain_id: int, head: int) -> int:
    """The highest stored block whose hash the chain still has."""
    table = table_of(Block)
    stored = conn.execute(
        select(table.c.number, table.c.hash)
        .where(table.c.chain_id == chain_id)
        .order_by(table.c.number.desc())
    ).all()
    for number, block_hash in stored:
        if number > head:
            continue
        header = rpc.get_block(number)
        if header is not None and header.hash == block_hash:
            return number
    lowest = stored[-1][0] if stored else None
    raise DeepReorg(
        f"chain {chain_id} forked below every remembered block (the lowest is {lowest}): deeper than "
        "GPUHOURS_INDEXER_REORG_WINDOW; re-index with `gpuhours index --reset`"
    )


def rollback(conn: Connection, chain_id: int, fork_block: int, checkpoint: tuple[int, str]) -> Rollback:
    """Undo everything above `fork_block`, inside the caller's transaction.

    `checkpoint` is the (block, hash) the caller read; if it changed meanwhile another writer is at
    work and nothing is rolled back."""
    blocks = table_of(Block)
    fork_hash = conn.execute(
        select(blocks.c.hash).where(blocks.c.chain_id == chain_id, blocks.c.number == fork_block)
    ).scalar_one()
    cp = table_of(Checkpoint)
    moved = conn.execute(
        update(cp)
        .where(
            cp.c.chain_id == chain_id, cp.c.block_number == checkpoint[0], cp.c.block_hash == checkpoint[1]
        )
        .values(block_number=fork_block, block_hash=fork_hash)
    )
    if moved.rowcount != 1:
        raise ConcurrentWriter(f"the checkpoint of chain {chain_id} moved during a rollback: two writers?")
    restored = undo(conn, chain_id, fork_block)
    for model in EVENT_TABLES:
        table = table_of(model)
        conn.execute(delete(table).where(table.c.chain_id == chain_id, table.c.block_number > fork_block))
    raw = table_of(RawEvent)
    removed = conn.execute(
        delete(raw).where(raw.c.chain_id == chain_id, raw.c.block_number > fork_block)
    ).rowcount
    conn.execute(delete(blocks).where(blocks.c.chain_id == chain_id, blocks.c.number > fork_block))
    log.warning(
        "chain %d reorganised: rolled back blocks %d..%d (%d events, %d rows restored)",
        chain_id,
        fork_block + 1,
        checkpoint[0],
        removed,
        restored,
    )
    return Rollback(fork_block, checkpoint[0], removed, restored)
