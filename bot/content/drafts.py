"""Drafts: content changes proposed in the console, checked, then written to the files.

A draft says what it changes (its kind and target: the text of ``help.text`` in ``bm``)
and the value proposed; users never see it until a release writes it into the content
files (:mod:`bot.content.releases`). Each kind of change is a :class:`DraftKind`: it
knows the published value of a target, and how to write drafts into the files with the
round-trip editor (comments, order and quoting kept). Messages are the first kind;
topics, quizzes or voice notes can be added as other kinds without touching the rest.

A set of drafts is validated by the same loader as ``kunnafoni content check``, on an
overlay of the content folder (the changed files written, every other file linked), and
each problem is taken back to the draft and field it concerns.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Protocol

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from bot.content.catalog import MAX_BUTTON_LABEL, MAX_TEXT, Catalog, placeholders, text_hash
from bot.content.editing import MessageFile, dump_document, load_document
from bot.content.loader import load_catalog
from bot.content.models import ReviewStatus, Topic
from bot.content.reading import ContentError, Problem

MESSAGE = "message"


class DraftLike(Protocol):
    """What the layer needs of a stored draft (``bot.store.drafts.Draft``)."""

    @property
    def kind(self) -> str: ...
    @property
    def language(self) -> str: ...
    @property
    def key(self) -> str: ...
    @property
    def target(self) -> str: ...
    @property
    def data(self) -> dict[str, Any]: ...


def target_of(kind: str, language: str, key: str) -> str:
    return f"{kind}:{language}:{key}"


def base_of(value: str | None) -> str:
    """The short hash a draft keeps of the published value it started from."""
    return text_hash(value) if value is not None else ""


class DraftKind(Protocol):
    name: str

    def published(self, catalog: Catalog, language: str, key: str) -> str | None:
        """The published value of the target (what a draft's base is a hash of)."""

    def write(
        self, content_dir: Path, catalog: Catalog, drafts: Sequence[DraftLike]
    ) -> dict[str, str]:
        """The new text of every file the drafts change (relative path -> text)."""

    def line_range(self, text: str, draft: DraftLike) -> tuple[int, int] | None:
        """The lines (first, last) of the draft's target in a file's new text."""


class MessageKind:
    """The text (and review status) of one message in one language."""

    name = MESSAGE

    def published(self, catalog: Catalog, language: str, key: str) -> str | None:
        entry = catalog.messages.get(language, {}).get(key)
        return entry.text if entry is not None else None

    def path(self, language: str) -> str:
        return f"messages/{language}.yml"

    def write(
        self, content_dir: Path, catalog: Catalog, drafts: Sequence[DraftLike]
    ) -> dict[str, str]:
        files: dict[str, MessageFile] = {}
        source_file = MessageFile(content_dir, catalog.default_language)
        order = catalog.keys()
        for draft in drafts:
            messages = files.get(draft.language)
            if messages is None:
                messages = files[draft.language] = MessageFile(content_dir, draft.language)
            fields: dict[str, Any] = {"text": draft.data["text"]}
            if draft.language != catalog.default_language:
                file_status = catalog.statuses.get(draft.language, ReviewStatus.DRAFT).value
                status = draft.data.get("status") or ReviewStatus.DRAFT.value
                # The file's default status needs no line of its own.
                fields["status"] = None if status == file_status else status
                if draft.data.get("source_hash"):
                    fields["source_hash"] = draft.data["source_hash"]
                if draft.key not in messages.messages and fields["status"] is None:
                    fields.pop("status")
            messages.update(
                draft.key,
                order=order,
                starts_section=source_file.starts_section(draft.key),
                **fields,
            )
        return {self.path(code): f.dump() for code, f in files.items()}

    def line_range(self, text: str, draft: DraftLike) -> tuple[int, int] | None:
        try:
            doc = YAML(typ="rt").load(text)
            messages = doc["messages"]
            keys = list(messages)
            position = keys.index(draft.key)
        except Exception:  # a file that does not parse has no line to give
            return None
        first = messages.lc.key(draft.key)[0] + 1
        if position + 1 < len(keys):
            last = messages.lc.key(keys[position + 1])[0]
        else:
            last = len(text.splitlines())
        return first, max(first, last)


VOICE = "voice"


class VoiceKind(MessageKind):
    """The voice note of one message in one language: an OGG/Opus file kept with the draft
    (``data``: ``sha256``, ``seconds``, ``size``; the bytes in ``content_blobs``), written to
    ``media/<lang>/<key>.ogg`` and named in the messages file on publication.

    Its published value is the sha256 of the live audio (None when there is none)."""

    name = VOICE

    def published(self, catalog: Catalog, language: str, key: str) -> str | None:
        entry = catalog.messages.get(language, {}).get(key)
        if entry is None or entry.voice is None:
            return None
        try:
            return hashlib.sha256(catalog.voice_path(entry.voice).read_bytes()).hexdigest()
        except OSError:
            return None

    def media_path(self, language: str, key: str) -> str:
        return f"media/{language}/{key}.ogg"

    def write(
        self, content_dir: Path, catalog: Catalog, drafts: Sequence[DraftLike]
    ) -> dict[str, str]:
        raise TypeError("voice drafts are written with write_voice_drafts (they need bytes)")


def write_voice_drafts(
    content_dir: Path,
    catalog: Catalog,
    drafts: Sequence[DraftLike],
    files: Mapping[str, str | bytes],
    blobs: Mapping[str, bytes],
) -> dict[str, str | bytes]:
    """The audio file of each voice draft, and its messages file with the ``voice`` entry,
    written over ``files`` (the texts other drafts already changed)."""
    kind = VoiceKind()
    out: dict[str, str | bytes] = {}
    opened: dict[str, MessageFile] = {}
    for draft in drafts:
        path = kind.path(draft.language)
        messages = opened.get(path)
        if messages is None:
            messages = opened[path] = MessageFile(content_dir, draft.language)
            text = files.get(path)
            if isinstance(text, str):
                messages.doc = YAML(typ="rt").load(text)
                messages.messages = messages.doc["messages"]
        relative = kind.media_path(draft.language, draft.key)
        out[relative] = blobs[draft.data["sha256"]]
        entry = messages.entry(draft.key) or {}
        old_voice = entry.get("voice")
        mode = str(old_voice.get("mode", "before")) if isinstance(old_voice, Mapping) else "before"
        messages.update(draft.key, voice={"file": relative, "mode": mode})
    for path, messages in opened.items():
        out[path] = messages.dump()
    return out


CAMPAIGN = "campaign"


class CampaignDraftKind:
    """A campaign of ``content/broadcasts/`` (target ``campaign::NAME``; ``data``: the
    campaign as its file writes it, under ``campaign``). Its published value is the
    file's text (None when the campaign is new)."""

    name = CAMPAIGN

    def path(self, name: str) -> str:
        return f"broadcasts/{name}.yml"

    def published(self, catalog: Catalog, language: str, key: str) -> str | None:
        file = catalog.root / self.path(key)
        try:
            return file.read_text(encoding="utf-8")
        except OSError:
            return None

    def write(
        self, content_dir: Path, catalog: Catalog, drafts: Sequence[DraftLike]
    ) -> dict[str, str]:
        from bot.content.campaign_files import campaign_text

        return {
            self.path(d.key): campaign_text(content_dir, d.key, d.data["campaign"]) for d in drafts
        }

    def line_range(self, text: str, draft: DraftLike) -> tuple[int, int] | None:
        return 1, max(1, len(text.splitlines()))


# --- a module's structure: cards, their order, buttons, sources; quiz questions ---------

TOPIC = "topic"


def topic_structure(topic: Topic) -> dict[str, Any]:
    """What the console edits of a module, as plain data: each card's text key, buttons,
    sources and ``verified_on``; each quiz question's key and answers."""
    cards = []
    for card in topic.cards:
        cards.append(
            {
                "text": card.text,
                "buttons": [{"label": b.label, **_target_of_button(b)} for b in card.buttons],
                "sources": [{"title": s.title, "url": s.url} for s in card.sources],
                "verified_on": card.verified_on.isoformat() if card.verified_on else None,
            }
        )
    quiz = [
        {
            "id": q.id,
            "question": q.question,
            "answers": [
                {"label": a.label, "feedback": a.feedback, "correct": a.correct} for a in q.answers
            ],
        }
        for q in topic.quiz
    ]
    return {"cards": cards, "quiz": quiz}


def _target_of_button(button: Any) -> dict[str, str]:
    for name in ("topic", "intent", "action"):
        value = getattr(button, name)
        if value:
            return {name: str(value.value if hasattr(value, "value") else value)}
    return {}


class TopicKind:
    """The structure of one module (``topics/<id>.yml``): the order of its cards (each
    draft card names the published position it comes from, ``from``), their buttons and
    sources, and its quiz questions. The texts themselves are messages."""

    name = TOPIC

    def published(self, catalog: Catalog, language: str, key: str) -> str | None:
        topic = catalog.topics.get(key)
        if topic is None:
            return None
        return json.dumps(topic_structure(topic), sort_keys=True, ensure_ascii=False)

    def path(self, key: str) -> str:
        return f"topics/{key}.yml"

    def write(
        self, content_dir: Path, catalog: Catalog, drafts: Sequence[DraftLike]
    ) -> dict[str, str]:
        files = {}
        for draft in drafts:
            doc = load_document(content_dir / self.path(draft.key))
            _apply_structure(doc, draft.data)
            files[self.path(draft.key)] = dump_document(doc)
        return files

    def line_range(self, text: str, draft: DraftLike) -> tuple[int, int] | None:
        return 1, max(1, len(text.splitlines()))


def _apply_structure(doc: Any, data: Mapping[str, Any]) -> None:
    """Write a draft's structure into a module's round-trip document: cards moved as they
    are (their comments and other fields with them), then only the fields that differ."""
    published = list(doc["cards"])
    cards = []
    for wanted in data["cards"]:
        card = published[int(wanted["from"])]
        _set_list(card, "buttons", [_button_map(b) for b in wanted.get("buttons", [])])
        _set_list(card, "sources", [_source_map(s) for s in wanted.get("sources", [])])
        verified = wanted.get("verified_on")
        if verified:
            card["verified_on"] = date.fromisoformat(verified)
        else:
            card.pop("verified_on", None)
        cards.append(card)
    doc["cards"][:] = cards
    questions = {str(q["id"]): q for q in doc.get("quiz") or []}
    for wanted in data.get("quiz", []):
        question = questions.get(str(wanted["id"]))
        if question is None:
            continue
        if question["question"] != wanted["question"]:
            question["question"] = wanted["question"]
        for answer, new in zip(question["answers"], wanted["answers"], strict=False):
            for name in ("label", "feedback"):
                if answer[name] != new[name]:
                    answer[name] = new[name]
            if new.get("correct"):
                answer["correct"] = True
            else:
                answer.pop("correct", None)


def _set_list(card: Any, name: str, items: list[CommentedMap]) -> None:
    """Replace a card's list only when it changed, so unchanged cards keep their layout."""
    current = [dict(x) for x in card.get(name) or []]
    if current == [dict(x) for x in items]:
        return
    if items:
        card[name] = CommentedSeq(items)
    else:
        card.pop(name, None)


def _button_map(button: Mapping[str, Any]) -> CommentedMap:
    out = CommentedMap()
    out["label"] = button["label"]
    for name in ("topic", "intent", "action"):
        if button.get(name):
            out[name] = button[name]
    return out


def _source_map(source: Mapping[str, Any]) -> CommentedMap:
    out = CommentedMap()
    out["title"] = source["title"]
    out["url"] = source["url"]
    return out


KINDS: dict[str, DraftKind] = {
    MESSAGE: MessageKind(),
    VOICE: VoiceKind(),
    CAMPAIGN: CampaignDraftKind(),
    TOPIC: TopicKind(),
}


def write_drafts(
    content_dir: Path,
    catalog: Catalog,
    drafts: Sequence[DraftLike],
    blobs: Mapping[str, bytes] | None = None,
) -> dict[str, str | bytes]:
    """Every changed file's new content, the drafts of every kind written in (voice notes
    last, over the texts: ``blobs`` holds their audio by sha256)."""
    files: dict[str, str | bytes] = {}
    by_kind: dict[str, list[DraftLike]] = {}
    for draft in drafts:
        by_kind.setdefault(draft.kind, []).append(draft)
    for kind, chosen in by_kind.items():
        if kind != VOICE:
            files.update(KINDS[kind].write(content_dir, catalog, chosen))
    if VOICE in by_kind:
        files.update(write_voice_drafts(content_dir, catalog, by_kind[VOICE], files, blobs or {}))
    return files


# --- validation on an overlay ------------------------------------------------------------


@dataclass
class Checked:
    """The result of loading the content with some files replaced."""

    catalog: Catalog | None
    #: Problems with paths relative to the content folder.
    problems: list[Problem] = field(default_factory=list)


def check_overlay(content_dir: Path, files: Mapping[str, str | bytes | None]) -> Checked:
    """Load the tree as it would be with ``files`` written (None: removed), with the loader
    of ``kunnafoni content check``; nothing in ``content_dir`` is touched."""
    root = content_dir.resolve()
    with tempfile.TemporaryDirectory(prefix="kunnafoni-check-") as tmp:
        overlay = Path(tmp) / "content"
        for folder, dirs, names in os.walk(root):
            here = Path(folder)
            relative = here.relative_to(root)
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            (overlay / relative).mkdir(parents=True, exist_ok=True)
            for name in names:
                if name.startswith("."):
                    continue
                rel = (relative / name).as_posix()
                if rel in files:
                    continue
                (overlay / relative / name).symlink_to(here / name)
        for rel, text in files.items():
            if text is None:
                continue
            target = overlay / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(text, bytes):
                target.write_bytes(text)
            else:
                target.write_text(text, encoding="utf-8")
        try:
            catalog = load_catalog(overlay)
        except ContentError as exc:
            prefix = str(overlay) + os.sep
            problems = [
                Problem(p.file.removeprefix(prefix), p.line, p.reason) for p in exc.problems
            ]
            return Checked(None, problems)
        catalog.root = content_dir
        return Checked(catalog, [])


def problems_by_target(
    problems: Iterable[Problem],
    files: Mapping[str, str | bytes | None],
    drafts: Sequence[DraftLike],
) -> tuple[dict[str, list[str]], list[str]]:
    """Each problem taken to the draft whose lines (or key) it concerns; the rest apart."""
    ranges: list[tuple[str, str, int, int]] = []
    for draft in drafts:
        kind = KINDS[draft.kind]
        for path, text in files.items():
            if not isinstance(text, str) or not _concerns(kind, path, draft):
                continue
            span = kind.line_range(text, draft)
            if span is not None:
                ranges.append((draft.target, path, *span))
    by_target: dict[str, list[str]] = {}
    general: list[str] = []
    for problem in problems:
        owner = next(
            (
                t
                for t, path, first, last in ranges
                if problem.file == path and first <= problem.line <= last
            ),
            None,
        )
        if owner is None:
            owner = next(
                (
                    d.target
                    for d in drafts
                    if f"'{d.key}'" in problem.reason and _path_of(d) == problem.file
                ),
                None,
            )
        if owner is None:
            general.append(str(problem))
        else:
            by_target.setdefault(owner, []).append(problem.reason)
    return by_target, general


def _path_of(draft: DraftLike) -> str:
    if draft.kind == CAMPAIGN:
        return CampaignDraftKind().path(draft.key)
    if draft.kind == TOPIC:
        return f"topics/{draft.key}.yml"
    return f"messages/{draft.language}.yml" if draft.kind in (MESSAGE, VOICE) else ""


def _concerns(kind: DraftKind, path: str, draft: DraftLike) -> bool:
    return path == _path_of(draft) if draft.kind in (MESSAGE, VOICE, CAMPAIGN, TOPIC) else True


# --- checks as one types -----------------------------------------------------------------


@dataclass(frozen=True)
class Issue:
    """A problem of a text being typed: a label key of the console and its values."""

    label: str
    values: dict[str, Any] = field(default_factory=dict)
    #: ``error``: the text cannot be published so; ``warning``: it can, but look.
    level: str = "error"


def key_uses(catalog: Catalog) -> dict[str, set[str]]:
    """How each key is used: ``button`` (a label), and ``topic:<id>`` for a module's keys."""
    uses: dict[str, set[str]] = {}

    def add(key: str, use: str) -> None:
        uses.setdefault(key, set()).add(use)

    for item in catalog.menu.items:
        add(item.label, "button")
    for topic_id, topic in catalog.topics.items():
        add(topic.title, f"topic:{topic_id}")
        for card in topic.cards:
            add(card.text, f"topic:{topic_id}")
            for button in card.buttons:
                add(button.label, "button")
                add(button.label, f"topic:{topic_id}")
        for question in topic.quiz:
            add(question.question, f"topic:{topic_id}")
            for answer in question.answers:
                add(answer.label, "button")
                add(answer.feedback, f"topic:{topic_id}")
    for spec in catalog.intents.values():
        for button in spec.buttons:
            add(button.label, "button")
    return uses


def buttons_of(catalog: Catalog, key: str) -> list[str]:
    """The keys of the buttons shown under the message ``key`` (a menu, a card, a quiz
    question, an intent's reply)."""
    if key == catalog.menu.text:
        return [item.label for item in catalog.menu.items]
    for topic in catalog.topics.values():
        for card in topic.cards:
            if card.text == key:
                return [button.label for button in card.buttons]
        for question in topic.quiz:
            if question.question == key:
                return [answer.label for answer in question.answers]
    for spec in catalog.intents.values():
        if spec.reply == key:
            return [button.label for button in spec.buttons]
    return []


def check_text(catalog: Catalog, language: str, key: str, text: str) -> list[Issue]:
    """The checks of the loader that concern one text, as it is typed."""
    issues: list[Issue] = []
    if not text.strip():
        return [Issue("check.empty")]
    if len(text) > MAX_TEXT:
        issues.append(Issue("check.too_long", {"length": len(text), "limit": MAX_TEXT}))
    if "button" in key_uses(catalog).get(key, set()) and len(text) > MAX_BUTTON_LABEL:
        issues.append(
            Issue("check.long_button", {"length": len(text), "limit": MAX_BUTTON_LABEL}, "warning")
        )
    try:
        names = placeholders(text)
    except ValueError:
        return [*issues, Issue("check.stray_brace")]
    source = catalog.messages[catalog.default_language].get(key)
    if source is not None and language != catalog.default_language:
        try:
            expected = placeholders(source.text)
        except ValueError:
            expected = names
        missing = sorted(expected - names)
        extra = sorted(names - expected)
        if missing:
            issues.append(Issue("check.missing_placeholder", {"names": _braces(missing)}))
        if extra:
            issues.append(Issue("check.unknown_placeholder", {"names": _braces(extra)}))
    return issues


def _braces(names: Sequence[str]) -> str:
    return ", ".join("{" + n + "}" for n in names)


PLACEHOLDER = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*\}")


def split_placeholders(text: str) -> list[tuple[str, bool]]:
    """The text cut into (piece, is a placeholder), for highlighting."""
    pieces: list[tuple[str, bool]] = []
    last = 0
    for match in PLACEHOLDER.finditer(text):
        if match.start() > last:
            pieces.append((text[last : match.start()], False))
        pieces.append((match.group(0), True))
        last = match.end()
    if last < len(text):
        pieces.append((text[last:], False))
    return pieces


# --- diffs ---------------------------------------------------------------------------------


def word_diff(old: str, new: str) -> list[tuple[str, str]]:
    """(operation, words): ``=`` kept, ``-`` removed, ``+`` added; words keep their spaces."""
    a, b = re.findall(r"\S+|\s+", old), re.findall(r"\S+|\s+", new)
    out: list[tuple[str, str]] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if op == "equal":
            out.append(("=", "".join(a[i1:i2])))
            continue
        if i2 > i1:
            out.append(("-", "".join(a[i1:i2])))
        if j2 > j1:
            out.append(("+", "".join(b[j1:j2])))
    return out


def file_diff(path: str, before: str | None, after: str | None) -> str:
    """A unified diff of a text file's two versions."""
    return "".join(
        difflib.unified_diff(
            (before or "").splitlines(keepends=True),
            (after or "").splitlines(keepends=True),
            fromfile=f"a/{path}",
            tofile=f"b/{path}",
        )
    )


def message_changes(path: str, before: str | None, after: str | None) -> list[dict[str, Any]]:
    """Key by key, what a new text of a messages file changes: ``[{language, key, old, new,
    old_status, new_status}]`` (texts None when absent)."""
    if not path.startswith("messages/") or not path.endswith(".yml"):
        return []
    language = path.removeprefix("messages/").removesuffix(".yml")
    old, new = _entries(before), _entries(after)
    changes = []
    for key in [*new, *(k for k in old if k not in new)]:
        if old.get(key) != new.get(key):
            o, n = old.get(key, {}), new.get(key, {})
            changes.append(
                {
                    "language": language,
                    "key": key,
                    "old": o.get("text"),
                    "new": n.get("text"),
                    "old_status": o.get("status"),
                    "new_status": n.get("status"),
                }
            )
    return changes


def _entries(text: str | None) -> dict[str, dict[str, Any]]:
    if not text:
        return {}
    try:
        doc = YAML(typ="safe").load(text) or {}
    except Exception:  # an unreadable file has no entries to compare
        return {}
    out: dict[str, dict[str, Any]] = {}
    for key, value in (doc.get("messages") or {}).items():
        entry = {"text": value} if isinstance(value, str) else dict(value or {})
        # A voice note's change is told by its own entry (see voice_change).
        entry.pop("voice", None)
        out[str(key)] = {k: str(v) for k, v in entry.items() if v is not None}
    return out


def voice_change(
    path: str, before: Any, after: Any, seconds: float | None = None
) -> dict[str, Any]:
    """A release's change of a voice note file ``media/<lang>/<key>.ogg``: ``voice`` is
    ``new``, ``replaced`` or ``removed``."""
    parts = path.removeprefix("media/").removesuffix(".ogg").split("/", 1)
    language, key = (parts[0], parts[1]) if len(parts) == 2 else ("", path)
    voice = "new" if before is None else "removed" if after is None else "replaced"
    change: dict[str, Any] = {"language": language, "key": key, "voice": voice}
    if seconds is not None:
        change["seconds"] = round(seconds)
    return change


def is_voice_file(path: str) -> bool:
    return path.startswith("media/") and path.endswith(".ogg")
