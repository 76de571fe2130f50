"""Typed shapes of the files under ``content/``.

Every model forbids unknown keys, so a typo in a content file is an error with
its file and line, not a silently ignored field.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

KEY_PATTERN = r"^[a-z0-9_]+(\.[a-z0-9_]+)*$"
ID_PATTERN = r"^[a-z0-9_]+$"

MessageKey = Annotated[str, StringConstraints(pattern=KEY_PATTERN, max_length=80)]
Identifier = Annotated[str, StringConstraints(pattern=ID_PATTERN, max_length=40)]
LanguageCode = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}$")]


class Action(StrEnum):
    """Built-in behaviours the engine offers to menu items, buttons and intents."""

    SHOW_MENU = "show_menu"
    CHANGE_LANGUAGE = "change_language"
    UNSUBSCRIBE = "unsubscribe"
    RESTART = "restart"


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


class StoryKind(StrEnum):
    #: Built from several accounts to illustrate; never a real person. To be replaced.
    COMPOSITE = "composite"
    #: A real person's account, told with their recorded consent.
    TESTIMONY = "testimony"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Language(Strict):
    code: LanguageCode
    name: Annotated[str, StringConstraints(min_length=1, max_length=40)]
    fallback: list[LanguageCode] = Field(default_factory=list)
    #: ``full``: every key; ``key``: the keys of ``key_messages`` (the rest falls back).
    coverage: Coverage = Coverage.FULL


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


class Target(Strict):
    """Where something leads: exactly one of a topic, an intent or a built-in action."""

    topic: Identifier | None = None
    intent: Identifier | None = None
    action: Action | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        chosen = [name for name in ("topic", "intent", "action") if getattr(self, name)]
        if len(chosen) != 1:
            raise ValueError("needs exactly one of topic, intent or action")
        return self


class ButtonSpec(Target):
    label: MessageKey


class Menu(Strict):
    text: MessageKey
    items: list[ButtonSpec] = Field(min_length=1, max_length=12)


class Card(Strict):
    text: MessageKey
    buttons: list[ButtonSpec] = Field(default_factory=list, max_length=4)
    #: A returnee story: an illustrative ``composite`` or a consented ``testimony``.
    story: StoryKind | None = None
    #: For a testimony: where the person's consent is recorded (a reference, not a name).
    consent_ref: Annotated[str, StringConstraints(min_length=3, max_length=80)] | None = None

    @model_validator(mode="after")
    def _testimony_has_consent(self) -> Self:
        if self.story is StoryKind.TESTIMONY and not self.consent_ref:
            raise ValueError("a testimony needs consent_ref: where the consent is recorded")
        if self.consent_ref and self.story is not StoryKind.TESTIMONY:
            raise ValueError("consent_ref is only for cards with story: testimony")
        return self


class QuizAnswer(Strict):
    label: MessageKey
    feedback: MessageKey
    correct: bool = False


class QuizQuestion(Strict):
    id: Identifier
    question: MessageKey
    answers: list[QuizAnswer] = Field(min_length=2, max_length=4)

    @model_validator(mode="after")
    def _one_correct(self) -> Self:
        if sum(answer.correct for answer in self.answers) != 1:
            raise ValueError("needs exactly one answer with correct: true")
        return self


class Topic(Strict):
    id: Identifier
    title: MessageKey
    cards: list[Card] = Field(min_length=1)
    quiz: list[QuizQuestion] = Field(default_factory=list, max_length=10)

    @model_validator(mode="after")
    def _unique_question_ids(self) -> Self:
        ids = [question.id for question in self.quiz]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"quiz question ids repeated: {', '.join(duplicates)}")
        return self


class IntentSpec(Strict):
    """What the bot does for one NLU intent: a reply, a topic, or an action."""

    reply: MessageKey | None = None
    topic: Identifier | None = None
    action: Action | None = None
    buttons: list[ButtonSpec] = Field(default_factory=list, max_length=4)
    keywords: dict[LanguageCode, list[Annotated[str, StringConstraints(min_length=2)]]] = Field(
        default_factory=dict
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        chosen = [name for name in ("reply", "topic", "action") if getattr(self, name)]
        if len(chosen) != 1:
            raise ValueError("needs exactly one of reply, topic or action")
        return self


class IntentsFile(Strict):
    intents: dict[Identifier, IntentSpec] = Field(min_length=1)
