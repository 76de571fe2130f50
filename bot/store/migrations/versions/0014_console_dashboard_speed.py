"""Console: one-time passwords to be changed at first sign-in; the dashboard's indexes
and its count of events per day (``event_days``, filled by the dashboard for the days that
are over: see bot/store/dashboard.py).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


#: The filters' attributes, in the order the dashboard groups them.
PROFILE = ("language", "region", "country", "age_bracket", "situation", "acquisition_source")


def upgrade() -> None:
    with op.batch_alter_table("console_accounts") as batch_op:
        batch_op.add_column(
            sa.Column(
                "must_change_password",
                sa.Boolean(),
                nullable=False,
                server_default=sa.false(),
            )
        )
    op.create_index("ix_users_created_at", "users", ["created_at"])
    op.create_index("ix_users_subscribed_at", "users", ["subscribed_at"])
    op.create_index("ix_users_unsubscribed_at", "users", ["unsubscribed_at"])
    op.create_index("ix_users_blocked_at", "users", ["blocked_at"])
    op.create_index("ix_users_profile", "users", list(PROFILE))
    # (kind, created_at) grows into an index the dashboard's counts are read from alone.
    op.create_index(
        "ix_events_kind_created_at_user",
        "events",
        ["kind", "created_at", "user_id", "name", "language"],
    )
    op.drop_index("ix_events_kind_created_at", table_name="events")
    op.create_index("ix_events_created_at_user_id", "events", ["created_at", "user_id"])
    op.create_index("ix_quiz_answers_answered_at", "quiz_answers", ["answered_at"])
    op.create_table(
        "event_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("understood", sa.Boolean(), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "day", "kind", "name", "language", "understood", name="pk_event_days"
        ),
    )
    op.create_table(
        "event_days_rolled",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("rolled_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("day", name="pk_event_days_rolled"),
    )


def downgrade() -> None:
    op.drop_table("event_days_rolled")
    op.drop_table("event_days")
    op.drop_index("ix_quiz_answers_answered_at", table_name="quiz_answers")
    op.drop_index("ix_events_created_at_user_id", table_name="events")
    op.create_index("ix_events_kind_created_at", "events", ["kind", "created_at"])
    op.drop_index("ix_events_kind_created_at_user", table_name="events")
    for name in ("profile", "blocked_at", "unsubscribed_at", "subscribed_at", "created_at"):
        op.drop_index(f"ix_users_{name}", table_name="users")
    with op.batch_alter_table("console_accounts") as batch_op:
        batch_op.drop_column("must_change_password")
