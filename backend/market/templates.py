"""The bind parameters the market's queries are templates over, and the value of NOW.

The queries are built once, at import, over CHAIN_ID and NOW (and a few of their own), and executed
with their values: building the correlated subqueries (best prices, order states, reliability) took
longer in Python than the database took to run them, and a template built once is also found in
SQLAlchemy's statement cache at once."""

from __future__ import annotations

import time

from sqlalchemy import BigInteger, Connection, bindparam, select

from backend.db.models import Block, table_of

blk = table_of(Block)

CHAIN_ID = bindparam("chain_id", type_=BigInteger)
NOW = bindparam("now", type_=BigInteger)


def market_now(conn: Connection, chain_id: int) -> int:
    """The market's clock: the later of the wall clock and the newest indexed block's timestamp.

    Expiries and windows are judged by block time on chain; a chain whose clock runs ahead of ours
    (a development chain moved forward) must not show orders the contracts would refuse as expired."""
    head = conn.execute(
        select(blk.c.timestamp).where(blk.c.chain_id == chain_id).order_by(blk.c.number.desc()).limit(1)
    ).scalar()
    return max(int(time.time()), int(head or 0))
