"""The NLU review queue: messages the bot did not understand, masked and linked to nobody.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "nlu_review_items",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("person_key", sa.String(32), nullable=False),
        sa.Column("text", sa.String(500), nullable=False),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("intent", sa.String(64), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("entities", sa.JSON(), nullable=False),
        sa.Column("language", sa.String(8), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_nlu_review_items"),
    )
    op.create_index("ix_nlu_review_items_person_key", "nlu_review_items", ["person_key"])
    op.create_index("ix_nlu_review_items_created_at", "nlu_review_items", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_nlu_review_items_created_at", table_name="nlu_review_items")
    op.drop_index("ix_nlu_review_items_person_key", table_name="nlu_review_items")
    op.drop_table("nlu_review_items")
