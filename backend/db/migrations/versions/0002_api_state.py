"""API state: signed orders, node metadata, sign-in nonces and sessions, price index, node health.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 10:09:04.994631

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import backend.db.types

# revision identifiers, used by Alembic.
revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "api_session",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("address", sa.String(length=42), nullable=False),
        sa.Column("chain_id", sa.Integer(), nullable=False),
        sa.Column("issued_at", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("token_hash"),
    )
    with op.batch_alter_table("api_session", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_session_address"), ["address"], unique=False)

    op.create_table(
        "auth_nonce",
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("issued_at", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.Column("used_at", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("nonce"),
    )
    with op.batch_alter_table("auth_nonce", schema=None) as batch_op:
        batch_op.create_index("ix_auth_nonce_expiry", ["expires_at"], unique=False)

    op.create_table(
        "node_health",
        sa.Column("chain_id", sa.Integer(), nullable=False),
        sa.Column("node_id", sa.BigInteger(), nullable=False),
        sa.Column("last_epoch", sa.BigInteger(), nullable=True),
        sa.Column("stale", sa.Boolean(), nullable=False),
        sa.Column("flagged_at", sa.Float(), nullable=True),
        sa.Column("checked_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "node_id"),
    )
    op.create_table(
        "node_metadata",
        sa.Column("chain_id", sa.Integer(), nullable=False),
        sa.Column("node_id", sa.BigInteger(), nullable=False),
        sa.Column("owner", sa.String(length=42), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("description", sa.String(length=2000), nullable=False),
        sa.Column("endpoint", sa.String(length=256), nullable=True),
        sa.Column(
            "tags",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "node_id"),
    )
    op.create_table(
        "price_index",
        sa.Column("chain_id", sa.Integer(), nullable=False),
        sa.Column("gpu_class", sa.String(length=64), nullable=False),
        sa.Column("last_price", backend.db.types.U256(), nullable=False),
        sa.Column("last_time", sa.BigInteger(), nullable=True),
        sa.Column("vwap_24h", backend.db.types.U256(), nullable=True),
        sa.Column("volume_24h", backend.db.types.U256(), nullable=False),
        sa.Column("fills_24h", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "gpu_class"),
    )
    op.create_table(
        "signed_order",
        sa.Column("chain_id", sa.Integer(), nullable=False),
        sa.Column("order_hash", sa.String(length=66), nullable=False),
        sa.Column("maker", sa.String(length=42), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("capacity_id", sa.BigInteger(), nullable=False),
        sa.Column("amount", backend.db.types.U256(), nullable=False),
        sa.Column("price", backend.db.types.U256(), nullable=False),
        sa.Column("expiry", sa.BigInteger(), nullable=False),
        sa.Column("salt", backend.db.types.U256(), nullable=False),
        sa.Column("counter", backend.db.types.U256(), nullable=False),
        sa.Column("signature", sa.String(length=1024), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("posted_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "order_hash"),
    )
    with op.batch_alter_table("signed_order", schema=None) as batch_op:
        batch_op.create_index(
            "ix_signed_order_book", ["chain_id", "capacity_id", "status", "kind", "price"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_signed_order_maker"), ["maker"], unique=False)
        batch_op.create_index("ix_signed_order_updated", ["updated_at"], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("signed_order", schema=None) as batch_op:
        batch_op.drop_index("ix_signed_order_updated")
        batch_op.drop_index(batch_op.f("ix_signed_order_maker"))
        batch_op.drop_index("ix_signed_order_book")

    op.drop_table("signed_order")
    op.drop_table("price_index")
    op.drop_table("node_metadata")
    op.drop_table("node_health")
    with op.batch_alter_table("auth_nonce", schema=None) as batch_op:
        batch_op.drop_index("ix_auth_nonce_expiry")

    op.drop_table("auth_nonce")
    with op.batch_alter_table("api_session", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_session_address"))

    op.drop_table("api_session")
