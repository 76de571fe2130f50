"""Typed shapes of the files under ``content/``.

Every model forbids unknown keys, so a typo in a content file is an error with
its file and line, not a silently ignored field.
"""

from __future__ import annotations

from datetime import date, time
from enum import StrEnum
from typing import Annotated, Self

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from bot.content.places import ABROAD, COUNTRIES, HOME_COUNTRY, PLACES

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


# --- Services directory (content/services.yml) -------------------------------------------


class ServiceCategory(StrEnum):
    """What kind of help a service gives; the matching maps user needs to these."""

    RETURN_ASSISTANCE = "return_assistance"
    REINTEGRATION = "reintegration"
    PSYCHOSOCIAL = "psychosocial"
    FAMILY_TRACING = "family_tracing"
    CONSULAR = "consular"
    DOCUMENTS = "documents"
    DIASPORA_MONEY = "diaspora_money"
    EMPLOYMENT = "employment"
    LEGAL_MIGRATION = "legal_migration"
    EMERGENCY = "emergency"
    SHELTER = "shelter"
    CHILD_PROTECTION = "child_protection"


#: E.164: a plus, a country code and at most 15 digits in all, no spaces.
PhoneNumber = Annotated[str, StringConstraints(pattern=r"^\+[1-9][0-9]{6,14}$")]
HttpsUrl = Annotated[
    str, StringConstraints(pattern=r"^https://[A-Za-z0-9.-]+\.[A-Za-z]{2,}(/[^\s]*)?$")
]
Email = Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$")]
ProperName = Annotated[str, StringConstraints(min_length=2, max_length=120)]


def _unique(values: list[str], what: str) -> None:
    repeated = sorted({v for v in values if values.count(v) > 1})
    if repeated:
        raise ValueError(f"{what} repeated: {', '.join(repeated)}")


def _known_place(place: str) -> str:
    if place not in PLACES:
        raise ValueError(f"unknown place '{place}' (known: {', '.join(PLACES)})")
    return place


def _known_country(country: str) -> str:
    if country == HOME_COUNTRY:
        raise ValueError(f"'{HOME_COUNTRY}' is not abroad: use national: true")
    if country not in ABROAD:
        raise ValueError(f"unknown country '{country}' (known: {', '.join(sorted(ABROAD))})")
    return country


#: A Malian place (region or town) as the ``place_ml`` entity names it (bot/content/places.py).
PlaceName = Annotated[
    str, AfterValidator(_known_place), WithJsonSchema({"type": "string", "enum": list(PLACES)})
]
#: A country abroad as the ``country`` entity names it (bot/content/places.py).
CountryName = Annotated[
    str,
    AfterValidator(_known_country),
    WithJsonSchema({"type": "string", "enum": sorted(ABROAD)}),
]


class ServiceArea(Strict):
    """Where a service helps people: all of Mali, Malian places, countries abroad."""

    #: Anywhere in Mali.
    national: bool = False
    #: Malians in any country abroad (a phone line or office that serves them all).
    abroad: bool = False
    #: Malian places (regions or towns) where it has an office or works.
    regions: list[PlaceName] = Field(default_factory=list)
    #: Countries abroad where it has an office or works (Mali is ``national``).
    countries: list[CountryName] = Field(default_factory=list)

    @model_validator(mode="after")
    def _no_repeats(self) -> Self:
        _unique(self.regions, "places")
        _unique(self.countries, "countries")
        return self

    @model_validator(mode="after")
    def _somewhere(self) -> Self:
        if not (self.national or self.abroad or self.regions or self.countries):
            raise ValueError("covers nowhere: give national, abroad, regions or countries")
        return self


class Contacts(Strict):
    """How to reach a service. Only contacts with a source; never an invented one."""

    phone: list[PhoneNumber] = Field(default_factory=list)
    whatsapp: list[PhoneNumber] = Field(default_factory=list)
    #: A postal or street address, as written locally (a proper name, not translated).
    address: ProperName | None = None
    website: HttpsUrl | None = None
    email: Email | None = None
    #: Opening hours: user-facing text, so a message key (``service.<id>.hours``).
    hours: MessageKey | None = None

    @model_validator(mode="after")
    def _no_repeats(self) -> Self:
        _unique(self.phone, "phone numbers")
        _unique(self.whatsapp, "WhatsApp numbers")
        return self


class Service(Strict):
    id: Identifier
    #: The organisation's proper name, shown as is in every language.
    organisation: ProperName
    #: What it does for the user: a message key (``service.<id>.description``).
    description: MessageKey
    categories: list[ServiceCategory] = Field(min_length=1)
    coverage: ServiceArea
    #: Languages its staff serve people in (codes declared in languages.yml).
    languages: list[LanguageCode] = Field(min_length=1)
    contacts: Contacts = Field(default_factory=Contacts)
    #: Whether it has agreed to receive referrals from the bot.
    accepts_referrals: bool = False
    #: The Telegram chat receiving referrals; null until a partner agrees (deployment fills it).
    partner_chat_id: int | None = None
    #: Where the contacts and the description come from, and when someone last checked.
    source: Annotated[str, StringConstraints(min_length=3)]
    verified_on: date

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        _unique([c.value for c in self.categories], "categories")
        _unique(self.languages, "languages")
        if self.partner_chat_id is not None and not self.accepts_referrals:
            raise ValueError("partner_chat_id is set but accepts_referrals is false")
        return self


class ServicesFile(Strict):
    services: list[Service] = Field(min_length=1)


# --- Campaigns (content/broadcasts/<name>.yml) --------------------------------------------


class AgeBracket(StrEnum):
    """Asked, optionally, when a user subscribes."""

    TEEN = "15-17"
    YOUNG = "18-24"
    ADULT = "25-34"
    OLDER = "35+"


class Situation(StrEnum):
    """Asked, optionally, when a user subscribes: where they stand with migration."""

    RESIDENT = "resident"
    RETURNEE = "returnee"
    DIASPORA = "diaspora"


def _any_country(country: str) -> str:
    if country not in COUNTRIES:
        raise ValueError(f"unknown country '{country}' (known: {', '.join(sorted(COUNTRIES))})")
    return country


#: Any country the ``country`` entity knows, Mali included.
AnyCountryName = Annotated[
    str,
    AfterValidator(_any_country),
    WithJsonSchema({"type": "string", "enum": sorted(COUNTRIES)}),
]
#: A deep-link payload (``t.me/<bot>?start=<payload>``), or the start of one.
SourcePayload = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
Days = Annotated[int, Field(ge=1, le=3650)]


class Segment(Strict):
    """Who a campaign is for, among subscribers who have not blocked the bot.

    Each criterion given narrows the audience (AND); the values of one criterion are
    alternatives (OR). ``regions`` and ``countries`` form one criterion (where the user
    said they are), as do ``sources`` and ``source_prefixes``. No criterion: every subscriber.
    """

    #: The user's chosen language.
    languages: list[LanguageCode] = Field(default_factory=list)
    #: Malian places; a region also matches the towns in it (bot/content/places.py).
    regions: list[PlaceName] = Field(default_factory=list)
    #: Countries, ``mali`` included (every user who said they are in Mali).
    countries: list[AnyCountryName] = Field(default_factory=list)
    age_brackets: list[AgeBracket] = Field(default_factory=list)
    situations: list[Situation] = Field(default_factory=list)
    #: The deep-link payload that first brought the user, exactly ...
    sources: list[SourcePayload] = Field(default_factory=list)
    #: ... or starting with one of these (``radio_`` matches ``radio_kayes``).
    source_prefixes: list[SourcePayload] = Field(default_factory=list)
    #: Users who opened at least one of these modules.
    topics_seen: list[Identifier] = Field(default_factory=list)
    #: Users who opened none of these modules.
    topics_not_seen: list[Identifier] = Field(default_factory=list)
    #: Users who wrote or tapped within this many days ...
    active_within_days: Days | None = None
    #: ... or who have been silent for at least this many days.
    inactive_for_days: Days | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, list):
                _unique([str(v) for v in value], name)
        if (
            self.active_within_days is not None
            and self.inactive_for_days is not None
            and self.inactive_for_days >= self.active_within_days
        ):
            raise ValueError(
                "inactive_for_days must be below active_within_days: nobody can match both"
            )
        return self


class QuietHours(Strict):
    """No campaign message between ``start`` and ``end``, Mali time (may span midnight)."""

    start: time = time(21, 0)
    end: time = time(8, 0)

    @model_validator(mode="after")
    def _not_empty(self) -> Self:
        if self.start == self.end:
            raise ValueError("quiet_hours: start and end are the same time")
        return self


class CampaignKind(StrEnum):
    #: One message, to everyone in the segment, at ``when``.
    ONEOFF = "oneoff"
    #: Messages at day offsets after each user subscribed.
    DRIP = "drip"


class DripStep(Strict):
    #: Days after the user subscribed (0: the day they subscribe).
    day: int = Field(ge=0, le=3650)
    message: MessageKey


class CampaignFile(Strict):
    """A campaign, as written in ``content/broadcasts/<name>.yml``."""

    kind: CampaignKind
    segment: Segment = Field(default_factory=Segment)
    #: One-off: when to send, an ISO date and time with its offset (Mali: ``+00:00``).
    when: AwareDatetime | None = None
    #: One-off: the message key sent.
    message: MessageKey | None = None
    #: Drip: the messages, each at its day after the user subscribed.
    steps: list[DripStep] = Field(default_factory=list)
    quiet_hours: QuietHours = Field(default_factory=QuietHours)
    #: Drip: a step still goes out this many days after its day, then no more (people
    #: who subscribed long before the campaign began do not get all its steps at once).
    catch_up_days: int = Field(default=2, ge=0, le=30)

    @model_validator(mode="after")
    def _shape_of_kind(self) -> Self:
        if self.kind is CampaignKind.ONEOFF:
            if self.when is None or self.message is None:
                raise ValueError("a oneoff campaign needs when and message")
            if self.steps:
                raise ValueError("a oneoff campaign has no steps (that is a drip)")
        else:
            if not self.steps:
                raise ValueError("a drip campaign needs steps")
            if self.when is not None or self.message is not None:
                raise ValueError("a drip campaign has steps, not when or message")
        return self


class Campaign(CampaignFile):
    """A validated campaign; ``name`` is its file name without ``.yml``."""

    name: Identifier
