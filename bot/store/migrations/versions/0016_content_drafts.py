"""Content edited in the console: drafts, published releases, and the published files.

A draft is a proposed change (a message's text in one language, and later other kinds)
that users never see until it is published. A release is one publication: who, when,
the files it wrote (before and after, for the diff and the rollback). ``content_files``
holds the published text of every file a release wrote, so that each replica brings its
own content folder to the latest release.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "content_releases",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("version", sa.String(16), nullable=False),
        sa.Column("published_by", sa.String(64), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.String(255), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("files", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_content_releases"),
    )
    op.create_table(
        "content_drafts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("key", sa.String(120), nullable=False),
        sa.Column("target", sa.String(160), nullable=False),
        sa.Column("open_target", sa.String(160), nullable=True),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("base", sa.String(16), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("author", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reviewed_by", sa.String(64), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("release_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_content_drafts"),
        sa.UniqueConstraint("open_target", name="uq_content_drafts_open_target"),
    )
    op.create_index("ix_content_drafts_target", "content_drafts", ["target"])
    op.create_index("ix_content_drafts_state", "content_drafts", ["state"])
    op.create_table(
        "content_files",
        sa.Column("path", sa.String(255), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("release_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("path", name="pk_content_files"),
    )


def downgrade() -> None:
    op.drop_table("content_files")
    op.drop_index("ix_content_drafts_state", table_name="content_drafts")
    op.drop_index("ix_content_drafts_target", table_name="content_drafts")
    op.drop_table("content_drafts")
    op.drop_table("content_releases")
