"""Handovers: when the last message went through, so an idle relay can be closed.

Open handovers start from their opening time.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("handovers") as batch_op:
        batch_op.add_column(sa.Column("last_activity_at", sa.DateTime(timezone=True)))
    op.execute("UPDATE handovers SET last_activity_at = opened_at")


def downgrade() -> None:
    with op.batch_alter_table("handovers") as batch_op:
        batch_op.drop_column("last_activity_at")
