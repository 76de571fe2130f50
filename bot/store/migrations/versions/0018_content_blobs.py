"""Binary content published like text: voice notes as drafts and releases.

``content_blobs`` keeps the bytes of a voice note (by sha256) for the draft that
proposes it, the releases that wrote or replaced it (rollback) and the replicas, whose
watchers write it into their own content folder. ``content_files.blob`` names the bytes
of a published binary file.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "content_blobs",
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sha256", name="pk_content_blobs"),
    )
    with op.batch_alter_table("content_files") as batch:
        batch.add_column(sa.Column("blob", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("content_files") as batch:
        batch.drop_column("blob")
    op.drop_table("content_blobs")
