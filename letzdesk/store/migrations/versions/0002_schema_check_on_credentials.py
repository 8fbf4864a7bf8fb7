"""schema check on credentials

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03 16:43:21.534729
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import letzdesk.store.types

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("credentials", schema=None) as batch_op:
        batch_op.add_column(sa.Column("schema_checked_at", letzdesk.store.types.UTCDateTime(length=32), nullable=True))
        batch_op.add_column(sa.Column("schema_drift", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("credentials", schema=None) as batch_op:
        batch_op.drop_column("schema_drift")
        batch_op.drop_column("schema_checked_at")
