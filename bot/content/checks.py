"""Checks of languages and messages: fallback chains, placeholders, lengths, voice files.

Each check records its problems on the :class:`~bot.content.reading.Reader`; the
loader runs them in order and stops where a later check would only repeat an
earlier problem (no default language, no default-language messages).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from bot.content.catalog import MAX_TEXT, REQUIRED_KEYS, placeholders
from bot.content.models import LanguagesFile, MessageEntry, MessagesFile
from bot.content.reading import Reader, Source

#: The messages of each language: code -> (its file, its validated messages).
MessageSources = Mapping[str, tuple[Source, MessagesFile]]


def check_languages(reader: Reader, src: Source, languages: LanguagesFile) -> list[str] | None:
    """The declared language codes; ``None`` when the default language is not one of them."""
    codes = [lang.code for lang in languages.languages]
    for i, lang in enumerate(languages.languages):
        if codes.count(lang.code) > 1:
            reader.problem(
                src, src.line("languages", i), f"language '{lang.code}' is declared twice"
            )
        for j, fallback in enumerate(lang.fallback):
            if fallback not in codes:
                reader.problem(
                    src,
                    src.line("languages", i, "fallback", j),
                    f"fallback '{fallback}' is not a declared language",
                )
            elif fallback == lang.code:
                reader.problem(
                    src,
                    src.line("languages", i, "fallback", j),
                    f"language '{lang.code}' falls back to itself",
                )
    _check_names(reader, src, languages)
    if languages.default not in codes:
        reader.problem(
            src,
            src.line("default"),
            f"default language '{languages.default}' is not declared",
        )
        return None
    return codes


def _check_names(reader: Reader, src: Source, languages: LanguagesFile) -> None:
    """A name or alias typed must say one language: never two languages' at once."""
    owner: dict[str, str] = {}
    for i, lang in enumerate(languages.languages):
        for j, name in enumerate([lang.name, *lang.aliases]):
            said = " ".join(name.casefold().split())
            other = owner.setdefault(said, lang.code)
            if other != lang.code:
                where = (
                    src.line("languages", i, "aliases", j - 1) if j else src.line("languages", i)
                )
                reader.problem(src, where, f"'{name}' names both '{other}' and '{lang.code}'")


def check_messages(
    reader: Reader,
    root: Path,
    message_sources: MessageSources,
    codes: list[str],
    default: str,
) -> Mapping[str, MessageEntry] | None:
    """The default language's messages (the known keys); ``None`` when it has no file."""
    for code, (src, _parsed) in message_sources.items():
        if code not in codes:
            reader.problem(
                src, src.line("language"), f"language '{code}' is not declared in languages.yml"
            )
    if default not in message_sources:
        reader.problem(
            root / "messages" / f"{default}.yml",
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

    for key in REQUIRED_KEYS:
        if key not in known_keys:
            reader.problem(default_src, 1, f"missing required message '{key}'")
    return known_keys


def check_key_messages(
    reader: Reader,
    src: Source,
    languages: LanguagesFile,
    known_keys: Mapping[str, MessageEntry],
    default: str,
) -> None:
    """Each ``key_messages`` rule of languages.yml names at least one message."""
    for i, rule in enumerate(languages.key_messages):
        matched = (
            any(key.startswith(rule) for key in known_keys)
            if rule.endswith(".")
            else rule in known_keys
        )
        if not matched:
            reader.problem(
                src,
                src.line("key_messages", i),
                f"key_messages: '{rule}' matches no message of {default}.yml",
            )


#: The first bytes of an Ogg page, and the Opus identification header inside it.
_OGG_MAGIC = b"OggS"
_OPUS_HEAD = b"OpusHead"


def is_ogg_opus(head: bytes) -> bool:
    """Whether the first bytes of a file are those of an OGG/Opus stream."""
    return head.startswith(_OGG_MAGIC) and _OPUS_HEAD in head[:64]


def _check_voice(reader: Reader, root: Path, src: Source, key: str, file: str) -> None:
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


def _check_placeholders(
    reader: Reader, src: Source, key: str, text: str, source: MessageEntry | None
) -> None:
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
