"""Projection rows read and written through a journal, so a reorg can undo them.

A `Store` holds the rows a batch touches in memory and writes them when the batch commits. The first
time a row is written in a block inside the reorg window, its before-image (None when the row did not
exist yet) goes to the `journal` table. `undo` restores, for every row written above a fork point,
the earliest before-image above it: the row as it stood at the end of the fork block.

A batch first `prefetch`es the rows its events will touch, one query per table and chunk of keys;
a row it did not announce is loaded by its own query when first used.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import cache
from operator import itemgetter
from typing import Any

import msgspec
from pydantic_core import PydanticUndefined
from sqlalchemy import JSON, Connection, Table, and_, bindparam, delete, insert, select, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import SQLModel

from backend.db.models import EVENT_TABLES, STATE_TABLES, Journal, table_of

Row = dict[str, Any]

_STATE: dict[str, Table] = {table_of(m).name: table_of(m) for m in STATE_TABLES}


def pk_columns(table: Table) -> list[str]:
    return [c.name for c in table.primary_key.columns]


_PK: dict[str, list[str]] = {name: pk_columns(table) for name, table in _STATE.items()}
_PK_OF: dict[str, Callable[[dict[str, Any]], tuple[Any, ...]]] = {
    name: itemgetter(*columns) for name, columns in _PK.items()
}  # every key has 2+ columns: a tuple
PREFETCH_CHUNK = 500


@cache
def _defaults(model: type[SQLModel]) -> tuple[dict[str, Any], dict[str, Callable[[], Any]]]:
    """A model's field defaults, and the factories of those made fresh for each row."""
    values, factories = {}, {}
    for name, info in model.model_fields.items():
        if info.default_factory is not None:
            factories[name] = info.default_factory
        elif info.default is not PydanticUndefined:
            values[name] = info.default
    return values, factories  # type: ignore[return-value]


class Store:
    """Rows of the state tables for one batch; `flush` writes them and their journal."""

    def __init__(self, conn: Connection, chain_id: int, journal_above: int):
        """Writes in blocks > `journal_above` are journaled; older blocks are final."""
        self.conn = conn
        self.chain_id = chain_id
        self.journal_above = journal_above
        self.block = 0
        self._rows: dict[tuple[str, tuple[Any, ...]], Row | None] = {}
        self._dirty: set[tuple[str, tuple[Any, ...]]] = set()
        self._journaled: set[tuple[str, tuple[Any, ...], int]] = set()
        self._journal: list[Row] = []
        self._events: dict[str, list[Row]] = {}

    # ------------------------------------------------------------------ reading and writing

    def _key(self, table: Table, pk: dict[str, Any]) -> tuple[str, tuple[Any, ...]]:
        return table.name, _PK_OF[table.name](pk)

    def get(self, model: type[SQLModel], **pk: Any) -> Row | None:
        """The row with this primary key (chain id implied), or None. A copy: change it, then put it."""
        table = table_of(model)
        pk = {"chain_id": self.chain_id, **pk}
        key = self._key(table, pk)
        if key not in self._rows:
            self._load(table, key)
        row = self._rows[key]
        return dict(row) if row is not None else None

    def new(self, model: type[SQLModel], **values: Any) -> Row:
        """A full row of `model` with its defaults, not yet stored."""
        defaults, factories = _defaults(model)
        row = {**defaults, "chain_id": self.chain_id, **values}
        for name, factory in factories.items():
            if name not in values:
                row[name] = factory()
        return row

    def put(self, model: type[SQLModel], row: Row) -> None:
        table = table_of(model)
        self._write(table, self._key(table, row), dict(row))

    def remove(self, model: type[SQLModel], **pk: Any) -> None:
        table = table_of(model)
        self._write(table, self._key(table, {"chain_id": self.chain_id, **pk}), None)

    def _write(self, table: Table, key: tuple[str, tuple[Any, ...]], row: Row | None) -> None:
        if key not in self._rows:
            self._load(table, key)
        if self.block > self.journal_above and (key[0], key[1], self.block) not in self._journaled:
            self._journaled.add((key[0], key[1], self.block))
            self._journal.append(
                {
                    "chain_id": self.chain_id,
                    "block_number": self.block,
                    "table_name": key[0],
                    "pk": list(key[1]),
                    "before": self._rows[key],
                }
            )
        self._rows[key] = row
        self._dirty.add(key)

    def prefetch(self, keys: Iterable[tuple[type[SQLModel], dict[str, Any]]]) -> None:
        """Load the rows with these primary keys (chain id implied) that are not held yet."""
        wanted: dict[str, set[tuple[Any, ...]]] = {}
        for model, pk in keys:
            table = table_of(model)
            key = self._key(table, {"chain_id": self.chain_id, **pk})
            if key not in self._rows:
                wanted.setdefault(table.name, set()).add(key[1])
        for name, pks in wanted.items():
            table, columns = _STATE[name], _PK[name]
            at = [i for i, c in enumerate(columns) if c != "chain_id"]
            match = [table.c[columns[i]] for i in at]
            ordered = list(pks)
            for start in range(0, len(ordered), PREFETCH_CHUNK):
                chunk = ordered[start : start + PREFETCH_CHUNK]
                values = [tuple(pk[i] for i in at) for pk in chunk]
                where = (
                    match[0].in_([v[0] for v in values]) if len(match) == 1 else tuple_(*match).in_(values)
                )
                for held in chunk:
                    self._rows[(name, held)] = None
                found = self.conn.execute(select(table).where(table.c.chain_id == self.chain_id, where))
                for row in found.mappings():
                    self._rows[(name, tuple(row[c] for c in columns))] = dict(row)

    def _load(self, table: Table, key: tuple[str, tuple[Any, ...]]) -> None:
        pk = dict(zip(_PK[table.name], key[1], strict=True))
        where = and_(*(table.c[c] == pk[c] for c in pk))
        found = self.conn.execute(select(table).where(where)).mappings().first()
        self._rows[key] = dict(found) if found is not None else None

    def append(self, model: type[SQLModel], row: Row) -> None:
        """An event-table row (fill, attestation, ...): inserted at flush, removed by block on a reorg."""
        self._events.setdefault(table_of(model).name, []).append(row)

    # ------------------------------------------------------------------ flushing

    def flush(self) -> None:
        upserts: dict[str, list[Row]] = {}
        deletes: dict[str, list[tuple[Any, ...]]] = {}
        for key in self._dirty:
            row = self._rows[key]
            if row is None:
                deletes.setdefault(key[0], []).append(key[1])
            else:
                upserts.setdefault(key[0], []).append(row)
        for name, pks in deletes.items():
            delete_rows(self.conn, _STATE[name], pks)
        for name, rows in upserts.items():
            upsert_rows(self.conn, _STATE[name], rows)
        tables = {table_of(m).name: table_of(m) for m in EVENT_TABLES}
        for name, rows in self._events.items():
            insert_rows(self.conn, tables[name], rows)
        insert_rows(self.conn, table_of(Journal), self._journal)
        self._dirty.clear()
        self._events.clear()
        self._journal.clear()


def _json_text(value: Any) -> str:
    return msgspec.json.encode(value).decode()


def insert_rows(conn: Connection, table: Table, rows: list[Row]) -> None:
    """`conn.execute(insert(table), rows)` for many rows with the keys of the first, through the
    driver: COPY on PostgreSQL, executemany on SQLite. SQLAlchemy's per-row parameter handling costs
    more than the database's insert. Values are converted by the columns' bind processing as before
    (U256); JSON is encoded by msgspec, which is several times faster than the json module."""
    if not rows:
        return
    dialect = conn.dialect
    names = list(rows[0])
    columns = [table.c[n] for n in names]
    # The scalar defaults of the columns the rows leave out, as SQLAlchemy would fill them in.
    defaults = [
        c for c in table.columns if c.name not in rows[0] and c.default is not None and c.default.is_scalar
    ]
    columns += defaults
    fixed = [c.default.arg for c in defaults]  # type: ignore[union-attr]
    values = [[row[n] for n in names] + fixed for row in rows]
    for i, column in enumerate(columns):
        process = (
            _json_text
            if isinstance(column.type, JSON)
            else column.type.dialect_impl(dialect).bind_processor(dialect)
        )
        if process is not None:
            for value in values:
                value[i] = process(value[i])
    preparer = dialect.identifier_preparer
    target = f"{preparer.format_table(table)} ({', '.join(preparer.quote(c.name) for c in columns)})"
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        if dialect.name == "postgresql":
            with cursor.copy(f"COPY {target} FROM STDIN") as copy:
                for value in values:
                    copy.write_row(value)
        else:
            # `target` is quoted by the dialect's identifier preparer; the values are bound
            sql = f"INSERT INTO {target} VALUES ({', '.join('?' * len(columns))})"  # noqa: S608
            cursor.executemany(sql, values)
    finally:
        cursor.close()


def upsert_rows(conn: Connection, table: Table, rows: list[Row]) -> None:
    if not rows:
        return
    pks = pk_columns(table)
    make = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    stmt = make(table)
    others = [c.name for c in table.columns if c.name not in pks]
    stmt = stmt.on_conflict_do_update(index_elements=pks, set_={c: stmt.excluded[c] for c in others})
    conn.execute(stmt, rows)


def delete_rows(conn: Connection, table: Table, pks: Iterable[tuple[Any, ...]]) -> None:
    names = pk_columns(table)
    params = [{f"k_{n}": v for n, v in zip(names, pk, strict=True)} for pk in pks]
    if params:
        where = and_(*(table.c[n] == bindparam(f"k_{n}") for n in names))
        conn.execute(delete(table).where(where), params)


def undo(conn: Connection, chain_id: int, fork_block: int) -> int:
    """Restore every state row written above `fork_block` to its image at the end of that block, and
    drop those journal entries. Returns the number of rows restored."""
    journal = table_of(Journal)
    entries = conn.execute(
        select(journal.c.table_name, journal.c.pk, journal.c.before)
        .where(journal.c.chain_id == chain_id, journal.c.block_number > fork_block)
        .order_by(journal.c.id.desc())
    ).all()
    earliest: dict[tuple[str, tuple[Any, ...]], Row | None] = {}
    for name, pk, before in entries:  # newest first, so the oldest image is the one that stays
        earliest[(name, tuple(pk))] = before
    by_table: dict[str, list[tuple[tuple[Any, ...], Row | None]]] = {}
    for (name, pk), before in earliest.items():
        by_table.setdefault(name, []).append((pk, before))
    for name, items in by_table.items():
        table = _STATE[name]
        delete_rows(conn, table, [pk for pk, _ in items])
        restored = [before for _, before in items if before is not None]
        if restored:
            conn.execute(insert(table), restored)
    conn.execute(delete(journal).where(journal.c.chain_id == chain_id, journal.c.block_number > fork_block))
    return len(earliest)
