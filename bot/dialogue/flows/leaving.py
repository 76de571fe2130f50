"""Wanting to leave: where to (not asked when the message says it), why, then what
matters for that route and that reason; and a relative who wants to leave.

The destination is found in the message (a country or town of ``places.yml`` after a
going word, or the NLU's ``country`` entity); its ``route`` in ``places.yml`` is the
topic with that route's risks, real costs and legal paths. The destination and the
reason live in the conversation's memory only: a destination is not where the user is,
and is never stored as their country.
"""

from __future__ import annotations

from bot.dialogue.flows.modules import card, menu_button
from bot.dialogue.memory import LeaveNotes
from bot.dialogue.payloads import Intent, Leave, OpenTopic, Why
from bot.dialogue.turn import Turn
from bot.dialogue.types import Button
from bot.nlu.normalise import tokens
from bot.nlu.types import NluResult
from bot.places import HOME_COUNTRY
from bot.routing.places import Who, finder, is_destination, leaver

#: The intent of someone thinking of leaving.
LEAVE_INTENT = "intent_to_leave"
#: Intents that may say someone is leaving (a relative said before the going word makes
#: it a family's question, whichever of these the NLU chose).
LEAVING_INTENTS = frozenset(
    {
        LEAVE_INTENT,
        "going_anyway",
        "family_pressure",
        "out_of_scope",
        # "mon fils veut partir en Libye, c'est dangereux ?": the family reply leads there.
        "risks_desert",
        "risks_libya",
        "risks_sea",
        "life_abroad",
    }
)

#: Why someone wants to leave, in the order of the buttons: each reason's answer is
#: ``leave.because.<reason>``, its label ``leave.why.<reason>``; then the module that
#: fits it (if any), and the intents that mean this reason when typed instead of tapped.
REASONS: dict[str, tuple[str | None, frozenset[str]]] = {
    "work": ("home_opportunities", frozenset({"local_opportunities", "reintegration"})),
    "family": ("family_debt", frozenset({"family_pressure"})),
    "study": ("legal_paths", frozenset({"legal_migration", "documents"})),
    "join": ("legal_paths", frozenset()),
    "other": (None, frozenset({"ask_human", "psychosocial"})),
}


#: A word of a reason's label typed names it from this length ("argent", "famille");
#: shorter ones ("la", "me", "ka") say nothing.
MIN_WORD = 4


def wants_to_leave(turn: Turn, said: NluResult | None) -> None:
    """Someone thinking of leaving: "why?" at once when the message names where to,
    otherwise "where to?" with the routes."""
    destination = _destination(turn, said) if said is not None else None
    route = _route(turn, destination)
    if route is None:
        spec = turn.catalog.intents[LEAVE_INTENT]
        buttons = [
            Button(turn.t(b.label), Leave(b.topic).pack()) if b.topic else turn.button(b)
            for b in spec.buttons
        ]
        buttons.append(menu_button(turn))
        turn.say(spec.reply or "intent.intent_to_leave", buttons)
        return
    assert destination is not None
    turn.memory.leaving = LeaveNotes(route, destination)
    turn.say(
        "leave.going_to",
        [*why_buttons(turn), menu_button(turn)],
        after=("leave.why",),
        fields={"country": turn.t(f"country.{destination}")},
    )


def press_route(turn: Turn, payload: Leave) -> bool:
    """A route chosen: "why?" comes next."""
    if payload.route not in turn.catalog.topics:
        return False
    turn.memory.leaving = LeaveNotes(payload.route)
    turn.say("leave.why", [*why_buttons(turn), menu_button(turn)])
    return True


def why_buttons(turn: Turn) -> list[Button]:
    return [Button(turn.t(f"leave.why.{reason}"), Why(reason).pack()) for reason in REASONS]


def press_reason(turn: Turn, payload: Why) -> bool:
    if payload.reason not in REASONS:
        return False
    answer_reason(turn, payload.reason)
    return True


def typed_reason(turn: Turn, said: str, intent: str | None) -> bool:
    """After "why?", a reason typed in words: the NLU's sure reading ("jcherche du
    travail": work), or else a word of one reason's label ("pour l'argent", "ma
    famille"). True when it answered; any other message ends the question."""
    if turn.memory.leaving is None:
        return False
    chosen = None
    for reason, (_topic, meaning) in REASONS.items():
        if intent is not None and intent in meaning:
            chosen = reason
            break
    if chosen is None:
        chosen = _reason_named(turn, said)
    if chosen is None:
        turn.memory.leaving = None
        return False
    answer_reason(turn, chosen)
    return True


def _reason_named(turn: Turn, said: str) -> str | None:
    """The one reason whose label shares a word of at least :data:`MIN_WORD` letters
    with the message, in the user's language."""
    words = {w for w in tokens(said) if len(w) >= MIN_WORD}
    named = [
        reason
        for reason in REASONS
        if words & {w for w in tokens(turn.t(f"leave.why.{reason}")) if len(w) >= MIN_WORD}
    ]
    return named[0] if len(named) == 1 else None


def answer_reason(turn: Turn, reason: str) -> None:
    """What fits the reason, with its module; then the route's first card (its risks)."""
    notes = turn.memory.leaving
    turn.memory.leaving = None
    topic, _meaning = REASONS[reason]
    buttons: list[Button] = []
    if topic is not None and topic in turn.catalog.topics:
        title = turn.catalog.topics[topic].title
        buttons.append(Button(turn.t(title), OpenTopic(topic).pack()))
    if reason == "other" and "ask_human" in turn.catalog.intents:
        buttons.append(Button(turn.t("intent_label.ask_human"), Intent("ask_human").pack()))
    if notes is None or notes.route not in turn.catalog.topics:
        buttons.append(menu_button(turn))
        turn.say(f"leave.because.{reason}", buttons)
        return
    turn.say(f"leave.because.{reason}", buttons)
    card(turn, notes.route, 0)


def someone_else_leaving(turn: Turn, said: NluResult, *, sure: bool) -> bool:
    """ "Mon fils veut partir en Libye": a relative or friend wants to leave. The family
    gets how to talk with them and that route's risks; the place is not the user's."""
    if sure and said.intent not in LEAVING_INTENTS:
        return False
    if leaver(said.text) is not Who.OTHER:
        return False
    found = finder(turn.catalog).destinations(said.text)
    route = _route(turn, found[-1].country if found else None)
    buttons: list[Button]
    if route is not None:
        buttons = [Button(turn.t("leave.family.risks"), OpenTopic(route).pack())]
    else:
        spec = turn.catalog.intents.get(LEAVE_INTENT)
        buttons = [turn.button(b) for b in spec.buttons] if spec is not None else []
    if "family_debt" in turn.catalog.topics:
        title = turn.catalog.topics["family_debt"].title
        buttons.append(Button(turn.t(title), OpenTopic("family_debt").pack()))
    buttons.append(menu_button(turn))
    turn.decided_intent = LEAVE_INTENT
    turn.say("leave.family", buttons)
    return True


def leaving_said(turn: Turn, said: NluResult) -> bool:
    """The user says they want to go somewhere named ("n b'a fe ka taa faransi") even
    when the NLU is unsure of it: a going word, the user (or nobody) before it, and a
    destination with a route."""
    if leaver(said.text) is Who.OTHER:
        return False
    return _route(turn, _destination(turn, said)) is not None


def _destination(turn: Turn, said: NluResult) -> str | None:
    """The country the user says they would go to, if the message names one."""
    found = [d for d in finder(turn.catalog).destinations(said.text) if d.who is not Who.OTHER]
    if found:
        return found[-1].country
    for entity in said.entities:
        if entity.entity != "country" or not entity.value:
            continue
        if entity.start is None or is_destination(said.text, entity.start):
            return entity.value.lower()
    return None


def _route(turn: Turn, country: str | None) -> str | None:
    """The topic of the route to ``country`` (places.yml), if it has one."""
    places = turn.catalog.places
    if country is None or country == HOME_COUNTRY or places is None:
        return None
    for known in places.countries:
        if known.id == country and known.route in turn.catalog.topics:
            return known.route
    return None
