"""Every button payload the engine makes, and the one parser that reads them back.

A payload is ``<kind>:<value>`` and is stored by Telegram on messages sent long ago,
so the strings never change shape: each kind below packs to exactly the string the
bot has always sent. :func:`parse` is the only reader; it returns None for a payload
the bot never made (the router then answers "this button is old"). What the parser
cannot know, such as whether a topic still exists in the live content, the flow that
receives the payload checks.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.content.models import Action, Target


@dataclass(frozen=True)
class Lang:
    """Choose the interface language."""

    code: str

    def pack(self) -> str:
        return f"lang:{self.code}"


@dataclass(frozen=True)
class Consent:
    """Answer the data-consent question."""

    yes: bool

    def pack(self) -> str:
        return f"consent:{_yes_no(self.yes)}"


@dataclass(frozen=True)
class Subscribe:
    """Answer whether to receive campaign messages."""

    yes: bool

    def pack(self) -> str:
        return f"sub:{_yes_no(self.yes)}"


@dataclass(frozen=True)
class Age:
    """An age bracket (a value of AgeBracket) or ``skip``."""

    value: str

    def pack(self) -> str:
        return f"age:{self.value}"


@dataclass(frozen=True)
class Situation:
    """A situation (a value of content.models.Situation) or ``skip``."""

    value: str

    def pack(self) -> str:
        return f"sit:{self.value}"


@dataclass(frozen=True)
class OpenTopic:
    """Open a module at its first card."""

    topic: str

    def pack(self) -> str:
        return f"topic:{self.topic}"


@dataclass(frozen=True)
class Card:
    """Show one card of a module (back and next buttons)."""

    topic: str
    index: int

    def pack(self) -> str:
        return f"card:{self.topic}:{self.index}"


@dataclass(frozen=True)
class QuizStart:
    topic: str

    def pack(self) -> str:
        return f"quiz:{self.topic}"


@dataclass(frozen=True)
class QuizQuestion:
    topic: str
    question: str

    def pack(self) -> str:
        return f"quiz:{self.topic}:{self.question}"


@dataclass(frozen=True)
class QuizAnswer:
    topic: str
    question: str
    #: The answer's index in the question's answers.
    answer: int

    def pack(self) -> str:
        return f"quiz:{self.topic}:{self.question}:{self.answer}"


@dataclass(frozen=True)
class Where:
    """Answer to "where are you?": ``ml``, ``abroad`` (ask which) or ``skip``."""

    choice: str

    def pack(self) -> str:
        return f"where:{self.choice}"


@dataclass(frozen=True)
class WherePlace:
    """A region of Mali (``r``) or a country abroad (``c``); checked against bot.places."""

    region: str | None = None
    country: str | None = None

    def pack(self) -> str:
        if self.region is not None:
            return f"where:r:{self.region}"
        return f"where:c:{self.country}"


@dataclass(frozen=True)
class Refer:
    """Offer a referral to a service for a need (opens the consent screen)."""

    service: str
    need: str

    def pack(self) -> str:
        return f"refer:{self.service}:{self.need}"


@dataclass(frozen=True)
class FormPress:
    """A button of the referral form: yes, no, cancel, skip, here or send.

    Any value is accepted: during a form, a button the form does not know (an older
    version's) asks the current step again rather than the stale-button answer.
    """

    value: str

    def pack(self) -> str:
        return f"ref:{self.value}"


@dataclass(frozen=True)
class Human:
    """Answer whether to be put through to a person."""

    yes: bool

    def pack(self) -> str:
        return f"human:{_yes_no(self.yes)}"


@dataclass(frozen=True)
class Intent:
    """Act as if the user had written something meaning this intent."""

    name: str

    def pack(self) -> str:
        return f"intent:{self.name}"


@dataclass(frozen=True)
class Do:
    """Run one of the content's actions (menu, language, unsubscribe, restart)."""

    action: Action

    def pack(self) -> str:
        return f"action:{self.action.value}"


@dataclass(frozen=True)
class Leave:
    """Thinking of leaving by this route (a topic id): the "why?" question comes next."""

    route: str

    def pack(self) -> str:
        return f"leave:{self.route}"


@dataclass(frozen=True)
class Why:
    """The reason for wanting to leave (one of ``flows.leaving.REASONS``)."""

    reason: str

    def pack(self) -> str:
        return f"why:{self.reason}"


@dataclass(frozen=True)
class Forget:
    """Confirm (or not) the erasure of everything the bot keeps about the person."""

    yes: bool

    def pack(self) -> str:
        return f"forget:{_yes_no(self.yes)}"


@dataclass(frozen=True)
class CasesPage:
    """Another page of /mycases (1 is the most recent referrals)."""

    page: int

    def pack(self) -> str:
        return f"cases:{self.page}"


@dataclass(frozen=True)
class Privacy:
    """A button of the privacy screen: one of ``PRIVACY_STEPS``."""

    step: str

    def pack(self) -> str:
        return f"privacy:{self.step}"


#: The privacy screen's own buttons: withdraw consent (then confirm it, or keep it), and
#: read the consent question (for someone who has not consented).
PRIVACY_STEPS = ("withdraw", "withdraw_yes", "keep", "consent")


@dataclass(frozen=True)
class MyData:
    """What is kept about the person: the summary (``show``) or the JSON file (``file``)."""

    part: str

    def pack(self) -> str:
        return f"mydata:{self.part}"


#: The parts of :class:`MyData`.
MYDATA_PARTS = ("show", "file")


#: The kind of a partner's button on a referral card, in a partner organisation's chat.
PARTNER_KIND = "pref"


@dataclass(frozen=True)
class PartnerMove:
    """A partner's button on a referral card: move the referral to ``status``.

    Pressed in a partner's chat, never in a user's conversation, so :func:`parse` does not
    read it (a user's press of one is refused like any payload the bot did not make for
    them); :func:`parse_partner` does.
    """

    referral_id: int
    status: str

    def pack(self) -> str:
        return f"{PARTNER_KIND}:{self.referral_id}:{self.status}"


Payload = (
    Lang
    | Consent
    | Subscribe
    | Age
    | Situation
    | OpenTopic
    | Card
    | QuizStart
    | QuizQuestion
    | QuizAnswer
    | Where
    | WherePlace
    | Refer
    | FormPress
    | Human
    | Intent
    | Do
    | Leave
    | Why
    | Forget
    | CasesPage
    | Privacy
    | MyData
)

#: The choices of the "where are you?" question that are not a place.
WHERE_CHOICES = ("ml", "abroad", "skip")


def for_target(target: Target) -> OpenTopic | Intent | Do:
    """The payload of a content button (menu item, card button) leading to ``target``."""
    if target.topic:
        return OpenTopic(target.topic)
    if target.intent:
        return Intent(target.intent)
    assert target.action is not None
    return Do(target.action)


def parse(payload: str) -> Payload | None:
    """The payload as the bot made it, or None when the bot could not have made it."""
    kind, _, value = payload.partition(":")
    if kind == "lang":
        return Lang(value)
    if kind in ("consent", "sub", "human", "forget"):
        if value not in ("yes", "no"):
            return None
        yes = value == "yes"
        if kind == "consent":
            return Consent(yes)
        if kind == "forget":
            return Forget(yes)
        return Subscribe(yes) if kind == "sub" else Human(yes)
    if kind == "age":
        return Age(value)
    if kind == "sit":
        return Situation(value)
    if kind == "topic":
        return OpenTopic(value)
    if kind == "card":
        topic, _, index = value.rpartition(":")
        position = number(index)
        return Card(topic, position) if position is not None else None
    if kind == "quiz":
        return _quiz(value)
    if kind == "where":
        return _where(value)
    if kind == "refer":
        service, _, need = value.partition(":")
        return Refer(service, need)
    if kind == "ref":
        return FormPress(value)
    if kind == "intent":
        return Intent(value)
    if kind == "leave":
        return Leave(value)
    if kind == "why":
        return Why(value)
    if kind == "cases":
        page = number(value)
        return CasesPage(page) if page else None

    if kind == "privacy":
        return Privacy(value) if value in PRIVACY_STEPS else None
    if kind == "mydata":
        return MyData(value) if value in MYDATA_PARTS else None
    if kind == "action":
        return Do(Action(value)) if value in Action.__members__.values() else None
    return None


#: The longest number a payload of ours carries (referral ids, card and answer indexes).
MAX_DIGITS = 12


def number(text: str) -> int | None:
    """``text`` as a number when it is made of ASCII digits only (as the bot writes them),
    else None: ``str.isdigit()`` also accepts "²" or "٣", which ``int()`` may refuse."""
    if 0 < len(text) <= MAX_DIGITS and text.isascii() and text.isdigit():
        return int(text)
    return None


def parse_partner(payload: str) -> PartnerMove | None:
    """A partner's button as the bot made it, or None when it is not one."""
    parts = payload.split(":")
    if len(parts) != 3 or parts[0] != PARTNER_KIND:
        return None
    referral_id = number(parts[1])
    return PartnerMove(referral_id, parts[2]) if referral_id is not None else None


def _quiz(value: str) -> QuizStart | QuizQuestion | QuizAnswer | None:
    parts = value.split(":")
    if len(parts) == 1:
        return QuizStart(parts[0])
    if len(parts) == 2:
        return QuizQuestion(parts[0], parts[1])
    choice = number(parts[2]) if len(parts) == 3 else None
    if choice is not None:
        return QuizAnswer(parts[0], parts[1], choice)
    return None


def _where(value: str) -> Where | WherePlace | None:
    if value in WHERE_CHOICES:
        return Where(value)
    kind, _, place = value.partition(":")
    if kind == "r":
        return WherePlace(region=place)
    if kind == "c":
        return WherePlace(country=place)
    return None


def _yes_no(yes: bool) -> str:
    return "yes" if yes else "no"
