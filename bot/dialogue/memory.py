"""What a conversation remembers between steps, typed per flow.

The store keeps it as one JSON object (``conversations.data``) under these keys:

==================== ======================================================
``language_offered`` languages already offered as a switch (a list)
``subscription_asked`` the subscription question was asked (true)
``profile_skipped``  optional profile questions skipped (a list)
``quiz``             the quiz run in progress: ``{"topic", "answered"}``
``where``            where the user is, kept for this answer only, without consent
``where_asked``      "where are you?" was asked once (true)
``pending_need``     the need waiting for the answer to "where are you?"
``referral``         the referral form: ``{"service", "need", "step", "fields"?}``
``buttons``          the buttons of the last answer, in order: ``[{"label", "payload"}]``
``fallback_noted``   a key-message language user was told a text fell back (true)
``cards``            per module, the card last shown: ``{"<topic>": <index>}``
``emergency``        the emergency contacts shown: ``{"country", "at", "numbers"}``
``crisis``           thoughts of self-harm answered, "are you safe?" asked: ``{"at"}``
``leaving``          wanting to leave, "why?" asked: ``{"route", "destination"?}``
``waiting``          a question typed before the language was chosen, answered once it is:
                     ``{"text", "intent", "confidence", "ranking", "entities", "at"}``
``consent_asked``    the data-consent text last shown: ``{"hash", "language", "at"}``
``pending_source``   the deep-link source, kept here until the person consents
==================== ======================================================

Each flow reads and writes its own typed part; :meth:`Memory.to_data` writes the same
JSON shape back, so a conversation stored before these types existed loads unchanged,
and keys this version does not know are kept as they are.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any


@dataclass
class LanguageNotes:
    """Onboarding: the language switches already offered (each offered once)."""

    #: None: no offer made yet (the key is absent).
    offered: list[str] | None = None

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> LanguageNotes:
        return cls(_strings(data.get("language_offered")))

    def to_data(self) -> dict[str, Any]:
        return {} if self.offered is None else {"language_offered": self.offered}


@dataclass
class SubscriptionNotes:
    """Subscription: asked once; the optional profile questions the user skipped."""

    asked: bool = False
    #: None: nothing skipped in the questions in progress (the key is absent).
    profile_skipped: list[str] | None = None

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> SubscriptionNotes:
        return cls(
            asked=bool(data.get("subscription_asked")),
            profile_skipped=_strings(data.get("profile_skipped")),
        )

    def to_data(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.asked:
            out["subscription_asked"] = True
        if self.profile_skipped is not None:
            out["profile_skipped"] = self.profile_skipped
        return out


@dataclass
class QuizProgress:
    """A quiz run: its topic and, per question answered, whether it was right."""

    topic: str
    answered: dict[str, bool] = field(default_factory=dict)

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> QuizProgress | None:
        run = data.get("quiz")
        if not isinstance(run, Mapping) or not isinstance(run.get("topic"), str):
            return None
        answered = run.get("answered")
        return cls(run["topic"], dict(answered) if isinstance(answered, Mapping) else {})

    def to_data(self) -> dict[str, Any]:
        return {"quiz": {"topic": self.topic, "answered": self.answered}}


@dataclass
class Place:
    """Where the user is (a region of Mali and/or a country), as far as it is known."""

    region: str | None = None
    country: str | None = None

    @classmethod
    def from_data(cls, data: Any) -> Place:
        if not isinstance(data, Mapping):
            return cls()
        return cls(region=data.get("region"), country=data.get("country"))

    def to_data(self) -> dict[str, str]:
        values = (("region", self.region), ("country", self.country))
        return {k: v for k, v in values if v is not None}


@dataclass
class PendingHelp:
    """Help and services: the place known for this answer only, and the question asked."""

    #: Named without consent to remember it: used until services are shown, then dropped.
    where: Place | None = None
    #: "Where are you?" was asked once; it is not asked again.
    where_asked: bool = False
    #: The need whose services wait for the answer.
    need: str | None = None
    #: A town abroad the user said they are in (``places.yml``): the nearest services
    #: for the next answer, then dropped. Never copied to the user's profile, which
    #: keeps only the region or the country (what the consent text names).
    town: str | None = None
    #: This step only, never stored: the user named where they are in this message.
    said_here: bool = field(default=False, compare=False)
    #: This step only, never stored: a country named for someone else in this message
    #: ("mon frere est a Tripoli"), for the emergency contacts of this answer.
    said_elsewhere: str | None = field(default=None, compare=False)

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> PendingHelp:
        need = data.get("pending_need")
        return cls(
            where=Place.from_data(data["where"]) if "where" in data else None,
            where_asked=bool(data.get("where_asked")),
            need=need if isinstance(need, str) else None,
            town=str(data["town"])[:40] if isinstance(data.get("town"), str) else None,
        )

    def to_data(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.where is not None:
            out["where"] = self.where.to_data()
        if self.where_asked:
            out["where_asked"] = True
        if self.need is not None:
            out["pending_need"] = self.need
        if self.town is not None:
            out["town"] = self.town
        return out


@dataclass
class ReferralForm:
    """The referral form in progress: for which service and need, at which step."""

    service: str
    need: str
    #: One of ``referral_form.STEPS`` (``consent`` first).
    step: str = "consent"
    #: The answers by field (first_name, phone, location, description); None before the
    #: consent (the key is absent). A field skipped has no key; one emptied holds None.
    fields: dict[str, str | None] | None = None

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> ReferralForm | None:
        form = data.get("referral")
        if not isinstance(form, Mapping):
            return None
        fields = form.get("fields")
        return cls(
            service=str(form.get("service")),
            need=str(form.get("need")),
            step=str(form.get("step")),
            fields=dict(fields) if isinstance(fields, Mapping) else None,
        )

    def answers(self) -> dict[str, str | None]:
        """The answers, starting them if none were given yet."""
        if self.fields is None:
            self.fields = {}
        return self.fields

    def to_data(self) -> dict[str, Any]:
        form: dict[str, Any] = {"service": self.service, "need": self.need, "step": self.step}
        if self.fields is not None:
            form["fields"] = self.fields
        return {"referral": form}


@dataclass(frozen=True)
class ShownButton:
    """One button of the last answer, as the user saw it."""

    label: str
    payload: str


@dataclass
class Screen:
    """What the user has in front of them: the last answer's buttons (a typed number, label
    or equivalent picks one), the fallback note already given, the card seen per module."""

    buttons: list[ShownButton] = field(default_factory=list)
    #: A ``coverage: key`` language user was told once that a text came in another language.
    fallback_noted: bool = False
    #: The card each module was last shown at (asking about it again continues there).
    cards: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Screen:
        shown = data.get("buttons")
        buttons = [
            ShownButton(b["label"], b["payload"])
            for b in (shown if isinstance(shown, list) else [])
            if isinstance(b, Mapping)
            and isinstance(b.get("label"), str)
            and isinstance(b.get("payload"), str)
        ]
        cards = data.get("cards")
        return cls(
            buttons=buttons,
            fallback_noted=bool(data.get("fallback_noted")),
            cards={
                str(topic): index
                for topic, index in (cards.items() if isinstance(cards, Mapping) else ())
                if isinstance(index, int) and not isinstance(index, bool) and index >= 0
            },
        )

    def to_data(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.buttons:
            out["buttons"] = [{"label": b.label, "payload": b.payload} for b in self.buttons]
        if self.fallback_noted:
            out["fallback_noted"] = True
        if self.cards:
            out["cards"] = self.cards
        return out


@dataclass
class EmergencyNotes:
    """The emergency contacts last shown: for which country, when, and their numbers,
    so that asking again in the same emergency gets the numbers in one line."""

    #: The country the contacts were for ("" when unknown).
    country: str
    #: When they were shown (ISO 8601, UTC).
    at: str
    numbers: list[str] = field(default_factory=list)

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> EmergencyNotes | None:
        notes = data.get("emergency")
        if not isinstance(notes, Mapping) or not isinstance(notes.get("at"), str):
            return None
        return cls(
            country=str(notes.get("country") or ""),
            at=notes["at"],
            numbers=_strings(notes.get("numbers")) or [],
        )

    def to_data(self) -> dict[str, Any]:
        return {"emergency": {"country": self.country, "at": self.at, "numbers": self.numbers}}


def is_recent(at: str, window: timedelta) -> bool:
    """Whether the moment ``at`` (ISO 8601, as stored; naive means UTC) is less than
    ``window`` ago; an unreadable moment is not recent."""
    try:
        moment = datetime.fromisoformat(at)
    except ValueError:
        return False
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return datetime.now(UTC) - moment < window


@dataclass
class CrisisNotes:
    """Thoughts of self-harm were answered, and "are you safe right now?" asked: when."""

    #: When the question was asked (ISO 8601, UTC).
    at: str

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> CrisisNotes | None:
        notes = data.get("crisis")
        if not isinstance(notes, Mapping) or not isinstance(notes.get("at"), str):
            return None
        return cls(at=notes["at"])

    def to_data(self) -> dict[str, Any]:
        return {"crisis": {"at": self.at}}


@dataclass
class LeaveNotes:
    """Someone thinking of leaving was asked why: the route (a topic) and destination."""

    #: The topic of the route (``leave_sea``...), from the destination or the button.
    route: str
    #: The country named as the destination; a destination, never where the user is.
    destination: str | None = None

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> LeaveNotes | None:
        notes = data.get("leaving")
        if not isinstance(notes, Mapping) or not isinstance(notes.get("route"), str):
            return None
        destination = notes.get("destination")
        return cls(notes["route"], destination if isinstance(destination, str) else None)

    def to_data(self) -> dict[str, Any]:
        notes: dict[str, Any] = {"route": self.route}
        if self.destination is not None:
            notes["destination"] = self.destination
        return {"leaving": notes}


#: How long a question typed before the language was chosen waits to be answered.
WAITING_FOR = timedelta(hours=1)


@dataclass
class WaitingQuestion:
    """A question typed before a language was chosen, as the NLU read it: answered once
    the language (and the consent question) are answered, then forgotten. Kept only here,
    never in analytics or logs."""

    text: str
    intent: str | None
    confidence: float
    ranking: list[tuple[str, float]] = field(default_factory=list)
    #: The NLU's entities: ``[{"entity", "value", "start"?}]``.
    entities: list[dict[str, Any]] = field(default_factory=list)
    #: When it was typed (ISO 8601, UTC): an old question is dropped, not answered.
    at: str = ""

    def is_fresh(self) -> bool:
        """Typed recently enough to be answered (chosen later, the language comes alone)."""
        return is_recent(self.at, WAITING_FOR)

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> WaitingQuestion | None:
        waiting = data.get("waiting")
        if not isinstance(waiting, Mapping) or not isinstance(waiting.get("text"), str):
            return None
        intent = waiting.get("intent")
        confidence = waiting.get("confidence")
        ranking = waiting.get("ranking")
        entities = waiting.get("entities")
        return cls(
            text=waiting["text"],
            intent=intent if isinstance(intent, str) else None,
            confidence=float(confidence) if isinstance(confidence, int | float) else 0.0,
            ranking=[
                (str(r[0]), float(r[1]))
                for r in (ranking if isinstance(ranking, list) else [])
                if isinstance(r, list | tuple) and len(r) == 2 and isinstance(r[1], int | float)
            ],
            entities=[
                dict(e)
                for e in (entities if isinstance(entities, list) else [])
                if isinstance(e, Mapping)
            ],
            at=str(waiting.get("at") or ""),
        )

    def to_data(self) -> dict[str, Any]:
        return {
            "waiting": {
                "text": self.text,
                "intent": self.intent,
                "confidence": self.confidence,
                "ranking": [[name, conf] for name, conf in self.ranking],
                "entities": self.entities,
                "at": self.at,
            }
        }


@dataclass
class AskedConsent:
    """The data-consent text last shown: its SHA-256, its language, and when (ISO 8601)."""

    hash: str
    language: str
    at: str


@dataclass
class ConsentNotes:
    """The data-consent question last asked (the answer is recorded against its text),
    and the deep-link source waiting for the consent before it is stored with the user."""

    asked: AskedConsent | None = None
    pending_source: str | None = None

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> ConsentNotes:
        asked = data.get("consent_asked")
        source = data.get("pending_source")
        shown = None
        if isinstance(asked, Mapping) and isinstance(asked.get("hash"), str):
            language, at = str(asked.get("language") or ""), str(asked.get("at") or "")
            shown = AskedConsent(asked["hash"], language, at)
        return cls(asked=shown, pending_source=source if isinstance(source, str) else None)

    def to_data(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.asked is not None:
            out["consent_asked"] = {
                "hash": self.asked.hash,
                "language": self.asked.language,
                "at": self.asked.at,
            }
        if self.pending_source is not None:
            out["pending_source"] = self.pending_source
        return out


#: Every key a part of :class:`Memory` owns, in the order it writes them.
KEYS = (
    "language_offered",
    "subscription_asked",
    "profile_skipped",
    "quiz",
    "where",
    "where_asked",
    "pending_need",
    "referral",
    "buttons",
    "fallback_noted",
    "cards",
    "emergency",
    "crisis",
    "leaving",
    "waiting",
    "consent_asked",
    "pending_source",
)


@dataclass
class Memory:
    """The whole of a conversation's data, one typed part per flow."""

    language: LanguageNotes = field(default_factory=LanguageNotes)
    subscription: SubscriptionNotes = field(default_factory=SubscriptionNotes)
    quiz: QuizProgress | None = None
    help: PendingHelp = field(default_factory=PendingHelp)
    referral: ReferralForm | None = None
    screen: Screen = field(default_factory=Screen)
    emergency: EmergencyNotes | None = None
    crisis: CrisisNotes | None = None
    leaving: LeaveNotes | None = None
    waiting: WaitingQuestion | None = None
    consent: ConsentNotes = field(default_factory=ConsentNotes)
    #: Keys this version does not know, kept so an older or newer version loses nothing.
    other: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Memory:
        return cls(
            language=LanguageNotes.from_data(data),
            subscription=SubscriptionNotes.from_data(data),
            quiz=QuizProgress.from_data(data),
            help=PendingHelp.from_data(data),
            referral=ReferralForm.from_data(data),
            screen=Screen.from_data(data),
            emergency=EmergencyNotes.from_data(data),
            crisis=CrisisNotes.from_data(data),
            leaving=LeaveNotes.from_data(data),
            waiting=WaitingQuestion.from_data(data),
            consent=ConsentNotes.from_data(data),
            other={k: v for k, v in data.items() if k not in KEYS},
        )

    def to_data(self, before: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The JSON to store; keys already in ``before`` keep their place in it."""
        parts: dict[str, Any] = {
            **self.language.to_data(),
            **self.subscription.to_data(),
            **(self.quiz.to_data() if self.quiz is not None else {}),
            **self.help.to_data(),
            **(self.referral.to_data() if self.referral is not None else {}),
            **self.screen.to_data(),
            **(self.emergency.to_data() if self.emergency is not None else {}),
            **(self.crisis.to_data() if self.crisis is not None else {}),
            **(self.leaving.to_data() if self.leaving is not None else {}),
            **(self.waiting.to_data() if self.waiting is not None else {}),
            **self.consent.to_data(),
        }
        out = {k: v for k, v in (before or {}).items() if k not in KEYS or k in parts}
        out.update(self.other)
        out.update(parts)
        return out


def _strings(value: Any) -> list[str] | None:
    if not isinstance(value, list):
        return None
    return [str(v) for v in value]


#: Conversation-data keys holding what a person typed (referral-form answers, a question
#: typed before a language was chosen): dropped after ``RETENTION_FORM_HOURS`` without a
#: message (``bot.privacy``). A waiting question is dropped on the next message anyway;
#: this covers someone who never writes again.
TYPED_KEYS: tuple[str, ...] = ("referral", "waiting")
