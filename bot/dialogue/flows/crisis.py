"""Thoughts of self-harm: the person first, then the help that exists.

The reply (content ``intent.self_harm``) follows safe-messaging guidance: empathy, no
detail of means, "are you safe right now?", a trusted person now, then the support that
exists. It comes before anything else, like an emergency: no language, consent or age
question, no "did you mean", no quiz. The answer to "are you safe?" is read on the next
message: "no" gets the emergency contacts and a person at once, "yes" the people who
listen (psychosocial support).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.dialogue.flows import help
from bot.dialogue.flows.modules import menu_button
from bot.dialogue.memory import CrisisNotes, is_recent
from bot.dialogue.turn import Turn
from bot.nlu.keywords import SELF_HARM_INTENT
from bot.nlu.types import NluResult

#: How long a "yes" or "no" still answers "are you safe right now?".
SAFETY_ANSWER_WINDOW = timedelta(minutes=30)
#: The NLU readings of a typed yes and no (keywords of content when the model is down).
AFFIRM, DENY = "affirm", "deny"
#: Who listens, for someone who says they are safe.
LISTENING_NEED = "psychosocial"


def self_harm(turn: Turn) -> None:
    """The crisis reply with its buttons (a person, psychosocial support); the question
    "are you safe?" is remembered so that the next "yes" or "no" answers it."""
    spec = turn.catalog.intents[SELF_HARM_INTENT]
    buttons = [turn.button(b) for b in spec.buttons]
    buttons.append(menu_button(turn))
    if spec.reply is not None:
        turn.say(spec.reply, buttons)
    turn.decided_intent = SELF_HARM_INTENT
    turn.memory.crisis = CrisisNotes(at=datetime.now(UTC).isoformat())


def answer_safety(turn: Turn, understood: NluResult, *, sure: bool) -> bool:
    """A yes or no right after "are you safe right now?": True when it answered it."""
    notes = turn.memory.crisis
    if notes is None or not sure or understood.intent not in (AFFIRM, DENY):
        return False
    turn.memory.crisis = None
    if not is_recent(notes.at, SAFETY_ANSWER_WINDOW):
        return False
    if understood.intent == DENY:
        help.emergency(turn)  # not safe: the contacts in full, and a person
    elif LISTENING_NEED in turn.catalog.intents:
        help.help_with(turn, LISTENING_NEED)
    return True
