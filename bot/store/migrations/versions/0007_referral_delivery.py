"""Referrals: delivery attempts and the next one, so a referral is never silently lost.

A referral is now ``pending`` until its partner chat accepted the message. Failed
deliveries are counted and retried at ``next_attempt_at`` (with backoff), so referrals that
keep failing no longer hold the others back; after the last attempt the referral is
``undeliverable`` and the admins re-route it. Referrals stored as ``sent`` but never
delivered (no partner message) become ``pending``: they were not sent.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("referrals") as batch_op:
        batch_op.add_column(
            sa.Column("delivery_attempts", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("next_attempt_at", sa.DateTime(timezone=True)))
        batch_op.create_index("ix_referrals_status_next_attempt_at", ["status", "next_attempt_at"])
    op.execute(
        "UPDATE referrals SET status = 'pending' "
        "WHERE status = 'sent' AND partner_message_id IS NULL"
    )


def downgrade() -> None:
    op.execute("UPDATE referrals SET status = 'sent' WHERE status IN ('pending', 'undeliverable')")
    with op.batch_alter_table("referrals") as batch_op:
        batch_op.drop_index("ix_referrals_status_next_attempt_at")
        batch_op.drop_column("next_attempt_at")
        batch_op.drop_column("delivery_attempts")
