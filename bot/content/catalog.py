"""The loaded, validated content, with language fallback chains."""

from __future__ import annotations

import hashlib
import logging
import string
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Generic, TypeVar

from bot.content.models import (
    Action,
    Campaign,
    Coverage,
    IntentSpec,
    Language,
    Menu,
    MessageEntry,
    PlacesFile,
    PrivacyFile,
    QuizQuestion,
    ReviewStatus,
    Service,
    Target,
    Topic,
    Voice,
)
from bot.places import ABROAD, REGIONS
from bot.referrals.status import DELIVERY_STATUSES, STATUSES

logger = logging.getLogger(__name__)

#: Telegram limits, see the Bot API: message text and callback data.
MAX_TEXT = 4096
MAX_PAYLOAD_BYTES = 64
#: Longer labels are cut by Telegram clients on small phones.
MAX_BUTTON_LABEL = 40

#: Message keys a service card uses besides each service's own.
SERVICE_LABEL_KEYS: tuple[str, ...] = (
    "service.label.phone",
    "service.label.emergency",
    "service.label.whatsapp",
    "service.label.address",
    "service.label.hours",
    "service.label.website",
    "service.label.email",
    "service.no_contact",
    "service.nearest",
)


#: Message keys the dialogue engine itself uses; each must have a default-language text.
REQUIRED_KEYS: tuple[str, ...] = (
    "onboarding.welcome",
    "onboarding.consent",
    "onboarding.consent_yes",
    "onboarding.consent_no",
    "onboarding.consent_thanks",
    "onboarding.consent_declined",
    "menu.title",
    "nav.next",
    "nav.back",
    "nav.menu",
    "topic.end",
    "clarify.prompt",
    "clarify.choose",
    "language.choose",
    "language.changed",
    "language.offer_switch",
    "language.pick_first",
    "language.fallback_note",
    "help.text",
    "help.command",
    "unsubscribe.done",
    "fallback.voice",
    "fallback.location",
    "fallback.media",
    "fallback.stale_button",
    "error.generic",
    "quiz.start",
    "quiz.intro",
    "quiz.next",
    "quiz.score",
    "command.start",
    "command.menu",
    "command.help",
    "command.language",
    "command.stop",
    "command.subscribe",
    "command.forget",
    "command.privacy",
    "menu.language",
    "privacy.kept_consent",
    "privacy.kept_no_consent",
    "privacy.withdraw",
    "privacy.read_consent",
    "privacy.forget",
    "privacy.withdraw_explain",
    "privacy.withdraw_yes",
    "privacy.withdraw_no",
    "privacy.withdrawn",
    "privacy.kept",
    "privacy.consent_changed",
    "forget.explain",
    "forget.yes",
    "forget.no",
    "forget.done",
    "forget.kept",
    "command.mydata",
    *(
        f"mydata.{name}"
        for name in (
            "nothing",
            "intro",
            "intro_no_consent",
            "not_given",
            "none",
            "language",
            "where",
            "where_start",
            "where_menu",
            "where_form",
            "consent",
            "consent_yes",
            "consent_no",
            "consent_unanswered",
            "place",
            "age",
            "situation",
            "subscription",
            "subscribed",
            "not_subscribed",
            "source",
            "topics",
            "referrals",
            "file_button",
            "file_caption",
        )
    ),
    "subscribe.ask",
    "subscribe.yes",
    "subscribe.no",
    "subscribe.done",
    "subscribe.declined",
    "subscribe.already",
    "subscribe.ask_age",
    "subscribe.age_under",
    "subscribe.age_range",
    "subscribe.age_from",
    "subscribe.under_age",
    "subscribe.ask_situation",
    "subscribe.situation_resident",
    "subscribe.situation_returnee",
    "subscribe.situation_diaspora",
    "subscribe.situation_parent",
    "subscribe.skip",
    "subscribe.thanks",
    "admin.attach_usage",
    "admin.attach_done",
    "admin.attach_unknown_key",
    "admin.attach_unknown_language",
    "admin.attach_not_voice",
    "admin.attach_no_text",
    "admin.attach_invalid",
    "command.mycases",
    "where.ask",
    "emergency.abroad",
    "emergency.no_number",
    "emergency.again",
    "where.in_mali",
    "where.abroad",
    "where.skip",
    "where.which_region",
    "where.which_country",
    "referral.offer",
    "referral.consent",
    "referral.consent_yes",
    "referral.consent_no",
    "referral.ask_name",
    "referral.ask_phone",
    "referral.phone_invalid",
    "referral.ask_location",
    "referral.ask_description",
    "referral.skip",
    "referral.cancel",
    "referral.cancelled",
    "referral.not_given",
    "referral.summary",
    "referral.send",
    "referral.sent",
    "referral.delivered",
    "referral.undeliverable",
    *(f"referral.status.{status}" for status in (*STATUSES, *DELIVERY_STATUSES, "withdrawn")),
    *(f"referral.update.{status}" for status in STATUSES[1:]),
    *(f"partner.mark.{status}" for status in STATUSES[1:]),
    "referral.mycases_title",
    "referral.mycases_line",
    "referral.mycases_none",
    "referral.limit_open",
    "referral.limit_day",
    "referral.mycases_page",
    "referral.mycases_newer",
    "referral.mycases_older",
    "handover.confirm",
    "handover.confirm_yes",
    "handover.confirm_no",
    "handover.opened",
    "handover.already_open",
    "handover.closed",
    "handover.idle_closed",
    "agent.handover_idle",
    "handover.unavailable",
    "agent.handover_opened",
    "agent.handover_closed",
    "agent.emergency_flag",
    "partner.referral",
    "partner.minor",
    "partner.reminder",
    "partner.not_yours",
    "partner.not_staff",
    "agent.not_staff",
    "partner.withdrawn",
    "admin.referral_overdue",
    "admin.referral_undelivered",
    "admin.referral_dead",
    "admin.reroute_usage",
    "admin.reroute_done",
    "admin.reroute_refused",
    "admin.reroute_no_relay",
    "admin.reroute_relay_done",
    "agent.referral_rerouted",
    *(f"place.{region}" for region in REGIONS),
    *(f"country.{country}" for country in sorted(ABROAD)),
    *SERVICE_LABEL_KEYS,
    "place.ack",
    "place.ack_once",
    "leave.going_to",
    "leave.why",
    "leave.why.work",
    "leave.why.family",
    "leave.why.study",
    "leave.why.join",
    "leave.why.other",
    "leave.because.work",
    "leave.because.family",
    "leave.because.study",
    "leave.because.join",
    "leave.because.other",
    "leave.family",
    "leave.family.risks",
)


class Fields(dict[str, Any]):
    """Values for a text's ``{placeholders}``; an unknown one is shown as written, never a
    crash (the loader already checks that translations keep the source's placeholders)."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def text_hash(text: str) -> str:
    """The short hash a translation records of the source text it was made from."""
    return hashlib.sha256(text.strip().encode("utf-8")).hexdigest()[:12]


def placeholders(text: str) -> set[str]:
    """Names of the ``{name}`` fields of a text; ``ValueError`` on a stray brace."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


class TranslationState(StrEnum):
    """Where one key stands in one language (for the coverage matrix)."""

    SOURCE = "source"  # the default language's own text
    MISSING = "missing"  # no text: the fallback chain serves it
    STALE = "stale"  # made from a source text that has changed since
    UNTRACKED = "untracked"  # no record of the source text it was made from
    DRAFT = "draft"
    REVIEWED = "reviewed"


def payload_for(target: Target) -> str:
    """The callback payload of a button leading to ``target`` (at most 64 bytes)."""
    if target.topic:
        return f"topic:{target.topic}"
    if target.intent:
        return f"intent:{target.intent}"
    assert target.action is not None
    return f"action:{target.action.value}"


@dataclass(frozen=True)
class Text:
    """A resolved text: what to show, in which language it was found, and whether it fell back."""

    key: str
    text: str
    language: str
    fell_back: bool
    #: The voice note of the entry that served the text (same language), if any.
    voice: Voice | None = None


@dataclass
class Catalog:
    default_language: str
    languages: Mapping[str, Language]
    messages: Mapping[str, Mapping[str, MessageEntry]]
    statuses: Mapping[str, ReviewStatus]
    menu: Menu
    topics: Mapping[str, Topic]
    intents: Mapping[str, IntentSpec]
    version: str
    #: The content folder the catalog was read from (voice files are relative to it).
    root: Path = field(default_factory=Path)
    #: What a ``coverage: key`` language must translate (exact keys or ``prefix.``).
    key_messages: tuple[str, ...] = ()
    #: The services directory (content/services.yml), by id, in file order.
    services: Mapping[str, Service] = field(default_factory=dict)
    #: Towns and countries as people type them (content/places.yml); None when absent.
    places: PlacesFile | None = None
    #: Requests about one's data as typed (content/privacy.yml); None when absent.
    privacy: PrivacyFile | None = None
    #: Campaigns of content/broadcasts/, by name (the file name without ``.yml``).
    campaigns: Mapping[str, Campaign] = field(default_factory=dict)
    #: (language asked, key) -> how often a fallback served it; read by reports.
    misses: Counter[tuple[str, str]] = field(default_factory=Counter)

    def chain(self, language: str | None) -> list[str]:
        """``language`` then its fallbacks then the default, each once."""
        order: list[str] = []
        start = (
            language
            if language is not None and language in self.languages
            else self.default_language
        )
        for code in (start, *self.languages[start].fallback, self.default_language):
            if code not in order:
                order.append(code)
        return order

    def text(self, key: str, language: str | None) -> Text:
        chain = self.chain(language)
        for code in chain:
            entry = self.messages.get(code, {}).get(key)
            if entry is not None:
                fell_back = code != chain[0]
                if fell_back:
                    self.misses[(chain[0], key)] += 1
                    logger.debug("No %s text for %s; served %s", chain[0], key, code)
                return Text(key, entry.text, code, fell_back, entry.voice)
        # Validation guarantees every referenced key has a default text; this is a bug.
        raise KeyError(f"message '{key}' has no text in any language of {chain}")

    def has_language(self, code: str | None) -> bool:
        return code is not None and code in self.languages

    def keywords(self) -> Iterator[tuple[str, str, str]]:
        """(intent, language, phrase) for every keyword trigger."""
        for intent, spec in self.intents.items():
            for language, phrases in spec.keywords.items():
                for phrase in phrases:
                    yield intent, language, phrase

    def action_intent(self, action: Action) -> str | None:
        for name, spec in self.intents.items():
            if spec.action is action:
                return name
        return None

    def voice_path(self, voice: Voice) -> Path:
        return self.root / voice.file

    def quiz_question(self, topic_id: str, question_id: str) -> QuizQuestion | None:
        topic = self.topics.get(topic_id)
        if topic is None:
            return None
        return next((q for q in topic.quiz if q.id == question_id), None)

    def keys(self) -> list[str]:
        """Every message key, in the default language file's order."""
        return list(self.messages[self.default_language])

    def is_key_message(self, key: str) -> bool:
        return any(
            key.startswith(rule) if rule.endswith(".") else key == rule
            for rule in self.key_messages
        )

    def expected_keys(self, language: str) -> list[str]:
        """The keys ``language`` must translate itself, by its coverage."""
        keys = self.keys()
        if language == self.default_language:
            return keys
        if self.languages[language].coverage is Coverage.KEY:
            return [key for key in keys if self.is_key_message(key)]
        return keys

    def state(self, language: str, key: str) -> TranslationState:
        if language == self.default_language:
            return TranslationState.SOURCE
        entry = self.messages.get(language, {}).get(key)
        if entry is None:
            return TranslationState.MISSING
        source = self.messages[self.default_language][key]
        if entry.source_hash is None:
            return TranslationState.UNTRACKED
        if entry.source_hash != text_hash(source.text):
            return TranslationState.STALE
        status = entry.status or self.statuses.get(language, ReviewStatus.DRAFT)
        return TranslationState(status.value)


T = TypeVar("T")


class PerVersion(Generic[T]):
    """What is built from one content version (an index, a finder), built once per
    version; the last few versions are kept, for steps still on an older one."""

    def __init__(self, build: Callable[[Catalog], T], keep: int = 4) -> None:
        self._build = build
        self._keep = keep
        self._built: dict[str, T] = {}

    def __call__(self, catalog: Catalog) -> T:
        found = self._built.get(catalog.version)
        if found is None:
            found = self._build(catalog)
            if len(self._built) > self._keep:
                self._built.clear()
            self._built[catalog.version] = found
        return found
