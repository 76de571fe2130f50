"""The engine's decision on an NLU answer: act, ask which, or emergency first."""

from __future__ import annotations

import pytest

from bot.dialogue.decision import (
    Action,
    Thresholds,
    candidates,
    decide,
    emergency_first,
    is_sure,
    ranked,
)
from bot.nlu.types import RASA_FALLBACK_INTENT, NluResult, NluSource

T = Thresholds()


def result(*ranking: tuple[str, float], intent: str | None = None) -> NluResult:
    top = intent if intent is not None else (ranking[0][0] if ranking else None)
    confidence = dict(ranking).get(top or "", 0.0) if top != RASA_FALLBACK_INTENT else 0.4
    return NluResult("text", top, confidence, NluSource.RASA, ranking=tuple(ranking))


@pytest.mark.parametrize(
    ("nlu", "action"),
    [
        (result(("risks_libya", 0.9), ("risks_sea", 0.05)), Action.ACT),
        # below the confidence threshold
        (result(("risks_libya", 0.45), ("risks_sea", 0.2)), Action.ASK),
        # torn between the two best
        (result(("risks_libya", 0.52), ("risks_sea", 0.45)), Action.ASK),
        # a margin wider than the ambiguity threshold is enough
        (result(("risks_libya", 0.62), ("risks_sea", 0.5)), Action.ACT),
        # Rasa's own fallback is never acted on
        (
            result(
                (RASA_FALLBACK_INTENT, 0.4),
                ("risks_libya", 0.9),
                ("risks_sea", 0.05),
                intent=RASA_FALLBACK_INTENT,
            ),
            Action.ASK,
        ),
        (NluResult.nothing("?"), Action.ASK),
        # emergency top, or third above the floor, comes first whatever the confidence
        (result(("emergency", 0.3), ("return_help", 0.25)), Action.EMERGENCY),
        (
            result(("return_help", 0.5), ("risks_libya", 0.2), ("emergency", 0.16)),
            Action.EMERGENCY,
        ),
        # below the floor, or fourth, it is not
        (
            result(("return_help", 0.7), ("risks_libya", 0.1), ("emergency", 0.14)),
            Action.ACT,
        ),
        (
            result(("return_help", 0.7), ("a", 0.1), ("b", 0.09), ("emergency", 0.08)),
            Action.ACT,
        ),
    ],
)
def test_decide(nlu: NluResult, action: Action) -> None:
    assert decide(nlu, T) is action


def test_ranked_drops_the_fallback_pseudo_intent() -> None:
    nlu = result((RASA_FALLBACK_INTENT, 0.4), ("greet", 0.3), intent=RASA_FALLBACK_INTENT)
    assert ranked(nlu) == [("greet", 0.3)]
    assert not is_sure(nlu, ranked(nlu), T)
    assert not emergency_first(nlu, ranked(nlu), T)


def test_candidates_skip_unlikely_not_offered_and_unknown_intents() -> None:
    ranking = [
        ("risks_libya", 0.4),
        ("out_of_scope", 0.3),
        ("unknown_intent", 0.2),
        ("risks_sea", 0.15),
        ("smugglers", 0.12),
        ("documents", 0.11),
        ("greet", 0.05),
    ]
    known = {"risks_libya", "out_of_scope", "risks_sea", "smugglers", "documents", "greet"}
    assert candidates(ranking, T, known) == ["risks_libya", "risks_sea", "smugglers"]
    assert candidates(ranking, T) == ["risks_libya", "unknown_intent", "risks_sea"]
    assert candidates([("greet", 0.05)], T) == []
