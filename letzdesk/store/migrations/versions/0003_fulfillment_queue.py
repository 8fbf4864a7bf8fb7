"""fulfillment queue

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03 18:20:00.680918
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import letzdesk.store.types

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "fulfillment_tasks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("vendor_id", sa.Integer(), nullable=False),
        sa.Column("order_pk", sa.Integer(), nullable=False),
        sa.Column("operation", sa.String(length=20), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("waits", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", letzdesk.store.types.UTCDateTime(length=32), nullable=False),
        sa.Column("verify", sa.Boolean(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("response", sa.JSON(), nullable=True),
        sa.Column("created_at", letzdesk.store.types.UTCDateTime(length=32), nullable=False),
        sa.Column("updated_at", letzdesk.store.types.UTCDateTime(length=32), nullable=False),
        sa.Column("finished_at", letzdesk.store.types.UTCDateTime(length=32), nullable=True),
        sa.ForeignKeyConstraint(["order_pk"], ["orders.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["vendor_id"], ["vendors.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("fulfillment_tasks", schema=None) as batch_op:
        batch_op.create_index("ix_tasks_order", ["order_pk"], unique=False)
        batch_op.create_index("ix_tasks_vendor_status_due", ["vendor_id", "status", "next_attempt_at"], unique=False)

    with op.batch_alter_table("credentials", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dry_run", sa.Boolean(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("max_attempts", sa.Integer(), server_default="3", nullable=False))

    with op.batch_alter_table("inventory_units", schema=None) as batch_op:
        batch_op.add_column(sa.Column("answer", sa.String(length=50), nullable=True))
        batch_op.add_column(sa.Column("answered_at", letzdesk.store.types.UTCDateTime(length=32), nullable=True))
        batch_op.add_column(sa.Column("decline_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("inventory_units", schema=None) as batch_op:
        batch_op.drop_column("decline_reason")
        batch_op.drop_column("answered_at")
        batch_op.drop_column("answer")

    with op.batch_alter_table("credentials", schema=None) as batch_op:
        batch_op.drop_column("max_attempts")
        batch_op.drop_column("dry_run")

    with op.batch_alter_table("fulfillment_tasks", schema=None) as batch_op:
        batch_op.drop_index("ix_tasks_vendor_status_due")
        batch_op.drop_index("ix_tasks_order")

    op.drop_table("fulfillment_tasks")
