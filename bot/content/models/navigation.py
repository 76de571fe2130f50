"""Where users go: ``menu.yml``, ``topics/<id>.yml`` (cards and quizzes), ``intents.yml``."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, Self

from pydantic import Field, StringConstraints, model_validator

from bot.content.models.common import Identifier, LanguageCode, MessageKey, Strict
from bot.content.models.services import PageUrl


class Action(StrEnum):
    """Built-in behaviours the engine offers to menu items, buttons and intents."""

    SHOW_MENU = "show_menu"
    CHANGE_LANGUAGE = "change_language"
    UNSUBSCRIBE = "unsubscribe"
    RESTART = "restart"
    #: Erase everything kept about the person, after a confirmation.
    FORGET = "forget"
    #: The privacy screen: what is kept, the language, withdrawing consent, erasing.
    PRIVACY = "privacy"


class StoryKind(StrEnum):
    #: Built from several accounts to illustrate; never a real person. To be replaced.
    COMPOSITE = "composite"
    #: A real person's account, told with their recorded consent.
    TESTIMONY = "testimony"


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


class CardSource(Strict):
    """A public page a card's figure comes from, named by its title and address."""

    title: Annotated[str, StringConstraints(min_length=3, max_length=300)]
    url: PageUrl


class Card(Strict):
    text: MessageKey
    buttons: list[ButtonSpec] = Field(default_factory=list, max_length=4)
    #: A need of ``bot/content/needs.py``: the card is followed by the service cards that
    #: answer it where the user is ("voici où t'adresser"), without asking where first.
    services: Identifier | None = None
    #: A returnee story: an illustrative ``composite`` or a consented ``testimony``.
    story: StoryKind | None = None
    #: For a testimony: where the person's consent is recorded (a reference, not a name).
    consent_ref: Annotated[str, StringConstraints(min_length=3, max_length=80)] | None = None
    #: The common question this card answers, as people type it, per language ("a credit",
    #: "payer plus tard"): typed in free text, it opens this card (whole words, accents and
    #: case aside), never card 1 of the module again.
    asks: dict[LanguageCode, list[Annotated[str, StringConstraints(min_length=3)]]] = Field(
        default_factory=dict
    )
    #: Where the card's figure comes from, and the day someone last read those pages. A
    #: card whose text states a figure needs them (or a ``source`` on its text): the loader
    #: checks it (``check_topic``).
    sources: list[CardSource] = Field(default_factory=list, max_length=10)
    verified_on: date | None = None

    @model_validator(mode="after")
    def _sources_are_dated(self) -> Self:
        if self.sources and self.verified_on is None:
            raise ValueError("sources need verified_on: the day someone last read them")
        if self.verified_on is not None and not self.sources:
            raise ValueError("verified_on needs sources: the pages that were read")
        return self

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
