"""Received updates keep their chat and body until handled: one chat's updates, whichever
replica took them, are handled in update id order by the replica holding the chat's turn.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("received_updates") as batch:
        batch.add_column(sa.Column("chat_id", sa.BigInteger(), nullable=True))
        # The update as Telegram sent it (JSON), personal data: emptied once handled.
        batch.add_column(sa.Column("body", sa.Text(), nullable=True))
        batch.add_column(sa.Column("handled_at", sa.DateTime(timezone=True), nullable=True))
    # Rows from before were handled the moment they were taken (or never will be now).
    op.execute("UPDATE received_updates SET handled_at = received_at")
    # A chat's updates not yet handled, in id order: what a drain reads.
    op.create_index(
        "ix_received_updates_chat", "received_updates", ["channel", "chat_id", "update_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_received_updates_chat", table_name="received_updates")
    with op.batch_alter_table("received_updates") as batch:
        batch.drop_column("handled_at")
        batch.drop_column("body")
        batch.drop_column("chat_id")
