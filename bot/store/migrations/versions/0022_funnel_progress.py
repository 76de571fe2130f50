"""Users: how far each person went in the awareness funnel, as flags kept with consent.

``progress`` holds one bit per step the dashboard's funnel counts from the person's
events: 1 opened a module (a module's first card served), 2 finished a module (the end of
a module served), 4 asked for help (shown a service card). The engine sets a bit the
first time, only for a person whose events are linked to them (consent); they are
cleared with the rest of what consent keeps. The funnel then reads its cohort from the
people's index alone, instead of a pass over the cohort's events (400-500 ms over 90
days of a national campaign on SQLite). Backfilled here from the events linked to
people, so the counts are the ones those events gave.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PROFILE = [
    "created_at",
    "language",
    "region",
    "country",
    "age_bracket",
    "situation",
    "acquisition_source",
    "consent",
]

#: Each bit, and the linked events that set it (plain SQL: SQLite and PostgreSQL).
BACKFILL = (
    (1, "kind = 'served' AND name LIKE 'topic.%.card1'"),
    (2, "kind = 'served' AND name = 'topic.end'"),
    (4, "kind = 'service'"),
)


def upgrade() -> None:
    with op.batch_alter_table("users") as batch_op:
        batch_op.add_column(
            sa.Column("progress", sa.SmallInteger(), nullable=False, server_default="0")
        )
    for bit, events in BACKFILL:
        op.execute(
            f"UPDATE users SET progress = progress | {bit} WHERE id IN"
            f" (SELECT user_id FROM events WHERE {events} AND user_id IS NOT NULL)"
        )
    op.drop_index("ix_users_created_profile", table_name="users")
    op.create_index("ix_users_created_profile", "users", [*PROFILE, "progress"])


def downgrade() -> None:
    op.drop_index("ix_users_created_profile", table_name="users")
    op.create_index("ix_users_created_profile", "users", PROFILE)
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("progress")
