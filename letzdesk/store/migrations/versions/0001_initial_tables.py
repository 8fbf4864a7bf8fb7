"""initial tables

Revision ID: 0001
Revises:
Create Date: 2026-12-03 15:59:47.942621
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import letzdesk.store.types

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "vendors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("created_at", letzdesk.store.types.UTCDateTime(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "credentials",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("vendor_id", sa.Integer(), nullable=False),
        sa.Column("api_key_encrypted", sa.LargeBinary(), nullable=False),
        sa.Column("endpoint", sa.String(length=500), nullable=False),
        sa.Column("auto_sync", sa.Boolean(), nullable=False),
        sa.Column("interval_minutes", sa.Integer(), nullable=False),
        sa.Column("default_carrier", sa.String(length=50), nullable=True),
        sa.Column("last_sync_at", letzdesk.store.types.UTCDateTime(length=32), nullable=True),
        sa.Column("last_sync_status", sa.String(length=20), nullable=True),
        sa.Column("last_sync_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["vendor_id"], ["vendors.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("vendor_id"),
    )
    op.create_table(
        "orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("vendor_id", sa.Integer(), nullable=False),
        sa.Column("shipment_id", sa.String(length=200), nullable=False),
        sa.Column("shipment_number", sa.String(length=100), nullable=True),
        sa.Column("order_id", sa.String(length=200), nullable=True),
        sa.Column("order_number", sa.String(length=100), nullable=True),
        sa.Column("letzshop_state", sa.String(length=50), nullable=True),
        sa.Column("status", sa.String(length=30), nullable=False),
        sa.Column("customer_name", sa.String(length=300), nullable=True),
        sa.Column("customer_email", sa.String(length=300), nullable=True),
        sa.Column("total_cents", sa.Integer(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("locale", sa.String(length=10), nullable=True),
        sa.Column("completed_at", letzdesk.store.types.UTCDateTime(length=32), nullable=True),
        sa.Column("ship_address", sa.JSON(), nullable=True),
        sa.Column("bill_address", sa.JSON(), nullable=True),
        sa.Column("tracking_number", sa.String(length=100), nullable=True),
        sa.Column("tracking_carrier", sa.String(length=100), nullable=True),
        sa.Column("remote_tracking_number", sa.String(length=100), nullable=True),
        sa.Column("remote_tracking_carrier", sa.String(length=100), nullable=True),
        sa.Column("raw_json", sa.Text(), nullable=False),
        sa.Column("raw_hash", sa.String(length=64), nullable=False),
        sa.Column("imported_at", letzdesk.store.types.UTCDateTime(length=32), nullable=False),
        sa.Column("updated_at", letzdesk.store.types.UTCDateTime(length=32), nullable=False),
        sa.ForeignKeyConstraint(["vendor_id"], ["vendors.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("vendor_id", "shipment_id", name="uq_orders_vendor_shipment"),
    )
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.create_index("ix_orders_completed_at", ["completed_at"], unique=False)
        batch_op.create_index("ix_orders_vendor_status", ["vendor_id", "status"], unique=False)

    op.create_table(
        "sync_logs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("vendor_id", sa.Integer(), nullable=True),
        sa.Column("vendor_name", sa.String(length=100), nullable=False),
        sa.Column("operation", sa.String(length=50), nullable=False),
        sa.Column("direction", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("processed", sa.Integer(), nullable=False),
        sa.Column("succeeded", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("imported", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("unchanged", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=True),
        sa.Column("started_at", letzdesk.store.types.UTCDateTime(length=32), nullable=False),
        sa.Column("finished_at", letzdesk.store.types.UTCDateTime(length=32), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.Column("trigger", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(["vendor_id"], ["vendors.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("sync_logs", schema=None) as batch_op:
        batch_op.create_index("ix_sync_logs_vendor_started", ["vendor_id", "started_at"], unique=False)

    op.create_table(
        "inventory_units",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_pk", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.String(length=200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=50), nullable=True),
        sa.Column("variant_id", sa.String(length=200), nullable=True),
        sa.Column("sku", sa.String(length=200), nullable=True),
        sa.Column("mpn", sa.String(length=200), nullable=True),
        sa.Column("gtin", sa.String(length=50), nullable=True),
        sa.Column("gtin_kind", sa.String(length=20), nullable=True),
        sa.Column("name", sa.String(length=500), nullable=True),
        sa.Column("names", sa.JSON(), nullable=True),
        sa.Column("brand", sa.String(length=200), nullable=True),
        sa.Column("price_cents", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["order_pk"], ["orders.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("order_pk", "unit_id", name="uq_units_order_unit"),
    )
    with op.batch_alter_table("inventory_units", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_inventory_units_order_pk"), ["order_pk"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("inventory_units", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inventory_units_order_pk"))

    op.drop_table("inventory_units")
    with op.batch_alter_table("sync_logs", schema=None) as batch_op:
        batch_op.drop_index("ix_sync_logs_vendor_started")

    op.drop_table("sync_logs")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index("ix_orders_vendor_status")
        batch_op.drop_index("ix_orders_completed_at")

    op.drop_table("orders")
    op.drop_table("credentials")
    op.drop_table("vendors")
