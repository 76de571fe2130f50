"""Received updates: webhook deliveries recorded before processing, answered once.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "received_updates",
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("update_id", sa.BigInteger(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("channel", "update_id", name="pk_received_updates"),
    )
    op.create_index("ix_received_updates_received_at", "received_updates", ["received_at"])


def downgrade() -> None:
    op.drop_index("ix_received_updates_received_at", table_name="received_updates")
    op.drop_table("received_updates")
