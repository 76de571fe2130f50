"""Read ``content/`` into a validated :class:`Catalog`, or report every problem.

Problems are collected, not raised one at a time, so a campaign manager sees
the whole list as ``file:line: reason`` in one run of ``kunnafoni content check``.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from bot.content.catalog import (
    MAX_BUTTON_LABEL,
    MAX_PAYLOAD_BYTES,
    MAX_TEXT,
    REQUIRED_KEYS,
    Catalog,
    payload_for,
    placeholders,
)
from bot.content.models import (
    ID_PATTERN,
    ButtonSpec,
    Campaign,
    CampaignFile,
    IntentsFile,
    LanguagesFile,
    Menu,
    MessagesFile,
    ServicesFile,
    Topic,
)
from bot.errors import KunnafoniError

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True, order=True)
class Problem:
    file: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"


class ContentError(KunnafoniError):
    """The content tree is invalid; ``problems`` says where and why."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = sorted(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


def _line_of(node: Any, path: Iterable[Any]) -> int:
    """1-based line of the deepest node of ``path`` that exists in a ruamel document."""
    line = 1
    for part in path:
        lc = getattr(node, "lc", None)
        if lc is None:
            break
        try:
            if isinstance(node, dict) and part in node:
                line = lc.key(part)[0] + 1
                node = node[part]
            elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
                line = lc.item(part)[0] + 1
                node = node[part]
            else:
                # Pydantic adds names of union branches and such to the path: skip them.
                continue
        except (KeyError, IndexError, TypeError):
            break
    return line


@dataclass
class _Source:
    """One parsed YAML file, kept to point problems at lines."""

    path: Path
    label: str
    doc: Any

    def line(self, *path: Any) -> int:
        return _line_of(self.doc, path)


#: Parsed documents by the hash of their bytes. Parsing dominates the cost of a load, and
#: a reload usually changes one file: the others come from here. Documents are only read.
_PARSED: OrderedDict[bytes, Any] = OrderedDict()
_PARSED_MAX = 256
_PARSED_LOCK = threading.Lock()


def _parse_cached(yaml: YAML, raw: bytes) -> Any:
    key = hashlib.sha256(raw).digest()
    with _PARSED_LOCK:
        if key in _PARSED:
            _PARSED.move_to_end(key)
            return _PARSED[key]
    doc = yaml.load(raw.decode("utf-8"))
    with _PARSED_LOCK:
        _PARSED[key] = doc
        while len(_PARSED) > _PARSED_MAX:
            _PARSED.popitem(last=False)
    return doc


class _Reader:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.problems: list[Problem] = []
        self.digest = hashlib.sha256()
        self._yaml = YAML(typ="rt")

    def problem(self, source: _Source | Path, line: int, reason: str) -> None:
        label = source.label if isinstance(source, _Source) else self._label(source)
        self.problems.append(Problem(label, line, reason))

    def _label(self, path: Path) -> str:
        return str(path)

    def read(self, path: Path) -> _Source | None:
        label = self._label(path)
        try:
            raw = path.read_bytes()
        except OSError as exc:
            self.problems.append(Problem(label, 1, f"cannot read file: {exc.strerror}"))
            return None
        self.digest.update(str(path.relative_to(self.root)).encode() + b"\0" + raw + b"\0")
        try:
            doc = _parse_cached(self._yaml, raw)
        except UnicodeDecodeError:
            self.problems.append(Problem(label, 1, "file is not UTF-8 text"))
            return None
        except MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = mark.line + 1 if mark is not None else 1
            self.problems.append(Problem(label, line, f"YAML syntax: {exc.problem or exc}"))
            return None
        except YAMLError as exc:
            self.problems.append(Problem(label, 1, f"YAML syntax: {exc}"))
            return None
        return _Source(path, label, doc)

    def parse(self, source: _Source, model: type[M]) -> M | None:
        if not isinstance(source.doc, dict):
            self.problem(source, 1, "expected a mapping at the top of the file")
            return None
        try:
            return model.model_validate(source.doc)
        except ValidationError as exc:
            for error in exc.errors():
                loc = error["loc"]
                where = ".".join(str(p) for p in loc if not str(p)[:1].isupper())
                if error["type"] == "extra_forbidden":
                    reason = f"unknown key '{loc[-1]}'"
                elif error["type"] == "missing":
                    reason = f"missing required key '{loc[-1]}'"
                else:
                    message = error["msg"].removeprefix("Value error, ")
                    reason = f"{where}: {message}" if where else message
                self.problem(source, source.line(*loc), reason)
            return None


def load_catalog(content_dir: Path | str) -> Catalog:
    """Load and validate the whole tree; raise :class:`ContentError` listing every problem."""
    root = Path(content_dir)
    reader = _Reader(root)
    catalog = _build(root, reader)
    if reader.problems or catalog is None:
        raise ContentError(reader.problems or [Problem(str(root), 1, "no content loaded")])
    return catalog


def check_content(content_dir: Path | str) -> list[Problem]:
    """Every problem in the tree, sorted; empty when it is valid."""
    try:
        load_catalog(content_dir)
    except ContentError as exc:
        return list(exc.problems)
    return []


def _build(root: Path, reader: _Reader) -> Catalog | None:
    if not root.is_dir():
        reader.problem(root, 1, "content folder not found")
        return None

    lang_src = reader.read(root / "languages.yml")
    languages = reader.parse(lang_src, LanguagesFile) if lang_src else None

    message_sources: dict[str, tuple[_Source, MessagesFile]] = {}
    messages_dir = root / "messages"
    for path in sorted(messages_dir.glob("*.yml")) if messages_dir.is_dir() else []:
        src = reader.read(path)
        parsed = reader.parse(src, MessagesFile) if src else None
        if src and parsed:
            if parsed.language != path.stem:
                reader.problem(
                    src,
                    src.line("language"),
                    f"language '{parsed.language}' does not match the file name '{path.name}'",
                )
                continue
            message_sources[parsed.language] = (src, parsed)

    menu_src = reader.read(root / "menu.yml")
    menu = reader.parse(menu_src, Menu) if menu_src else None

    intents_src = reader.read(root / "intents.yml")
    intents = reader.parse(intents_src, IntentsFile) if intents_src else None

    services_src = reader.read(root / "services.yml")
    services = reader.parse(services_src, ServicesFile) if services_src else None

    topics: dict[str, tuple[_Source, Topic]] = {}
    topics_dir = root / "topics"
    for path in sorted(topics_dir.glob("*.yml")) if topics_dir.is_dir() else []:
        src = reader.read(path)
        topic = reader.parse(src, Topic) if src else None
        if src and topic:
            if topic.id != path.stem:
                reader.problem(
                    src,
                    src.line("id"),
                    f"topic id '{topic.id}' does not match the file name '{path.name}'",
                )
            topics[topic.id] = (src, topic)

    campaign_sources: dict[str, tuple[_Source, CampaignFile]] = {}
    broadcasts_dir = root / "broadcasts"
    for path in sorted(broadcasts_dir.glob("*.yml")) if broadcasts_dir.is_dir() else []:
        src = reader.read(path)
        campaign = reader.parse(src, CampaignFile) if src else None
        if src and campaign:
            if not _CAMPAIGN_NAME.match(path.stem):
                reader.problem(
                    src, 1, "campaign file names use lower-case letters, digits and _ only"
                )
                continue
            campaign_sources[path.stem] = (src, campaign)

    if languages is None or lang_src is None:
        return None

    # Languages and their fallback chains.
    codes = [lang.code for lang in languages.languages]
    for i, lang in enumerate(languages.languages):
        if codes.count(lang.code) > 1:
            reader.problem(
                lang_src, lang_src.line("languages", i), f"language '{lang.code}' is declared twice"
            )
        for j, fallback in enumerate(lang.fallback):
            if fallback not in codes:
                reader.problem(
                    lang_src,
                    lang_src.line("languages", i, "fallback", j),
                    f"fallback '{fallback}' is not a declared language",
                )
            elif fallback == lang.code:
                reader.problem(
                    lang_src,
                    lang_src.line("languages", i, "fallback", j),
                    f"language '{lang.code}' falls back to itself",
                )
    if languages.default not in codes:
        reader.problem(
            lang_src,
            lang_src.line("default"),
            f"default language '{languages.default}' is not declared",
        )
        return None

    default = languages.default
    for code, (src, _parsed) in message_sources.items():
        if code not in codes:
            reader.problem(
                src, src.line("language"), f"language '{code}' is not declared in languages.yml"
            )
    if default not in message_sources:
        reader.problem(
            messages_dir / f"{default}.yml",
            1,
            f"missing the messages of the default language '{default}'",
        )
        return None
    default_src, default_messages = message_sources[default]
    known_keys = default_messages.messages

    for code, (src, parsed) in message_sources.items():
        for key, entry in parsed.messages.items():
            if code != default and key not in known_keys:
                reader.problem(
                    src,
                    src.line("messages", key),
                    f"unknown key '{key}': it has no text in {default}.yml",
                )
            _check_placeholders(reader, src, key, entry.text, known_keys.get(key))
            if entry.voice is not None:
                _check_voice(reader, root, src, key, entry.voice.file)
            if len(entry.text) > MAX_TEXT:
                reader.problem(
                    src,
                    src.line("messages", key),
                    f"text of '{key}' is {len(entry.text)} characters, over {MAX_TEXT}",
                )

    def need_key(src: _Source, path: tuple[Any, ...], key: str, *, label: bool = False) -> None:
        if key not in known_keys:
            reader.problem(src, src.line(*path), f"message '{key}' has no {default} text")
            return
        if label:
            for code, (_msrc, parsed) in message_sources.items():
                entry = parsed.messages.get(key)
                if entry is not None and len(entry.text) > MAX_BUTTON_LABEL:
                    reader.problem(
                        src,
                        src.line(*path),
                        f"button label '{key}' is over {MAX_BUTTON_LABEL} characters in {code}",
                    )

    intent_names = set(intents.intents) if intents else set()

    def need_target(src: _Source, path: tuple[Any, ...], spec: ButtonSpec) -> None:
        need_key(src, (*path, "label"), spec.label, label=True)
        if spec.topic and spec.topic not in topics:
            reader.problem(
                src, src.line(*path, "topic"), f"bad button: unknown topic '{spec.topic}'"
            )
        if spec.intent and intents and spec.intent not in intent_names:
            reader.problem(
                src, src.line(*path, "intent"), f"bad button: unknown intent '{spec.intent}'"
            )
        if len(payload_for(spec).encode()) > MAX_PAYLOAD_BYTES:
            reader.problem(
                src, src.line(*path), f"bad button: payload over {MAX_PAYLOAD_BYTES} bytes"
            )

    for key in REQUIRED_KEYS:
        if key not in known_keys:
            reader.problem(default_src, 1, f"missing required message '{key}'")

    for i, rule in enumerate(languages.key_messages):
        matched = (
            any(key.startswith(rule) for key in known_keys)
            if rule.endswith(".")
            else rule in known_keys
        )
        if not matched:
            reader.problem(
                lang_src,
                lang_src.line("key_messages", i),
                f"key_messages: '{rule}' matches no message of {default}.yml",
            )

    if menu and menu_src:
        need_key(menu_src, ("text",), menu.text)
        for i, item in enumerate(menu.items):
            need_target(menu_src, ("items", i), item)

    for src, topic in topics.values():
        need_key(src, ("title",), topic.title, label=True)
        for i, card in enumerate(topic.cards):
            need_key(src, ("cards", i, "text"), card.text)
            for j, button in enumerate(card.buttons):
                need_target(src, ("cards", i, "buttons", j), button)
        for i, question in enumerate(topic.quiz):
            need_key(src, ("quiz", i, "question"), question.question)
            for j, answer in enumerate(question.answers):
                need_key(src, ("quiz", i, "answers", j, "label"), answer.label, label=True)
                need_key(src, ("quiz", i, "answers", j, "feedback"), answer.feedback)
            longest = f"quiz:{topic.id}:{question.id}:{len(question.answers) - 1}"
            if len(longest.encode()) > MAX_PAYLOAD_BYTES:
                reader.problem(
                    src,
                    src.line("quiz", i, "id"),
                    f"quiz button payload over {MAX_PAYLOAD_BYTES} bytes: shorten the ids",
                )

    if intents and intents_src:
        for name, spec in intents.intents.items():
            if spec.reply:
                need_key(intents_src, ("intents", name, "reply"), spec.reply)
            if spec.topic and spec.topic not in topics:
                reader.problem(
                    intents_src,
                    intents_src.line("intents", name, "topic"),
                    f"unknown topic '{spec.topic}'",
                )
            for j, button in enumerate(spec.buttons):
                need_target(intents_src, ("intents", name, "buttons", j), button)
            for code in spec.keywords:
                if code not in codes:
                    reader.problem(
                        intents_src,
                        intents_src.line("intents", name, "keywords", code),
                        f"keywords for undeclared language '{code}'",
                    )
            need_key(intents_src, ("intents", name), f"intent_label.{name}", label=True)

    if services and services_src:
        _check_services(reader, services_src, services, codes, need_key)

    for src, campaign in campaign_sources.values():
        _check_campaign(reader, src, campaign, codes, set(topics), need_key)

    if menu is None or intents is None or services is None or reader.problems:
        return None
    return Catalog(
        default_language=default,
        languages={lang.code: lang for lang in languages.languages},
        messages={code: parsed.messages for code, (_src, parsed) in message_sources.items()},
        statuses={code: parsed.status for code, (_src, parsed) in message_sources.items()},
        menu=menu,
        topics={topic_id: topic for topic_id, (_src, topic) in topics.items()},
        intents=intents.intents,
        version=reader.digest.hexdigest()[:16],
        root=root,
        key_messages=tuple(languages.key_messages),
        services={service.id: service for service in services.services},
        campaigns={
            name: Campaign.model_validate({**campaign.model_dump(), "name": name})
            for name, (_src, campaign) in campaign_sources.items()
        },
    )


_CAMPAIGN_NAME = re.compile(ID_PATTERN)


def _check_campaign(
    reader: _Reader,
    src: _Source,
    campaign: CampaignFile,
    codes: list[str],
    topics: set[str],
    need_key: Callable[[_Source, tuple[Any, ...], str], None],
) -> None:
    """Links from a campaign to the rest: message keys, languages, modules; days once each."""
    if campaign.message is not None:
        need_key(src, ("message",), campaign.message)
    first_line: dict[int, int] = {}
    for i, step in enumerate(campaign.steps):
        need_key(src, ("steps", i, "message"), step.message)
        line = src.line("steps", i, "day")
        if step.day in first_line:
            reader.problem(
                src, line, f"day {step.day} is repeated (first at line {first_line[step.day]})"
            )
        else:
            first_line[step.day] = line
    segment = campaign.segment
    for j, code in enumerate(segment.languages):
        if code not in codes:
            reader.problem(
                src,
                src.line("segment", "languages", j),
                f"segment: language '{code}' is not declared in languages.yml",
            )
    for field_name in ("topics_seen", "topics_not_seen"):
        for j, topic in enumerate(getattr(segment, field_name)):
            if topic not in topics:
                reader.problem(
                    src,
                    src.line("segment", field_name, j),
                    f"segment: unknown topic '{topic}' (known: {', '.join(sorted(topics))})",
                )


def _check_services(
    reader: _Reader,
    src: _Source,
    services: ServicesFile,
    codes: list[str],
    need_key: Callable[[_Source, tuple[Any, ...], str], None],
) -> None:
    """Links from services.yml to the rest, and the guarantee of an answer for every need."""
    # Imported here: bot.services builds on bot.content, whose package imports this module.
    from bot.services.needs import NATIONAL_CATEGORIES

    seen: dict[str, int] = {}
    for i, service in enumerate(services.services):
        where = ("services", i)
        if service.id in seen:
            reader.problem(
                src,
                src.line(*where, "id"),
                f"service id '{service.id}' is repeated (first at line {seen[service.id]})",
            )
        else:
            seen[service.id] = src.line(*where, "id")
        for j, code in enumerate(service.languages):
            if code not in codes:
                reader.problem(
                    src,
                    src.line(*where, "languages", j),
                    f"language '{code}' is not declared in languages.yml",
                )
        need_key(src, (*where, "description"), service.description)
        if service.contacts.hours is not None:
            need_key(src, (*where, "contacts", "hours"), service.contacts.hours)
    national = [s for s in services.services if s.coverage.national]
    for category in NATIONAL_CATEGORIES:
        if not any(category in s.categories for s in national):
            reader.problem(
                src,
                src.line("services"),
                f"no national service for category '{category}': users needing it"
                " would get no answer",
            )


#: The first bytes of an Ogg page, and the Opus identification header inside it.
_OGG_MAGIC = b"OggS"
_OPUS_HEAD = b"OpusHead"


def is_ogg_opus(head: bytes) -> bool:
    """Whether the first bytes of a file are those of an OGG/Opus stream."""
    return head.startswith(_OGG_MAGIC) and _OPUS_HEAD in head[:64]


def _check_voice(reader: _Reader, root: Path, src: _Source, key: str, file: str) -> None:
    path = (root / file).resolve()
    media = (root / "media").resolve()
    if not path.is_relative_to(media):
        reader.problem(src, src.line("messages", key, "voice", "file"), "voice file outside media/")
        return
    try:
        with path.open("rb") as handle:
            head = handle.read(64)
    except OSError:
        reader.problem(
            src, src.line("messages", key, "voice", "file"), f"voice file '{file}' not found"
        )
        return
    if not is_ogg_opus(head):
        reader.problem(
            src,
            src.line("messages", key, "voice", "file"),
            f"voice file '{file}' is not OGG/Opus (Telegram plays only OGG/Opus as a voice note)",
        )
        return
    # The file is part of the published version: a new recording is a new version.
    reader.digest.update(file.encode() + b"\0" + path.read_bytes() + b"\0")


def _check_placeholders(reader: _Reader, src: _Source, key: str, text: str, source: Any) -> None:
    """``{name}`` fields are filled by the bot: a translation must keep exactly the source's."""
    try:
        names = placeholders(text)
    except ValueError:
        reader.problem(
            src,
            src.line("messages", key),
            f"text of '{key}' has a stray '{{' or '}}' (write {{{{ or }}}} for a brace)",
        )
        return
    if source is None or source.text == text:
        return
    try:
        expected = placeholders(source.text)
    except ValueError:
        return  # reported on the source's own line
    if names != expected:
        want = ", ".join(sorted(f"{{{n}}}" for n in expected)) or "none"
        reader.problem(
            src,
            src.line("messages", key),
            f"text of '{key}' must use the same placeholders as the source ({want})",
        )
