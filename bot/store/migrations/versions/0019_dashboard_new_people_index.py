"""Dashboard: the people who started in a period read from one index with their filters'
attributes and consent (reach's new people and breakdowns, the funnel's cohort), instead
of the ``created_at`` index and a lookup of each row.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = [
    "created_at",
    "language",
    "region",
    "country",
    "age_bracket",
    "situation",
    "acquisition_source",
    "consent",
]


def upgrade() -> None:
    op.create_index("ix_users_created_profile", "users", COLUMNS)
    # Its first column: the old index is a prefix of the new one.
    op.drop_index("ix_users_created_at", table_name="users")


def downgrade() -> None:
    op.create_index("ix_users_created_at", "users", ["created_at"])
    op.drop_index("ix_users_created_profile", table_name="users")
