"""Column types shared by the tables."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Numeric
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine, UserDefinedType

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

#: JSON documents: JSONB on PostgreSQL (indexable, exact numbers), JSON text elsewhere.
JSONDoc = JSON().with_variant(JSONB(), "postgresql")


class _SqliteAny(UserDefinedType):
    """A column without type affinity on SQLite: integers are stored as INTEGER, exactly, and text as
    TEXT, unconverted (an INTEGER or NUMERIC column would turn a 78-digit number into a float)."""

    cache_ok = True

    def get_col_spec(self, **kw: Any) -> str:
        return "BLOB"


class U256(TypeDecorator):
    """A uint256 (or int256) as an exact integer.

    PostgreSQL: NUMERIC(78, 0), exact for every 256-bit value, with SQL arithmetic and ordering.
    SQLite: a 64-bit INTEGER for every value that fits, else its decimal text zero-padded to 78 digits.
    SQLite orders every INTEGER before every TEXT, and padded digits order as numbers, so ordering and
    comparisons with integers stay exact for every uint256; SUM is exact while the total fits 64 bits
    (a 6-decimal stablecoin's 9.2 trillion units).
    """

    impl = Numeric(78, 0)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(_SqliteAny())
        return dialect.type_descriptor(Numeric(78, 0))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        value = int(value)
        if dialect.name == "sqlite" and not INT64_MIN <= value <= INT64_MAX:
            return str(value).zfill(78) if value > 0 else str(value)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> int | None:
        return None if value is None else int(value)
