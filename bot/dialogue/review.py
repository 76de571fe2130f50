"""Capture for the NLU review queue: a typed message the bot did not understand, from
someone who consented, masked, queued with one insert in the step's transaction.

When a message is queued (:func:`unclear`):

- it is a text typed outside any form, sent to the NLU (never a referral-form answer,
  which stays in the bot and is read by keywords only), not a command or a button;
- the person consented before this step and still does after it (a "no" or a withdrawal
  in the same step keeps nothing), and is not erasing themself;
- the bot did not understand it: it served a ``fallback.*`` message, or asked which
  intent was meant (``clarify.*``), or the NLU's best intent was below the confidence
  threshold or missing;
- it is not a crisis (emergency or self-harm, whatever the confidence: those words are
  not copied anywhere), nor a number or a label typed to pick a button on screen, nor
  made of fewer than :data:`MIN_LETTERS` letters.

What is queued (:func:`queue_unclear`): the text as the NLU received it (phone numbers
already masked by :class:`bot.nlu.service.NluService`), names masked
(:func:`bot.nlu.review.mask_names`), cut to :data:`bot.nlu.review.MAX_TEXT` characters; the
NLU's best intent, confidence and entities; the language identifier's guess when sure; no
user id. The person's conversation keeps a random review key so that ``/forget`` finds
their queued texts (``bot.store.review.forget_person``).
"""

from __future__ import annotations

import secrets

from bot.dialogue.decision import Thresholds
from bot.dialogue.turn import Turn
from bot.dialogue.typed import is_number, typed_choice
from bot.dialogue.types import Inbound
from bot.nlu.keywords import CRISIS_INTENTS
from bot.nlu.review import MAX_TEXT, mask_names, shift_entities
from bot.nlu.types import RASA_FALLBACK_INTENT, NluResult
from bot.store import Session
from bot.store import review as review_store

#: Fewer letters than this is not worth a reviewer's time ("?", "ok").
MIN_LETTERS = 3
FALLBACK, CLARIFY, LOW_CONFIDENCE = "fallback", "clarify", "low_confidence"
#: Messages served for a button or a file the bot cannot read: not about a typed text.
_NOT_TEXT = frozenset({"fallback.voice", "fallback.media", "fallback.stale_button"})


def unclear(
    turn: Turn,
    inbound: Inbound,
    understood: NluResult | None,
    thresholds: Thresholds,
    *,
    private: bool,
) -> str | None:
    """Why this step's text goes to the review queue (``fallback``, ``clarify``,
    ``low_confidence``), or None when it does not (see the module docstring)."""
    if understood is None or private or inbound.text is None:
        return None
    if inbound.command is not None or inbound.button is not None or turn.erase:
        return None
    if turn.user.consent is not True or turn.consent is not True:
        return None
    if understood.intent in CRISIS_INTENTS or turn.decided_intent in CRISIS_INTENTS:
        return None
    text = understood.text
    if sum(ch.isalpha() for ch in text) < MIN_LETTERS or is_number(text):
        return None
    if typed_choice(turn.catalog, turn.memory.screen.buttons, text) is not None:
        return None
    served = [key for key, _, _ in turn.served]
    if any(key.startswith("fallback.") and key not in _NOT_TEXT for key in served):
        return FALLBACK
    if any(key.startswith("clarify.") for key in served):
        return CLARIFY
    if understood.intent in (None, RASA_FALLBACK_INTENT):
        return LOW_CONFIDENCE
    if understood.confidence < thresholds.confidence:
        return LOW_CONFIDENCE
    return None


async def queue_unclear(session: Session, turn: Turn, understood: NluResult, reason: str) -> None:
    """Queue the masked text (one insert); give the person a review key if they have none."""
    key = turn.memory.other.get(review_store.REVIEW_KEY)
    if not isinstance(key, str) or not key:
        key = secrets.token_hex(16)
        turn.memory.other[review_store.REVIEW_KEY] = key
    masked = mask_names(understood.text, understood.entities)
    entities = [e for e in shift_entities(understood.entities, masked) if e["end"] <= MAX_TEXT]
    intent = understood.intent if understood.intent != RASA_FALLBACK_INTENT else None
    if intent is None:
        # Rasa abstained: its best real intent is what a reviewer wants to see.
        best = next((n for n, _ in understood.ranking if n != RASA_FALLBACK_INTENT), None)
        intent = best
    confidence = dict(understood.ranking).get(intent, understood.confidence) if intent else 0.0
    await review_store.add_item(
        session,
        person_key=key,
        text=masked.text[:MAX_TEXT],
        reason=reason,
        intent=intent,
        confidence=round(float(confidence), 4),
        entities=entities,
        language=turn.written_in,
    )
