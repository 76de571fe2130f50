"""Referrals outlive the person who asked: erased users leave an anonymous status history.

A user who asks for their data to be erased takes their name, phone, place and words with
them, but the referral's statuses stay, unlinked, so the partners' figures stay true.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FK = "fk_referrals_user_id_users"


def upgrade() -> None:
    with op.batch_alter_table("referrals") as batch_op:
        batch_op.drop_constraint(FK, type_="foreignkey")
        batch_op.alter_column("user_id", existing_type=sa.Integer(), nullable=True)
        batch_op.create_foreign_key(FK, "users", ["user_id"], ["id"], ondelete="SET NULL")


def downgrade() -> None:
    # Referrals of erased users have no one to belong to any more: they go.
    op.execute("DELETE FROM referrals WHERE user_id IS NULL")
    with op.batch_alter_table("referrals") as batch_op:
        batch_op.drop_constraint(FK, type_="foreignkey")
        batch_op.alter_column("user_id", existing_type=sa.Integer(), nullable=False)
        batch_op.create_foreign_key(FK, "users", ["user_id"], ["id"], ondelete="CASCADE")
