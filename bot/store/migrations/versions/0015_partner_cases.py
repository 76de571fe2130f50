"""Partners work their cases in the console: who follows a case, and the partner's notes.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FK = "fk_referrals_assigned_to_console_accounts"


def upgrade() -> None:
    with op.batch_alter_table("referrals") as batch_op:
        batch_op.add_column(sa.Column("assigned_to", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            FK, "console_accounts", ["assigned_to"], ["id"], ondelete="SET NULL"
        )
    op.create_table(
        "referral_notes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("referral_id", sa.Integer(), nullable=False),
        sa.Column("author", sa.String(64), nullable=False),
        sa.Column("text", sa.String(2000), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["referral_id"],
            ["referrals.id"],
            name="fk_referral_notes_referral_id_referrals",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_referral_notes"),
    )
    op.create_index("ix_referral_notes_referral_id", "referral_notes", ["referral_id"])


def downgrade() -> None:
    op.drop_index("ix_referral_notes_referral_id", table_name="referral_notes")
    op.drop_table("referral_notes")
    with op.batch_alter_table("referrals") as batch_op:
        batch_op.drop_constraint(FK, type_="foreignkey")
        batch_op.drop_column("assigned_to")
