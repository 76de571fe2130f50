"""The consent ledger, and deep-link sources counted without a person.

``consent_events``: every time the data-consent question is asked, answered yes or no, or
the consent withdrawn, with the hash of the exact text shown; it goes with the person.
``acquisition_counts``: how many deep links of each source were opened per day, counted
before anyone consents and linked to nobody.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "consent_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("text_hash", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name="fk_consent_events_user_id_users",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_consent_events"),
    )
    op.create_index("ix_consent_events_user_id_at", "consent_events", ["user_id", "at"])
    op.create_table(
        "acquisition_counts",
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("source", "day", name="pk_acquisition_counts"),
    )
    _count_and_clear_sources()


def _count_and_clear_sources() -> None:
    """Sources already stored become counts (the day the person came); only people who
    consented keep theirs."""
    bind = op.get_bind()
    users = sa.table(
        "users",
        sa.column("acquisition_source", sa.String()),
        sa.column("consent", sa.Boolean()),
        sa.column("created_at", sa.DateTime(timezone=True)),
    )
    counts: dict[tuple[str, object], int] = {}
    rows = bind.execute(
        sa.select(users.c.acquisition_source, users.c.created_at).where(
            users.c.acquisition_source.is_not(None)
        )
    )
    for source, created_at in rows:
        day = created_at.date() if created_at is not None else None
        if day is not None:
            counts[(source, day)] = counts.get((source, day), 0) + 1
    if counts:
        table = sa.table(
            "acquisition_counts",
            sa.column("source", sa.String()),
            sa.column("day", sa.Date()),
            sa.column("count", sa.Integer()),
        )
        op.bulk_insert(table, [{"source": s, "day": d, "count": n} for (s, d), n in counts.items()])
    bind.execute(
        sa.update(users)
        .where(sa.or_(users.c.consent.is_(None), users.c.consent.is_(False)))
        .values(acquisition_source=None)
    )


def downgrade() -> None:
    op.drop_table("acquisition_counts")
    op.drop_index("ix_consent_events_user_id_at", table_name="consent_events")
    op.drop_table("consent_events")
