"""Subscription to campaign messages, and the optional profile questions after it.

Asked once after the data-consent answer, two buttons and neither chosen for the
user. Yes: subscribed from now (drip days count from it), then two optional
questions (age bracket, situation) asked only to users who consented to data
being kept; a parent (a button of both) is not asked their age. /stop, the
unsubscribe intent or button: out at once; /subscribe: back.

Someone who says they are under 15 (a button of the age question, or an age typed)
gets no campaign messages and the bot keeps nothing optional about them: their
consent to data being kept is withdrawn and what it kept goes (docs/privacy.md,
"Minors").
"""

from __future__ import annotations

from bot.content.catalog import Fields
from bot.content.models import AgeBracket
from bot.content.models import Situation as SituationValue
from bot.dialogue.flows.modules import menu
from bot.dialogue.payloads import Age, Situation, Subscribe
from bot.dialogue.turn import Turn
from bot.dialogue.types import Button, State
from bot.store.models import utcnow

#: The optional questions after subscribing: stored values, and their content key parts.
AGE_BRACKETS: tuple[str, ...] = tuple(a.value for a in AgeBracket)
SITUATIONS: tuple[str, ...] = tuple(s.value for s in SituationValue)
#: The situation of someone who is not asked their age.
PARENT = SituationValue.PARENT.value
#: The youngest age of the first bracket: below it, no campaign messages, nothing optional kept.
YOUNGEST = int(AgeBracket.TEEN.value.partition("-")[0])
#: The age question's answer of someone under :data:`YOUNGEST` (never stored).
UNDER_YOUNGEST = f"under-{YOUNGEST}"


def ask_subscription(turn: Turn) -> None:
    turn.memory.subscription.asked = True
    turn.go(State.SUBSCRIBE)
    turn.say(
        "subscribe.ask",
        [
            Button(turn.t("subscribe.yes"), Subscribe(True).pack()),
            Button(turn.t("subscribe.no"), Subscribe(False).pack()),
        ],
    )


def subscribed(turn: Turn) -> bool:
    value: bool = turn.user_changes.get("subscribed", turn.user.subscribed)
    return value


def subscribe(turn: Turn, yes: bool) -> None:
    turn.memory.subscription.asked = True
    if turn.state is State.SUBSCRIBE:
        turn.go(State.MENU)
    if not yes:
        if subscribed(turn):
            unsubscribe(turn)
        turn.say("subscribe.declined")
        menu(turn)
        return
    if subscribed(turn):
        turn.say("subscribe.already")
        menu(turn)
        return
    turn.user_changes["subscribed"] = True
    turn.user_changes["subscribed_at"] = utcnow()
    turn.say("subscribe.done")
    ask_profile(turn)


def unsubscribe(turn: Turn) -> None:
    turn.memory.subscription.asked = True
    turn.user_changes["subscribed"] = False
    turn.user_changes["unsubscribed_at"] = utcnow()
    if turn.state is State.SUBSCRIBE:
        turn.go(State.MENU)


def ask_profile(turn: Turn) -> None:
    """The next optional question still unanswered, or the menu. Only with consent."""
    age = turn.user_changes.get("age_bracket", turn.user.age_bracket)
    situation = turn.user_changes.get("situation", turn.user.situation)
    notes = turn.memory.subscription
    skipped = notes.profile_skipped or []
    skip = turn.t("subscribe.skip")
    if turn.consent and age is None and "age_bracket" not in skipped and situation != PARENT:
        buttons = [
            Button(age_label(turn, a), Age(a).pack()) for a in (UNDER_YOUNGEST, *AGE_BRACKETS)
        ]
        # A parent says so here rather than give an age that is not the young person's.
        parent = Button(turn.t(f"subscribe.situation_{PARENT}"), Situation(PARENT).pack())
        turn.say("subscribe.ask_age", [*buttons, parent, Button(skip, Age("skip").pack())])
    elif turn.consent and situation is None and "situation" not in skipped:
        buttons = [
            Button(turn.t(f"subscribe.situation_{s}"), Situation(s).pack()) for s in SITUATIONS
        ]
        turn.say("subscribe.ask_situation", [*buttons, Button(skip, Situation("skip").pack())])
    else:
        notes.profile_skipped = None
        turn.say("subscribe.thanks")
        menu(turn)


def age_label(turn: Turn, bracket: str) -> str:
    """``15-17`` -> "15-17 ans"; ``35+`` -> "35 ans ou plus"; ``under-15`` -> "moins de 15
    ans" (the words from content)."""
    if bracket.startswith("under-"):
        return turn.t("subscribe.age_under").format_map(Fields(high=bracket.removeprefix("under-")))
    if bracket.endswith("+"):
        return turn.t("subscribe.age_from").format_map(Fields(low=bracket[:-1]))
    low, _, high = bracket.partition("-")
    return turn.t("subscribe.age_range").format_map(Fields(low=low, high=high))


def answer_age(turn: Turn, payload: Age) -> bool:
    if payload.value == UNDER_YOUNGEST:
        under_youngest(turn)
        return True
    if payload.value != "skip" and payload.value not in AGE_BRACKETS:
        return False
    profile_answer(turn, "age_bracket", payload.value)
    return True


def answer_situation(turn: Turn, payload: Situation) -> bool:
    if payload.value != "skip" and payload.value not in SITUATIONS:
        return False
    profile_answer(turn, "situation", payload.value)
    return True


def profile_answer(turn: Turn, field_name: str, value: str) -> None:
    if value == "skip":
        notes = turn.memory.subscription
        if notes.profile_skipped is None:
            notes.profile_skipped = []
        if field_name not in notes.profile_skipped:
            notes.profile_skipped.append(field_name)
    elif turn.consent:
        turn.user_changes[field_name] = value
    ask_profile(turn)


def under_youngest(turn: Turn) -> None:
    """Someone under 15: out of campaign messages, and nothing optional kept about them.

    A child that young cannot be taken to have agreed alone to data being kept: the
    consent is withdrawn (recorded as a no, with its time), the profile and place go, and
    the step's storage drops the modules seen and unlinks their events and quiz answers.
    They can still read everything and ask for help; only the language stays.
    """
    turn.memory.subscription.profile_skipped = None
    if subscribed(turn):
        unsubscribe(turn)
    for field_name in ("age_bracket", "situation", "region", "country"):
        turn.user_changes[field_name] = None
    if turn.user.consent or turn.user_changes.get("consent"):
        turn.user_changes["consent"] = False
        turn.user_changes["consent_at"] = utcnow()
    turn.drop_optional = True
    turn.topics_seen.clear()
    turn.say("subscribe.under_age", fields={"age": str(YOUNGEST)})
    menu(turn)
