"""Fixed backing per unit: each capacity's recorded terms; escrow funds as backing held, not pooled sales;
bookings ended early and each node's count of them.

Rows written before this revision come from contracts with pooled sales; a deployment of the new
contracts starts a new index, so the new columns default to 0 for the old rows.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03 13:48:03.296342

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import backend.db.types

# revision identifiers, used by Alembic.
revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ZERO = sa.text("0")


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("capacity", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("unit_backing", backend.db.types.U256(), nullable=False, server_default=ZERO)
        )
        batch_op.add_column(
            sa.Column("slash_per_gpu_hour", backend.db.types.U256(), nullable=False, server_default=ZERO)
        )
        batch_op.add_column(sa.Column("max_delay", sa.BigInteger(), nullable=False, server_default=ZERO))
        batch_op.add_column(sa.Column("min_uptime_bps", sa.BigInteger(), nullable=False, server_default=ZERO))
        batch_op.add_column(
            sa.Column("min_gflops_per_joule", sa.BigInteger(), nullable=False, server_default=ZERO)
        )
        batch_op.add_column(sa.Column("grace_hours", sa.BigInteger(), nullable=False, server_default=ZERO))

    with op.batch_alter_table("node", schema=None) as batch_op:
        batch_op.add_column(sa.Column("early_ends", sa.BigInteger(), nullable=False, server_default=ZERO))
    with op.batch_alter_table("booking", schema=None) as batch_op:
        batch_op.add_column(sa.Column("hours_returned", sa.BigInteger(), nullable=False, server_default=ZERO))

    with op.batch_alter_table("escrow_funds", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("backing", backend.db.types.U256(), nullable=False, server_default=ZERO)
        )
        batch_op.add_column(
            sa.Column("penalty_per_unit", backend.db.types.U256(), nullable=False, server_default=ZERO)
        )
        batch_op.add_column(
            sa.Column("premium", backend.db.types.U256(), nullable=False, server_default=ZERO)
        )
        batch_op.drop_column("sales")
        batch_op.drop_column("fees")


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("escrow_funds", schema=None) as batch_op:
        batch_op.add_column(sa.Column("fees", backend.db.types.U256(), nullable=False, server_default=ZERO))
        batch_op.add_column(sa.Column("sales", backend.db.types.U256(), nullable=False, server_default=ZERO))
        batch_op.drop_column("premium")
        batch_op.drop_column("penalty_per_unit")
        batch_op.drop_column("backing")

    with op.batch_alter_table("booking", schema=None) as batch_op:
        batch_op.drop_column("hours_returned")
    with op.batch_alter_table("node", schema=None) as batch_op:
        batch_op.drop_column("early_ends")
    with op.batch_alter_table("capacity", schema=None) as batch_op:
        for column in (
            "grace_hours",
            "min_gflops_per_joule",
            "min_uptime_bps",
            "max_delay",
            "slash_per_gpu_hour",
            "unit_backing",
        ):
            batch_op.drop_column(column)
