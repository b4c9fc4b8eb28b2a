"""Lending pools: each pool's totals, its borrowers' positions and pledged collateral, and its events
(supply, withdraw, pledge, unpledge, borrow, repay, interest).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 18:57:04.222827

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import backend.db.types

# revision identifiers, used by Alembic.
revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "pool",
        sa.Column("chain_id", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=42), nullable=False),
        sa.Column("supply_shares", backend.db.types.U256(), nullable=False),
        sa.Column("cash", backend.db.types.U256(), nullable=False),
        sa.Column("borrow_assets", backend.db.types.U256(), nullable=False),
        sa.Column("borrow_shares", backend.db.types.U256(), nullable=False),
        sa.Column("interest", backend.db.types.U256(), nullable=False),
        sa.Column("bad_debt", backend.db.types.U256(), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "address"),
    )
    op.create_table(
        "pool_collateral",
        sa.Column("chain_id", sa.Integer(), nullable=False),
        sa.Column("pool", sa.String(length=42), nullable=False),
        sa.Column("borrower", sa.String(length=42), nullable=False),
        sa.Column("capacity_id", sa.BigInteger(), nullable=False),
        sa.Column("units", backend.db.types.U256(), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "pool", "borrower", "capacity_id"),
    )
    op.create_table(
        "pool_event",
        sa.Column("chain_id", sa.Integer(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("block_hash", sa.String(length=66), nullable=False),
        sa.Column("block_time", sa.BigInteger(), nullable=True),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("pool", sa.String(length=42), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("account", sa.String(length=42), nullable=True),
        sa.Column("counterparty", sa.String(length=42), nullable=True),
        sa.Column("capacity_id", sa.BigInteger(), nullable=True),
        sa.Column("units", backend.db.types.U256(), nullable=True),
        sa.Column("assets", backend.db.types.U256(), nullable=False),
        sa.Column("shares", backend.db.types.U256(), nullable=True),
        sa.Column("rate_per_second", backend.db.types.U256(), nullable=True),
        sa.Column("total_borrow", backend.db.types.U256(), nullable=True),
        sa.PrimaryKeyConstraint("chain_id", "block_number", "log_index"),
    )
    with op.batch_alter_table("pool_event", schema=None) as batch_op:
        batch_op.create_index("ix_pool_event_account", ["chain_id", "pool", "account"], unique=False)

    op.create_table(
        "pool_position",
        sa.Column("chain_id", sa.Integer(), nullable=False),
        sa.Column("pool", sa.String(length=42), nullable=False),
        sa.Column("borrower", sa.String(length=42), nullable=False),
        sa.Column("borrow_shares", backend.db.types.U256(), nullable=False),
        sa.Column("borrowed", backend.db.types.U256(), nullable=False),
        sa.Column("repaid", backend.db.types.U256(), nullable=False),
        sa.Column("updated_block", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "pool", "borrower"),
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table("pool_position")
    with op.batch_alter_table("pool_event", schema=None) as batch_op:
        batch_op.drop_index("ix_pool_event_account")

    op.drop_table("pool_event")
    op.drop_table("pool_collateral")
    op.drop_table("pool")
