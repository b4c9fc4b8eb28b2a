"""Indexer state (raw events, recent blocks, checkpoint, journal, writer lock) and the projections.

Revision ID: 0001
Revises:
Create Date: 2026-11-25 05:39:58.814456

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import backend.db.types

# revision identifiers, used by Alembic.
revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "attestation",
        sa.Column("chain_id", sa.Integer(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("block_hash", sa.String(length=66), nullable=False),
        sa.Column("block_time", sa.BigInteger(), nullable=True),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("node_id", sa.BigInteger(), nullable=False),
        sa.Column("epoch", sa.BigInteger(), nullable=False),
        sa.Column("uptime_bps", sa.Integer(), nullable=False),
        sa.Column("load_bps", sa.Integer(), nullable=False),
        sa.Column("gpu_seconds", sa.BigInteger(), nullable=False),
        sa.Column("mflops_per_joule", sa.BigInteger(), nullable=False),
        sa.Column("gflops", sa.BigInteger(), nullable=False),
        sa.Column("samples_root", sa.String(length=66), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "block_number", "log_index"),
        sa.UniqueConstraint("chain_id", "node_id", "epoch", name="uq_attestation_epoch"),
    )
    op.create_table(
        "balance",
        sa.Column("chain_id", sa.Integer(), nullable=False),
        sa.Column("holder", sa.String(length=42), nullable=False),
        sa.Column("capacity_id", sa.BigInteger(), nullable=False),
        sa.Column("amount", backend.db.types.U256(), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "holder", "capacity_id"),
    )
    op.create_index(op.f("ix_balance_capacity_id"), "balance", ["capacity_id"], unique=False)
    op.create_table(
        "block",
        sa.Column("chain_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=66), nullable=False),
        sa.Column("parent_hash", sa.String(length=66), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "number"),
    )
    op.create_table(
        "booking",
        sa.Column("chain_id", sa.Integer(), nullable=False),
        sa.Column("booking_id", backend.db.types.U256(), nullable=False),
        sa.Column("capacity_id", sa.BigInteger(), nullable=False),
        sa.Column("holder", sa.String(length=42), nullable=False),
        sa.Column("start", sa.BigInteger(), nullable=False),
        sa.Column("hours", sa.Integer(), nullable=False),
        sa.Column("gpus", sa.Integer(), nullable=False),
        sa.Column("close_reason", sa.String(length=24), nullable=False),
        sa.Column("activated_block", sa.BigInteger(), nullable=False),
        sa.Column("closed_block", sa.BigInteger(), nullable=True),
        sa.Column("delivered_hours", sa.BigInteger(), nullable=True),
        sa.Column("failed_hours", sa.BigInteger(), nullable=True),
        sa.Column("paid", backend.db.types.U256(), nullable=True),
        sa.Column("refunded", backend.db.types.U256(), nullable=True),
        sa.Column("slashed", backend.db.types.U256(), nullable=True),
        sa.PrimaryKeyConstraint("chain_id", "booking_id"),
    )
    op.create_index(op.f("ix_booking_capacity_id"), "booking", ["capacity_id"], unique=False)
    op.create_index(op.f("ix_booking_holder"), "booking", ["holder"], unique=False)
    op.create_table(
        "capacity",
        sa.Column("chain_id", sa.Integer(), nullable=False),
        sa.Column("capacity_id", sa.BigInteger(), nullable=False),
        sa.Column("node_id", sa.BigInteger(), nullable=False),
        sa.Column("provider", sa.String(length=42), nullable=False),
        sa.Column("start", sa.BigInteger(), nullable=False),
        sa.Column("end", sa.BigInteger(), nullable=False),
        sa.Column("supply_cap", sa.BigInteger(), nullable=False),
        sa.Column("bond", backend.db.types.U256(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("close_reason", sa.String(length=24), nullable=False),
        sa.Column("minted", sa.BigInteger(), nullable=False),
        sa.Column("burned", sa.BigInteger(), nullable=False),
        sa.Column("supply", sa.BigInteger(), nullable=False),
        sa.Column("activated", sa.BigInteger(), nullable=False),
        sa.Column("redeemed", sa.BigInteger(), nullable=False),
        sa.Column("expired", sa.BigInteger(), nullable=False),
        sa.Column("units_sold_at_cancel", sa.BigInteger(), nullable=True),
        sa.Column("delivered_hours", sa.BigInteger(), nullable=True),
        sa.Column("failed_hours", sa.BigInteger(), nullable=True),
        sa.Column("created_block", sa.BigInteger(), nullable=False),
        sa.Column("created_time", sa.BigInteger(), nullable=True),
        sa.Column("closed_block", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("chain_id", "capacity_id"),
    )
    op.create_index(op.f("ix_capacity_node_id"), "capacity", ["node_id"], unique=False)
    op.create_index(op.f("ix_capacity_provider"), "capacity", ["provider"], unique=False)
    op.create_index("ix_capacity_window", "capacity", ["chain_id", "status", "start", "end"], unique=False)
    op.create_table(
        "checkpoint",
        sa.Column("chain_id", sa.Integer(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("block_hash", sa.String(length=66), nullable=False),
        sa.Column("genesis_hash", sa.String(length=66), nullable=False),
        sa.Column("start_block", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("chain_id"),
    )
    op.create_table(
        "escrow_account",
        sa.Column("chain_id", sa.Integer(), nullable=False),
        sa.Column("account", sa.String(length=42), nullable=False),
        sa.Column("claimable", backend.db.types.U256(), nullable=False),
        sa.Column("credited", backend.db.types.U256(), nullable=False),
        sa.Column("withdrawn", backend.db.types.U256(), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "account"),
    )
    op.create_table(
        "escrow_funds",
        sa.Column("chain_id", sa.Integer(), nullable=False),
        sa.Column("capacity_id", sa.BigInteger(), nullable=False),
        sa.Column("sales", backend.db.types.U256(), nullable=False),
        sa.Column("fees", backend.db.types.U256(), nullable=False),
        sa.Column("bond", backend.db.types.U256(), nullable=False),
        sa.Column("refundable_units", sa.BigInteger(), nullable=False),
        sa.Column("released", backend.db.types.U256(), nullable=False),
        sa.Column("refunded", backend.db.types.U256(), nullable=False),
        sa.Column("slashed", backend.db.types.U256(), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "capacity_id"),
    )
    op.create_table(
        "fill",
        sa.Column("chain_id", sa.Integer(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("block_hash", sa.String(length=66), nullable=False),
        sa.Column("block_time", sa.BigInteger(), nullable=True),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("order_hash", sa.String(length=66), nullable=False),
        sa.Column("maker", sa.String(length=42), nullable=False),
        sa.Column("taker", sa.String(length=42), nullable=False),
        sa.Column("capacity_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("amount", backend.db.types.U256(), nullable=False),
        sa.Column("price", backend.db.types.U256(), nullable=False),
        sa.Column("fee", backend.db.types.U256(), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "block_number", "log_index"),
    )
    op.create_index("ix_fill_capacity_time", "fill", ["chain_id", "capacity_id", "block_time"], unique=False)
    op.create_index(op.f("ix_fill_maker"), "fill", ["maker"], unique=False)
    op.create_index(op.f("ix_fill_order_hash"), "fill", ["order_hash"], unique=False)
    op.create_index(op.f("ix_fill_taker"), "fill", ["taker"], unique=False)
    op.create_table(
        "indexer_lock",
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("owner", sa.String(length=128), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "journal",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("chain_id", sa.Integer(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("table_name", sa.String(length=64), nullable=False),
        sa.Column(
            "pk",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "before",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_journal_block", "journal", ["chain_id", "block_number"], unique=False)
    op.create_table(
        "maker_counter",
        sa.Column("chain_id", sa.Integer(), nullable=False),
        sa.Column("maker", sa.String(length=42), nullable=False),
        sa.Column("counter", backend.db.types.U256(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "maker"),
    )
    op.create_table(
        "mark_price",
        sa.Column("chain_id", sa.Integer(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("block_hash", sa.String(length=66), nullable=False),
        sa.Column("block_time", sa.BigInteger(), nullable=True),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("gpu_class", sa.String(length=64), nullable=False),
        sa.Column("epoch", sa.BigInteger(), nullable=False),
        sa.Column("price", backend.db.types.U256(), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "block_number", "log_index"),
    )
    op.create_index("ix_mark_price_class", "mark_price", ["chain_id", "gpu_class", "epoch"], unique=False)
    op.create_table(
        "node",
        sa.Column("chain_id", sa.Integer(), nullable=False),
        sa.Column("node_id", sa.BigInteger(), nullable=False),
        sa.Column("owner", sa.String(length=42), nullable=False),
        sa.Column("gpu_model", sa.String(), nullable=False),
        sa.Column("gpu_count", sa.Integer(), nullable=False),
        sa.Column("vram_gb", sa.Integer(), nullable=False),
        sa.Column("region", sa.String(), nullable=False),
        sa.Column("interconnect", sa.String(), nullable=False),
        sa.Column("gpu_uuids_hash", sa.String(length=66), nullable=False),
        sa.Column("registered_block", sa.BigInteger(), nullable=False),
        sa.Column("registered_time", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("chain_id", "node_id"),
    )
    op.create_index(op.f("ix_node_owner"), "node", ["owner"], unique=False)
    op.create_table(
        "order_state",
        sa.Column("chain_id", sa.Integer(), nullable=False),
        sa.Column("order_hash", sa.String(length=66), nullable=False),
        sa.Column("maker", sa.String(length=42), nullable=False),
        sa.Column("capacity_id", sa.BigInteger(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=True),
        sa.Column("price", backend.db.types.U256(), nullable=True),
        sa.Column("filled", backend.db.types.U256(), nullable=False),
        sa.Column("fees", backend.db.types.U256(), nullable=False),
        sa.Column("fills", sa.Integer(), nullable=False),
        sa.Column("cancelled", sa.Boolean(), nullable=False),
        sa.Column("cancelled_block", sa.BigInteger(), nullable=True),
        sa.Column("last_fill_block", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("chain_id", "order_hash"),
    )
    op.create_index(op.f("ix_order_state_capacity_id"), "order_state", ["capacity_id"], unique=False)
    op.create_index(op.f("ix_order_state_maker"), "order_state", ["maker"], unique=False)
    op.create_table(
        "parameter",
        sa.Column("chain_id", sa.Integer(), nullable=False),
        sa.Column("contract", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column(
            "value",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "contract", "name"),
    )
    op.create_table(
        "provider",
        sa.Column("chain_id", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=42), nullable=False),
        sa.Column("node_count", sa.Integer(), nullable=False),
        sa.Column(
            "revenue_split",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("chain_id", "address"),
    )
    op.create_table(
        "raw_event",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("chain_id", sa.Integer(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("block_hash", sa.String(length=66), nullable=False),
        sa.Column("block_time", sa.BigInteger(), nullable=True),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("tx_index", sa.Integer(), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=42), nullable=False),
        sa.Column("contract", sa.String(length=64), nullable=False),
        sa.Column("event", sa.String(length=64), nullable=False),
        sa.Column(
            "args",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("chain_id", "block_hash", "log_index", name="uq_raw_event_log"),
    )
    op.create_index(
        "ix_raw_event_block", "raw_event", ["chain_id", "block_number", "log_index"], unique=False
    )
    op.create_index("ix_raw_event_name", "raw_event", ["chain_id", "contract", "event"], unique=False)
    op.create_table(
        "settlement",
        sa.Column("chain_id", sa.Integer(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("block_hash", sa.String(length=66), nullable=False),
        sa.Column("block_time", sa.BigInteger(), nullable=True),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("capacity_id", sa.BigInteger(), nullable=False),
        sa.Column("booking_id", backend.db.types.U256(), nullable=True),
        sa.Column("holder", sa.String(length=42), nullable=True),
        sa.Column("delivered_hours", sa.BigInteger(), nullable=True),
        sa.Column("failed_hours", sa.BigInteger(), nullable=True),
        sa.Column("units", sa.BigInteger(), nullable=True),
        sa.Column("paid", backend.db.types.U256(), nullable=False),
        sa.Column("refunded", backend.db.types.U256(), nullable=False),
        sa.Column("slashed", backend.db.types.U256(), nullable=False),
        sa.Column("bond_returned", backend.db.types.U256(), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "block_number", "log_index"),
    )
    op.create_index("ix_settlement_capacity", "settlement", ["chain_id", "capacity_id"], unique=False)
    op.create_table(
        "slash",
        sa.Column("chain_id", sa.Integer(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("block_hash", sa.String(length=66), nullable=False),
        sa.Column("block_time", sa.BigInteger(), nullable=True),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("capacity_id", sa.BigInteger(), nullable=False),
        sa.Column("to", sa.String(length=42), nullable=False),
        sa.Column("amount", backend.db.types.U256(), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "block_number", "log_index"),
    )
    op.create_index("ix_slash_capacity", "slash", ["chain_id", "capacity_id"], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index("ix_slash_capacity", table_name="slash")
    op.drop_table("slash")
    op.drop_index("ix_settlement_capacity", table_name="settlement")
    op.drop_table("settlement")
    op.drop_index("ix_raw_event_name", table_name="raw_event")
    op.drop_index("ix_raw_event_block", table_name="raw_event")
    op.drop_table("raw_event")
    op.drop_table("provider")
    op.drop_table("parameter")
    op.drop_index(op.f("ix_order_state_maker"), table_name="order_state")
    op.drop_index(op.f("ix_order_state_capacity_id"), table_name="order_state")
    op.drop_table("order_state")
    op.drop_index(op.f("ix_node_owner"), table_name="node")
    op.drop_table("node")
    op.drop_index("ix_mark_price_class", table_name="mark_price")
    op.drop_table("mark_price")
    op.drop_table("maker_counter")
    op.drop_index("ix_journal_block", table_name="journal")
    op.drop_table("journal")
    op.drop_table("indexer_lock")
    op.drop_index(op.f("ix_fill_taker"), table_name="fill")
    op.drop_index(op.f("ix_fill_order_hash"), table_name="fill")
    op.drop_index(op.f("ix_fill_maker"), table_name="fill")
    op.drop_index("ix_fill_capacity_time", table_name="fill")
    op.drop_table("fill")
    op.drop_table("escrow_funds")
    op.drop_table("escrow_account")
    op.drop_table("checkpoint")
    op.drop_index("ix_capacity_window", table_name="capacity")
    op.drop_index(op.f("ix_capacity_provider"), table_name="capacity")
    op.drop_index(op.f("ix_capacity_node_id"), table_name="capacity")
    op.drop_table("capacity")
    op.drop_index(op.f("ix_booking_holder"), table_name="booking")
    op.drop_index(op.f("ix_booking_capacity_id"), table_name="booking")
    op.drop_table("booking")
    op.drop_table("block")
    op.drop_index(op.f("ix_balance_capacity_id"), table_name="balance")
    op.drop_table("balance")
    op.drop_table("attestation")
