"""Drafts, releases and published files of content edited in the console.

Only SQL here; what a draft means and how it becomes files is ``bot/content/drafts.py``.
Rows come back as frozen records, never ORM objects.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.errors import KunnafoniError
from bot.store.models import ContentBlob, ContentDraft, ContentFile, ContentRelease, utcnow


class ReleaseTaken(KunnafoniError):
    """Another process recorded this release number first."""


OPEN = "open"
PUBLISHED = "published"
DISCARDED = "discarded"


@dataclass(frozen=True)
class Draft:
    id: int
    kind: str
    language: str
    key: str
    target: str
    state: str
    data: dict[str, Any]
    base: str
    revision: int
    author: str
    created_at: datetime
    updated_at: datetime
    reviewed_by: str | None
    reviewed_at: datetime | None
    release_id: int | None


@dataclass(frozen=True)
class Release:
    id: int
    version: str
    published_by: str
    published_at: datetime
    note: str
    changes: list[dict[str, Any]]
    #: Only filled when asked for (they are large): {path: {"before", "after"}}; a binary
    #: file's value is ``{"blob": sha256, "size": n}`` (see :func:`blob_data`).
    files: dict[str, dict[str, Any]]


@dataclass(frozen=True)
class PublishedFile:
    path: str
    text: str
    #: "" when the release removed the file.
    sha256: str
    release_id: int
    #: The bytes of a binary file (a voice note); None for a text file.
    data: bytes | None = None

    @property
    def removed(self) -> bool:
        return self.sha256 == ""


def _draft(row: ContentDraft) -> Draft:
    return Draft(
        id=row.id,
        kind=row.kind,
        language=row.language,
        key=row.key,
        target=row.target,
        state=row.state,
        data=dict(row.data),
        base=row.base,
        revision=row.revision,
        author=row.author,
        created_at=row.created_at,
        updated_at=row.updated_at,
        reviewed_by=row.reviewed_by,
        reviewed_at=row.reviewed_at,
        release_id=row.release_id,
    )


def _release(row: ContentRelease, *, files: bool) -> Release:
    return Release(
        id=row.id,
        version=row.version,
        published_by=row.published_by,
        published_at=row.published_at,
        note=row.note,
        changes=list(row.changes),
        files=dict(row.files) if files else {},
    )


def sha256_of(text: str | bytes) -> str:
    return hashlib.sha256(text.encode("utf-8") if isinstance(text, str) else text).hexdigest()


# --- binary files (voice notes) ----------------------------------------------------------


def is_blob(value: Any) -> bool:
    """Whether a release's file value names stored bytes (``{"blob": sha256, ...}``)."""
    return isinstance(value, dict) and "blob" in value


async def put_blob(session: AsyncSession, data: bytes) -> str:
    """Keep ``data`` (once per content); return its sha256."""
    digest = sha256_of(data)
    if await session.get(ContentBlob, digest) is None:
        session.add(ContentBlob(sha256=digest, data=data, size=len(data)))
        await session.flush()
    return digest


async def blob_data(session: AsyncSession, digest: str) -> bytes | None:
    row = await session.get(ContentBlob, digest)
    return None if row is None else bytes(row.data)


async def resolve(session: AsyncSession, value: Any) -> str | bytes | None:
    """A release's file value as the file's content (bytes for a binary file)."""
    if is_blob(value):
        return await blob_data(session, str(value["blob"]))
    return None if value is None else str(value)


async def _stored(session: AsyncSession, value: str | bytes | None) -> Any:
    if isinstance(value, bytes):
        return {"blob": await put_blob(session, value), "size": len(value)}
    return value


# --- drafts ------------------------------------------------------------------------------


async def open_draft(session: AsyncSession, target: str) -> Draft | None:
    row = await session.scalar(select(ContentDraft).where(ContentDraft.open_target == target))
    return None if row is None else _draft(row)


async def open_drafts(
    session: AsyncSession, *, language: str | None = None, ids: Sequence[int] | None = None
) -> list[Draft]:
    query = select(ContentDraft).where(ContentDraft.state == OPEN)
    if language is not None:
        query = query.where(ContentDraft.language == language)
    if ids is not None:
        query = query.where(ContentDraft.id.in_(list(ids)))
    rows = await session.scalars(query.order_by(ContentDraft.id))
    return [_draft(row) for row in rows]


async def last_published(session: AsyncSession, target: str) -> Draft | None:
    """The last draft of ``target`` that a release published."""
    row = await session.scalar(
        select(ContentDraft)
        .where(ContentDraft.target == target, ContentDraft.state == PUBLISHED)
        .order_by(ContentDraft.release_id.desc(), ContentDraft.id.desc())
        .limit(1)
    )
    return None if row is None else _draft(row)


async def published_history(session: AsyncSession, target: str, *, limit: int = 50) -> list[Draft]:
    rows = await session.scalars(
        select(ContentDraft)
        .where(ContentDraft.target == target, ContentDraft.state == PUBLISHED)
        .order_by(ContentDraft.id.desc())
        .limit(limit)
    )
    return [_draft(row) for row in rows]


async def create_draft(
    session: AsyncSession,
    *,
    kind: str,
    language: str,
    key: str,
    target: str,
    data: dict[str, Any],
    base: str,
    author: str,
    reviewed_by: str | None = None,
) -> Draft:
    now = utcnow()
    row = ContentDraft(
        kind=kind,
        language=language,
        key=key,
        target=target,
        open_target=target,
        state=OPEN,
        data=data,
        base=base,
        revision=1,
        author=author,
        created_at=now,
        updated_at=now,
        reviewed_by=reviewed_by,
        reviewed_at=now if reviewed_by else None,
    )
    session.add(row)
    await session.flush()
    return _draft(row)


async def update_draft(
    session: AsyncSession,
    draft_id: int,
    *,
    revision: int,
    data: dict[str, Any],
    base: str,
    author: str | None,
    reviewed_by: str | None,
) -> bool:
    """Replace an open draft's data, only if it is still at ``revision`` (False if not)."""
    now = utcnow()
    values: dict[str, Any] = {
        "data": data,
        "base": base,
        "revision": ContentDraft.revision + 1,
        "updated_at": now,
        "reviewed_by": reviewed_by,
        "reviewed_at": now if reviewed_by else None,
    }
    if author is not None:
        values["author"] = author
    result = await session.execute(
        update(ContentDraft)
        .where(
            ContentDraft.id == draft_id,
            ContentDraft.state == OPEN,
            ContentDraft.revision == revision,
        )
        .values(**values)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def keep_draft(
    session: AsyncSession,
    current: Draft | None,
    *,
    kind: str,
    language: str,
    key: str,
    target: str,
    data: dict[str, Any],
    base: str,
    author: str,
) -> None:
    """``data`` as ``target``'s open draft by ``author``: a new draft, or ``current`` (the
    open one, checked for a conflicting save by the caller) replaced, its review dropped."""
    if current is None:
        await create_draft(
            session,
            kind=kind,
            language=language,
            key=key,
            target=target,
            data=data,
            base=base,
            author=author,
        )
    else:
        await update_draft(
            session,
            current.id,
            revision=current.revision,
            data=data,
            base=base,
            author=author,
            reviewed_by=None,
        )


async def close_drafts(
    session: AsyncSession, ids: Sequence[int], *, state: str, release_id: int | None = None
) -> None:
    await session.execute(
        update(ContentDraft)
        .where(ContentDraft.id.in_(list(ids)), ContentDraft.state == OPEN)
        .values(state=state, open_target=None, release_id=release_id, updated_at=utcnow())
    )


# --- releases and published files --------------------------------------------------------


async def latest_release_id(session: AsyncSession) -> int:
    """The id of the latest release, 0 when there is none."""
    return int(await session.scalar(select(func.max(ContentRelease.id))) or 0)


async def add_release(
    session: AsyncSession,
    *,
    release_id: int,
    version: str,
    published_by: str,
    note: str,
    changes: list[dict[str, Any]],
    files: dict[str, dict[str, str | bytes | None]],
) -> None:
    """Record release ``release_id`` and the published content of the files it wrote
    (text, or bytes kept in ``content_blobs`` for a binary file).

    Raises :class:`ReleaseTaken` if another process recorded that id first."""
    stored = {
        path: {
            "before": await _stored(session, texts["before"]),
            "after": await _stored(session, texts["after"]),
        }
        for path, texts in files.items()
    }
    session.add(
        ContentRelease(
            id=release_id,
            version=version,
            published_by=published_by[:64],
            note=note[:255],
            changes=changes,
            files=stored,
        )
    )
    try:
        await session.flush()
    except IntegrityError as exc:
        raise ReleaseTaken(f"release {release_id} exists") from exc
    for path, texts in files.items():
        after = texts["after"]
        row = await session.get(ContentFile, path)
        if row is None:
            row = ContentFile(path=path, text="", sha256="", release_id=release_id)
            session.add(row)
        row.release_id = release_id
        if after is None:
            # Kept, empty: every replica removes the file too.
            row.text, row.sha256, row.blob = "", "", None
        elif isinstance(after, bytes):
            row.text, row.sha256 = "", sha256_of(after)
            row.blob = row.sha256
        else:
            row.text, row.sha256, row.blob = after, sha256_of(after), None
    await session.flush()


async def releases(session: AsyncSession, *, limit: int = 50) -> list[Release]:
    rows = await session.scalars(
        select(ContentRelease).order_by(ContentRelease.id.desc()).limit(limit)
    )
    return [_release(row, files=False) for row in rows]


async def release(session: AsyncSession, release_id: int) -> Release | None:
    row = await session.get(ContentRelease, release_id)
    return None if row is None else _release(row, files=True)


async def releases_after(session: AsyncSession, release_id: int) -> list[Release]:
    rows = await session.scalars(
        select(ContentRelease).where(ContentRelease.id > release_id).order_by(ContentRelease.id)
    )
    return [_release(row, files=True) for row in rows]


async def published_files(session: AsyncSession, *, since: int = 0) -> list[PublishedFile]:
    """Published files written by a release after ``since`` (every one for 0), removed
    ones included (``removed``)."""
    rows = await session.scalars(
        select(ContentFile).where(ContentFile.release_id > since).order_by(ContentFile.path)
    )
    out = []
    for r in list(rows):
        data = await blob_data(session, r.blob) if r.blob else None
        out.append(PublishedFile(r.path, r.text, r.sha256, r.release_id, data))
    return out
