"""Languages and messages: ``languages.yml`` and ``messages/<code>.yml``, voice notes included."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated

from pydantic import Field, StringConstraints, field_validator

from bot.content.models.common import LanguageCode, MessageKey, Strict


class ReviewStatus(StrEnum):
    DRAFT = "draft"
    REVIEWED = "reviewed"


class Coverage(StrEnum):
    """How much of the catalog a language must translate before falling back."""

    FULL = "full"
    KEY = "key"


class VoiceMode(StrEnum):
    """Whether a voice note comes before the text or replaces it."""

    BEFORE = "before"
    INSTEAD = "instead"


Phrase = Annotated[str, StringConstraints(min_length=1, max_length=40)]


class Language(Strict):
    code: LanguageCode
    name: Annotated[str, StringConstraints(min_length=1, max_length=40)]
    fallback: list[LanguageCode] = Field(default_factory=list)
    #: ``full``: every key; ``key``: the keys of ``key_messages`` (the rest falls back).
    coverage: Coverage = Coverage.FULL
    #: Other names people type for this language, in any language ("bambara", "peul");
    #: naming it switches to it at any time.
    aliases: list[Phrase] = Field(default_factory=list)
    #: Words of this language said around a language's name to ask for it ("parle", "en";
    #: "na"; "tan"): a message of such words and names asks for the language it names.
    asking_words: list[Phrase] = Field(default_factory=list)
    #: Words of this language that say a language named beside them is not wanted ("pas";
    #: "faamaani", I do not understand): that name is not the one asked for.
    refusing_words: list[Phrase] = Field(default_factory=list)


class LanguagesFile(Strict):
    default: LanguageCode
    #: What a ``coverage: key`` language must translate: exact keys, or prefixes ending in ``.``.
    key_messages: list[Annotated[str, StringConstraints(min_length=2)]] = Field(
        default_factory=list
    )
    languages: list[Language] = Field(min_length=1)


SourceHash = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{12}$")]


class Voice(Strict):
    """A voice note for one message in one language: an OGG/Opus file under ``media/``."""

    file: Annotated[str, StringConstraints(pattern=r"^media/[A-Za-z0-9_./-]+\.ogg$")]
    mode: VoiceMode = VoiceMode.BEFORE


class MessageEntry(Strict):
    text: Annotated[str, StringConstraints(min_length=1)]
    source: str | None = None
    verified_on: date | None = None
    status: ReviewStatus | None = None
    #: In a translation: the hash of the default-language text it was made from.
    source_hash: SourceHash | None = None
    voice: Voice | None = None


class MessagesFile(Strict):
    language: LanguageCode
    status: ReviewStatus = ReviewStatus.DRAFT
    messages: dict[MessageKey, MessageEntry]

    @field_validator("messages", mode="before")
    @classmethod
    def _plain_strings_are_texts(cls, value: object) -> object:
        # `key: "text"` is shorthand for `key: {text: "text"}`.
        if isinstance(value, dict):
            return {k: {"text": v} if isinstance(v, str) else v for k, v in value.items()}
        return value
