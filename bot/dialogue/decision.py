"""What the bot does with an NLU answer: act on it, ask which one was meant, or put an
emergency first.

Pure functions of the NLU result and the thresholds, used by the engine for every free
text and by the NLU report (``scripts/nlu_eval/metrics.py``) to measure how often the bot acts
on a wrong intent, asks, or routes an emergency, on the held-out sets.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from enum import StrEnum

from bot.nlu.keywords import CRISIS_INTENTS, EMERGENCY_INTENT
from bot.nlu.types import RASA_FALLBACK_INTENT, NluResult

#: Intents never offered as a "did you mean" button.
NOT_OFFERED = frozenset({RASA_FALLBACK_INTENT, "out_of_scope"})


@dataclass(frozen=True)
class Thresholds:
    """How the engine decides under uncertainty (see docs/nlu.md)."""

    #: Below this confidence the top intent is not acted on.
    confidence: float = 0.5
    #: When the two best intents are closer than this, ask instead of guessing.
    ambiguity: float = 0.1
    #: An intent below this is not worth a "did you mean" button.
    candidate: float = 0.1
    #: Emergency among the three best intents at or above this: emergency reply first.
    emergency: float = 0.15
    #: A language guess must be at least this sure to change the reply language.
    language: float = 0.9


class Action(StrEnum):
    """The bot's move on a free text, outside forms and onboarding questions."""

    EMERGENCY = "emergency"  # emergency contacts first
    ACT = "act"  # answer the top intent
    ASK = "ask"  # buttons with the likely intents, or the menu


def ranked(result: NluResult) -> list[tuple[str, float]]:
    """The intent ranking without Rasa's ``nlu_fallback`` pseudo-intent, best first."""
    return [(name, conf) for name, conf in result.ranking if name != RASA_FALLBACK_INTENT]


def is_sure(result: NluResult, ranking: list[tuple[str, float]], thresholds: Thresholds) -> bool:
    """Confident enough, and not torn between the two best intents."""
    if result.intent in (None, RASA_FALLBACK_INTENT):
        return False
    if result.confidence < thresholds.confidence:
        return False
    if (
        len(ranking) >= 2
        and ranking[0][0] == result.intent
        and ranking[0][1] - ranking[1][1] < thresholds.ambiguity
    ):
        return False
    return True


def emergency_first(
    result: NluResult, ranking: list[tuple[str, float]], thresholds: Thresholds
) -> bool:
    """The emergency intent is the answer, or among the three best above the floor."""
    if result.intent == EMERGENCY_INTENT:
        return True
    return any(
        name == EMERGENCY_INTENT and confidence >= thresholds.emergency
        for name, confidence in ranking[:3]
    )


def crisis_first(
    result: NluResult,
    ranking: list[tuple[str, float]],
    thresholds: Thresholds,
    known: Collection[str],
) -> str | None:
    """The crisis to answer before anything else: ``emergency`` or ``self_harm`` (those of
    ``known``), as the answer or among the three best at or above the emergency floor; the
    better ranked when both are there. A low-confidence self-harm is still self-harm."""
    if result.intent in CRISIS_INTENTS and result.intent in known:
        return result.intent
    for name, confidence in ranking[:3]:
        if name in CRISIS_INTENTS and name in known and confidence >= thresholds.emergency:
            return name
    return None


def candidates(
    ranking: list[tuple[str, float]],
    thresholds: Thresholds,
    known: Collection[str] | None = None,
) -> list[str]:
    """Up to three intents worth a "did you mean" button (``known``: those with a reply)."""
    return [
        name
        for name, confidence in ranking
        if confidence >= thresholds.candidate
        and name not in NOT_OFFERED
        and (known is None or name in known)
    ][:3]


def decide(result: NluResult, thresholds: Thresholds) -> Action:
    """The engine's move on a free text when no form or onboarding question is open."""
    ranking = ranked(result)
    if emergency_first(result, ranking, thresholds):
        return Action.EMERGENCY
    if result.intent is not None and is_sure(result, ranking, thresholds):
        return Action.ACT
    return Action.ASK
