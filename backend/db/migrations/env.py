"""Alembic environment: the tables of backend.db.models, on settings.db_url or a given connection.

.venv/bin/alembic upgrade head                               # GPUHOURS_DB_URL, else the SQLite default
.venv/bin/alembic revision --autogenerate -m "what changed"  # after editing backend/db/models.py
"""

from __future__ import annotations

from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import Connection
from sqlmodel import SQLModel

import backend.db.models  # noqa: F401  (registers the tables on SQLModel.metadata)
from backend.config import StoreSettings, load_settings
from backend.db.session import make_engine

config = context.config
target_metadata = SQLModel.metadata


def render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    """Render the project's column types by their import path, so generated migrations import them."""
    if type_ != "type":
        return False
    if obj.__class__.__module__ == "backend.db.types":
        autogen_context.imports.add("import backend.db.types")
        return f"backend.db.types.{obj.__class__.__name__}()"
    if obj.__class__.__name__ == "AutoString":  # SQLModel's str column is a plain VARCHAR
        return f"sa.String(length={obj.length})" if obj.length else "sa.String()"
    return False


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
        render_item=render_item,
        compare_type=True,
    )


def run_migrations_offline() -> None:
    context.configure(
        url=load_settings(StoreSettings).db_url,
        target_metadata=target_metadata,
        literal_binds=True,
        render_item=render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:  # backend.db.session.migrate hands its transaction in
        _configure(connection)
        context.run_migrations()
        return
    engine = make_engine(load_settings(StoreSettings).db_url)
    with engine.begin() as connection:
        _configure(connection)
        context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
