"""The console's content desk: save and review drafts, publish them, roll back.

Every change goes through here, whatever page it comes from:

- **save** a draft (one open draft per target): the save names the revision it was made
  on and the published value it started from; if someone saved since, or the published
  value changed, it is refused and the other change is returned to be shown. Nothing
  is silently overwritten.
- **review**: a second person (never the author of the text) marks a translation
  reviewed; the name and time are kept with the draft.
- **publish** a set of drafts: written into the files with the round-trip editor,
  validated as a whole by the loader of ``kunnafoni content check`` before anything is
  written, recorded as a release (who, when, each file before and after), then loaded
  by the publisher like any change of the folder.
- **roll back** to a release: the files it left, published as a new release.

The folder is written while holding the publisher's lock, so the watcher neither loads
half-written files nor takes the credit. Each step writes one line of the audit log.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.content.catalog import Catalog, text_hash
from bot.content.checks import is_ogg_opus
from bot.content.drafts import (
    CAMPAIGN,
    KINDS,
    MESSAGE,
    VOICE,
    Issue,
    base_of,
    check_overlay,
    check_text,
    is_voice_file,
    message_changes,
    problems_by_target,
    target_of,
    voice_change,
    write_drafts,
)
from bot.content.editing import write_atomic, write_atomic_bytes
from bot.content.models import ReviewStatus
from bot.content.publish import ContentPublisher
from bot.content.recording import ogg_opus_seconds
from bot.content.workflow import ImportPlan
from bot.store import accounts as account_store
from bot.store import drafts as draft_store
from bot.store.db import Database
from bot.store.drafts import Draft

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Conflict:
    """Someone else's change, made since the page was loaded."""

    who: str
    at: datetime | None
    text: str | None
    #: ``draft``: another open draft; ``published``: the published text changed.
    where: str


@dataclass
class Outcome:
    """What a save, review or discard did."""

    ok: bool
    draft: Draft | None = None
    conflict: Conflict | None = None
    issues: list[Issue] = field(default_factory=list)
    #: Problems the loader found, for this text and for the rest of the tree.
    problems: list[str] = field(default_factory=list)


@dataclass
class Published:
    """What a publication or a rollback did."""

    ok: bool
    release_id: int | None = None
    changes: list[dict[str, Any]] = field(default_factory=list)
    #: draft target -> the loader's reasons (shown on the draft's field).
    problems: dict[str, list[str]] = field(default_factory=dict)
    general: list[str] = field(default_factory=list)
    #: Drafts whose published value changed since they were started.
    conflicts: list[Draft] = field(default_factory=list)
    #: Another replica published at the same moment: nothing was written, try again.
    raced: bool = False


class ContentDesk:
    def __init__(self, database: Database, publisher: ContentPublisher) -> None:
        self.database = database
        self.publisher = publisher

    @property
    def directory(self) -> Path:
        return self.publisher.store.directory

    def catalog(self) -> Catalog:
        return self.publisher.store.current()

    # --- drafts ------------------------------------------------------------------------

    async def save(
        self,
        *,
        actor: str,
        language: str,
        key: str,
        text: str,
        revision: int,
        base: str,
    ) -> Outcome:
        """Save ``text`` as the draft of ``key`` in ``language`` (see the module's doc)."""
        catalog = self.catalog()
        text = text.replace("\r\n", "\n").strip()
        issues = [i for i in check_text(catalog, language, key, text) if i.level == "error"]
        if issues:
            return Outcome(False, issues=issues)
        target = target_of(MESSAGE, language, key)
        published = KINDS[MESSAGE].published(catalog, language, key)
        data: dict[str, Any] = {"text": text}
        if language != catalog.default_language:
            data["status"] = ReviewStatus.DRAFT.value
            data["source_hash"] = text_hash(catalog.messages[catalog.default_language][key].text)
        # The whole tree with this text, checked by the loader before anything is kept.
        probe = _Probe(MESSAGE, language, key, target, data)
        files = write_drafts(self.directory, catalog, [probe])
        checked = await asyncio.to_thread(check_overlay, self.directory, files)
        if checked.problems:
            mine, general = problems_by_target(checked.problems, files, [probe])
            return Outcome(False, problems=[*mine.get(target, []), *general])
        async with self.database.transaction() as session:
            current = await draft_store.open_draft(session, target)
            conflict = await self._conflict(session, current, target, revision, base, published)
            if conflict is not None:
                return Outcome(False, draft=current, conflict=conflict)
            draft: Draft | None
            if current is None and text == published and language == catalog.default_language:
                return Outcome(True)
            await draft_store.keep_draft(
                session,
                current,
                kind=MESSAGE,
                language=language,
                key=key,
                target=target,
                data=data,
                base=base_of(published),
                author=actor,
            )
            draft = await draft_store.open_draft(session, target)
            await account_store.audit(
                session, actor=actor, action="content.draft", detail=f"{language} {key}"
            )
        return Outcome(True, draft=draft)

    async def _conflict(
        self,
        session: Any,
        current: Draft | None,
        target: str,
        revision: int,
        base: str,
        published: str | None,
    ) -> Conflict | None:
        if current is not None:
            if current.revision != revision:
                return Conflict(
                    current.author, current.updated_at, current.data.get("text"), "draft"
                )
            return None
        if revision != 0 or base != base_of(published):
            last = await draft_store.last_published(session, target)
            return Conflict(
                last.author if last else "",
                last.updated_at if last else None,
                published,
                "published",
            )
        return None

    async def review(
        self,
        *,
        actor: str,
        language: str,
        key: str,
        revision: int,
        base: str,
        text: str | None = None,
    ) -> Outcome:
        """Mark the translation reviewed, by someone other than its author. ``text``, when
        given, is what the reviewer's page shows: an unsaved change is refused."""
        catalog = self.catalog()
        if language == catalog.default_language:
            return Outcome(False, issues=[Issue("review.source")])
        target = target_of(MESSAGE, language, key)
        published = KINDS[MESSAGE].published(catalog, language, key)
        source_hash = text_hash(catalog.messages[catalog.default_language][key].text)
        async with self.database.transaction() as session:
            current = await draft_store.open_draft(session, target)
            conflict = await self._conflict(session, current, target, revision, base, published)
            if conflict is not None:
                return Outcome(False, draft=current, conflict=conflict)
            shown = current.data.get("text") if current is not None else published
            if (
                text is not None
                and shown is not None
                and text.replace("\r\n", "\n").strip() != shown
            ):
                return Outcome(False, draft=current, issues=[Issue("review.unsaved")])
            if current is not None:
                if current.author == actor:
                    return Outcome(False, draft=current, issues=[Issue("review.own")])
                data = {**current.data, "status": "reviewed", "source_hash": source_hash}
                await draft_store.update_draft(
                    session,
                    current.id,
                    revision=current.revision,
                    data=data,
                    base=current.base,
                    author=None,
                    reviewed_by=actor,
                )
            else:
                if published is None:
                    return Outcome(False, issues=[Issue("review.nothing")])
                last = await draft_store.last_published(session, target)
                author = last.author if last else ""
                if author == actor:
                    return Outcome(False, issues=[Issue("review.own")])
                await draft_store.create_draft(
                    session,
                    kind=MESSAGE,
                    language=language,
                    key=key,
                    target=target,
                    data={"text": published, "status": "reviewed", "source_hash": source_hash},
                    base=base_of(published),
                    author=author,
                    reviewed_by=actor,
                )
            draft = await draft_store.open_draft(session, target)
            await account_store.audit(
                session, actor=actor, action="content.review", detail=f"{language} {key}"
            )
        return Outcome(True, draft=draft)

    async def discard(
        self, *, actor: str, language: str, key: str, revision: int, kind: str = MESSAGE
    ) -> Outcome:
        target = target_of(kind, language, key)
        async with self.database.transaction() as session:
            current = await draft_store.open_draft(session, target)
            if current is None:
                return Outcome(True)
            if current.revision != revision:
                return Outcome(
                    False,
                    draft=current,
                    conflict=Conflict(
                        current.author, current.updated_at, current.data.get("text"), "draft"
                    ),
                )
            await draft_store.close_drafts(session, [current.id], state=draft_store.DISCARDED)
            action = "voice.discard" if kind == VOICE else "content.discard"
            await account_store.audit(
                session, actor=actor, action=action, detail=f"{language} {key}"
            )
        return Outcome(True)

    async def import_plan(self, *, actor: str, plan: ImportPlan) -> int:
        """Turn the changes of a spreadsheet import into drafts (one per key), as the
        ``content import`` command would write them; return how many."""
        catalog = self.catalog()
        file_status = catalog.statuses.get(plan.language, ReviewStatus.DRAFT).value
        async with self.database.transaction() as session:
            for change in plan.changes:
                target = target_of(MESSAGE, plan.language, change.key)
                entry = catalog.messages.get(plan.language, {}).get(change.key)
                text = change.new_text if change.new_text is not None else change.old_text
                assert text is not None
                data = {
                    "text": text,
                    "status": change.new_status or change.old_status or file_status,
                    "source_hash": change.source_hash
                    or (entry.source_hash if entry is not None else None),
                }
                published = KINDS[MESSAGE].published(catalog, plan.language, change.key)
                current = await draft_store.open_draft(session, target)
                await draft_store.keep_draft(
                    session,
                    current,
                    kind=MESSAGE,
                    language=plan.language,
                    key=change.key,
                    target=target,
                    data=data,
                    base=base_of(published),
                    author=actor,
                )
            await account_store.audit(
                session,
                actor=actor,
                action="content.import",
                detail=f"{plan.language} {plan.path.name}: {len(plan.changes)} change(s)",
            )
        return len(plan.changes)

    # --- publishing ----------------------------------------------------------------------

    async def publish(self, *, actor: str, ids: Sequence[int] | None = None) -> Published:
        """Publish the open drafts (``ids``, or every one) as one release."""
        async with self.publisher.editing(f"console {actor}"):
            await self._bring_up_to_date()
            async with self.database.reading() as session:
                drafts = await draft_store.open_drafts(session, ids=ids)
            if not drafts:
                return Published(False)
            catalog = self.catalog()
            stale = [
                d
                for d in drafts
                if d.base != base_of(KINDS[d.kind].published(catalog, d.language, d.key))
            ]
            if stale:
                return Published(False, conflicts=stale)
            async with self.database.reading() as session:
                blobs = await _blobs_of(session, drafts)
            files: dict[str, str | bytes | None] = dict(
                write_drafts(self.directory, catalog, drafts, blobs)
            )
            result = await self._release(
                actor=actor,
                files=files,
                note="",
                drafts=drafts,
                action="content.publish",
            )
        return result

    async def rollback(self, *, actor: str, release_id: int) -> Published:
        """Bring the files back to what release ``release_id`` left, as a new release."""
        async with self.publisher.editing(f"console {actor}"):
            await self._bring_up_to_date()
            async with self.database.reading() as session:
                target = await draft_store.release(session, release_id)
                later = await draft_store.releases_after(session, release_id)
            if target is None or not later:
                return Published(False)
            files: dict[str, str | bytes | None] = {}
            async with self.database.reading() as session:
                for release in later:
                    for path, texts in release.files.items():
                        if path not in files:
                            files[path] = await draft_store.resolve(session, texts["before"])
            return await self._release(
                actor=actor,
                files=files,
                note=f"rollback {release_id}",
                drafts=[],
                action="content.rollback",
            )

    async def _bring_up_to_date(self) -> None:
        """Another replica's release first: drafts apply to the latest published files."""
        if await self.publisher.sync_files() is not None:
            await asyncio.to_thread(self.publisher.store.reload)

    async def _release(
        self,
        *,
        actor: str,
        files: dict[str, str | bytes | None],
        note: str,
        drafts: Sequence[Draft],
        action: str,
    ) -> Published:
        root = self.directory
        checked = await asyncio.to_thread(check_overlay, root, files)
        if checked.problems or checked.catalog is None:
            mine, general = problems_by_target(checked.problems, files, drafts)
            return Published(False, problems=mine, general=general)
        before = {path: _read(root, path) for path in files}
        changed = {p: t for p, t in files.items() if t != before[p]}
        if not changed:
            return Published(False)
        seconds = {
            VOICE_PATH.format(language=d.language, key=d.key): d.data.get("seconds")
            for d in drafts
            if d.kind == VOICE
        }
        changes: list[dict[str, Any]] = []
        for p in changed:
            if is_voice_file(p):
                after = changed[p]
                length = seconds.get(p)
                if length is None and isinstance(after, bytes):
                    length = ogg_opus_seconds(after)
                changes.append(voice_change(p, before[p], after, length))
            elif p.startswith("broadcasts/") and p.endswith(".yml"):
                state = (
                    "new" if before[p] is None else "removed" if changed[p] is None else "changed"
                )
                name = p.removeprefix("broadcasts/").removesuffix(".yml")
                changes.append({"language": "", "key": name, "campaign": state})
            else:
                old_text, new_text = before[p], changed[p]
                assert not isinstance(old_text, bytes) and not isinstance(new_text, bytes)
                changes.extend(message_changes(p, old_text, new_text))
        written: list[str] = []
        try:
            async with self.database.transaction() as session:
                release_id = await draft_store.latest_release_id(session) + 1
                await draft_store.add_release(
                    session,
                    release_id=release_id,
                    version=checked.catalog.version,
                    published_by=f"console {actor}",
                    note=note,
                    changes=changes,
                    files={p: {"before": before[p], "after": changed[p]} for p in changed},
                )
                if drafts:
                    await draft_store.close_drafts(
                        session,
                        [d.id for d in drafts],
                        state=draft_store.PUBLISHED,
                        release_id=release_id,
                    )
                await account_store.audit(
                    session,
                    actor=actor,
                    action=action,
                    detail=f"release {release_id}: {len(changes)} change(s) {note}".strip(),
                )
                # Written before the commit: a failure here rolls the release back.
                for path, text in changed.items():
                    written.append(path)
                    _write(root, path, text)
        except draft_store.ReleaseTaken:
            self._restore(before, written)
            return Published(False, raced=True)
        except BaseException:
            self._restore(before, written)
            raise
        self.publisher.release = release_id
        logger.info("Content release %d published from the console", release_id)
        return Published(True, release_id=release_id, changes=changes)

    def _restore(self, before: dict[str, str | bytes | None], written: list[str]) -> None:
        for path in written:
            _write(self.directory, path, before[path])

    # --- voice notes -----------------------------------------------------------------------

    async def save_voice(
        self,
        *,
        actor: str,
        language: str,
        key: str,
        audio: bytes,
        seconds: float,
        revision: int,
        base: str,
    ) -> Outcome:
        """Keep ``audio`` (OGG/Opus, already converted and bounded) as the draft voice note
        of ``key`` in ``language``: users hear it once it is published. Refused, with the
        other change shown, over a draft or publication made since the page was loaded."""
        catalog = self.catalog()
        if not is_ogg_opus(audio[:64]):
            return Outcome(False, issues=[Issue("voice.error.unreadable")])
        if key not in catalog.messages.get(language, {}):
            # A voice note belongs to a text in its language: translate the text first.
            return Outcome(False, issues=[Issue("voice.error.no_text")])
        target = target_of(VOICE, language, key)
        published = KINDS[VOICE].published(catalog, language, key)
        digest = draft_store.sha256_of(audio)
        data: dict[str, Any] = {
            "sha256": digest,
            "seconds": round(seconds, 1),
            "size": len(audio),
            "replaces": published is not None,
        }
        probe = _Probe(VOICE, language, key, target, data)
        files = write_drafts(self.directory, catalog, [probe], {digest: audio})
        checked = await asyncio.to_thread(check_overlay, self.directory, files)
        if checked.problems:
            mine, general = problems_by_target(checked.problems, files, [probe])
            return Outcome(False, problems=[*mine.get(target, []), *general])
        async with self.database.transaction() as session:
            current = await draft_store.open_draft(session, target)
            conflict = await self._conflict(session, current, target, revision, base, published)
            if conflict is not None:
                return Outcome(False, draft=current, conflict=conflict)
            await draft_store.put_blob(session, audio)
            await draft_store.keep_draft(
                session,
                current,
                kind=VOICE,
                language=language,
                key=key,
                target=target,
                data=data,
                base=base_of(published),
                author=actor,
            )
            draft = await draft_store.open_draft(session, target)
            await account_store.audit(
                session,
                actor=actor,
                action="voice.draft",
                detail=f"{key} {language} ({seconds:.0f} s)",
            )
        return Outcome(True, draft=draft)

    # --- campaigns -------------------------------------------------------------------------

    async def save_campaign(
        self,
        *,
        actor: str,
        name: str,
        data: dict[str, Any],
        create: bool,
        revision: int,
        base: str,
    ) -> Outcome:
        """Keep campaign ``name`` (its file's fields, already validated field by field) as a
        draft: ``kunnafoni broadcast`` and the worker see it once it is published. The tree
        with it is checked by the loader first; ``create`` refuses a name taken (published
        or drafted); a save over a change made since the form was opened is refused."""
        catalog = self.catalog()
        target = target_of(CAMPAIGN, "", name)
        published = KINDS[CAMPAIGN].published(catalog, "", name)
        probe = _Probe(CAMPAIGN, "", name, target, {"campaign": data})
        files = write_drafts(self.directory, catalog, [probe])
        text = files[f"broadcasts/{name}.yml"]
        async with self.database.reading() as session:
            current = await draft_store.open_draft(session, target)
        if create and (published is not None or current is not None):
            return Outcome(False, draft=current, issues=[Issue("bc.name_taken")])
        checked = await asyncio.to_thread(check_overlay, self.directory, files)
        if checked.problems:
            mine, general = problems_by_target(checked.problems, files, [probe])
            return Outcome(False, problems=[*mine.get(target, []), *general])
        stored = {"campaign": data, "text": text, "new": published is None}
        async with self.database.transaction() as session:
            current = await draft_store.open_draft(session, target)
            conflict = await self._conflict(session, current, target, revision, base, published)
            if conflict is not None:
                return Outcome(False, draft=current, conflict=conflict)
            await draft_store.keep_draft(
                session,
                current,
                kind=CAMPAIGN,
                language="",
                key=name,
                target=target,
                data=stored,
                base=base_of(published),
                author=actor,
            )
            draft = await draft_store.open_draft(session, target)
            await account_store.audit(
                session,
                actor=actor,
                action="broadcast.create" if create else "broadcast.edit",
                detail=f"{name} (draft)",
            )
        return Outcome(True, draft=draft)


VOICE_PATH = "media/{language}/{key}.ogg"


def _read(root: Path, path: str) -> str | bytes | None:
    file = root / path
    if not file.exists():
        return None
    return file.read_bytes() if is_voice_file(path) else file.read_text(encoding="utf-8")


def _write(root: Path, path: str, content: str | bytes | None) -> None:
    if content is None:
        (root / path).unlink(missing_ok=True)
    elif isinstance(content, bytes):
        write_atomic_bytes(root / path, content)
    else:
        write_atomic(root / path, content)


async def _blobs_of(session: Any, drafts: Sequence[Draft]) -> dict[str, bytes]:
    """The audio of the voice drafts, by sha256."""
    blobs: dict[str, bytes] = {}
    for draft in drafts:
        if draft.kind == VOICE:
            digest = str(draft.data["sha256"])
            data = await draft_store.blob_data(session, digest)
            if data is not None:
                blobs[digest] = data
    return blobs


@dataclass(frozen=True)
class _Probe:
    """A draft not stored yet, to check a save."""

    kind: str
    language: str
    key: str
    target: str
    data: dict[str, Any]


async def source_text_of(
    database: Database, catalog: Catalog, key: str, source_hash: str | None
) -> str | None:
    """The source-language text a translation was made from, when a release kept it."""
    if source_hash is None:
        return None
    default = catalog.default_language
    async with database.reading() as session:
        for release in await draft_store.releases(session, limit=500):
            for change in release.changes:
                if change.get("language") != default or change.get("key") != key:
                    continue
                for text in (change.get("old"), change.get("new")):
                    if text and text_hash(text) == source_hash:
                        return str(text)
    return None
