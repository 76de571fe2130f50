"""The figures of the evaluation: intent macro-F1, entities, fallbacks, decisions, language id.

Each held-out example is scored once per system (:data:`SYSTEMS`), per language group and
``overall``; Rasa's answers are also read through the bot's own decision rules
(``bot/dialogue/decision.py``). Pure functions over labels, no Rasa needed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from bot.dialogue.decision import Thresholds, candidates, decide, ranked
from bot.nlu.keywords import EMERGENCY_INTENT as EMERGENCY_GOLD
from bot.nlu.types import RASA_FALLBACK_INTENT, NluResult
from scripts.nlu_eval.data import NO_INTENT, OVERALL, Example, group_order

T = TypeVar("T")

#: Systems compared, in the order of the tables.
SYSTEMS = ("rasa", "tfidf_lr", "keywords")
BASELINES = ("tfidf_lr", "keywords")
#: Groups whose language the language identifier is scored on.
LANGID_GROUPS = ("fr", "bm")


@dataclass(frozen=True)
class RasaOutput:
    """What the report keeps of one Rasa parse."""

    intent: str  # best intent other than nlu_fallback; NO_INTENT if there is none
    fallback: bool  # Rasa's own answer was nlu_fallback
    confidence: float  # of ``intent``
    entities: tuple[tuple[str, str], ...] = ()
    ranking: tuple[tuple[str, float], ...] = ()
    # what the bot does with this answer under its default thresholds (decision.py)
    action: str = "act"
    offered: tuple[str, ...] = ()  # "did you mean" buttons when it asks


def rasa_output(result: NluResult) -> RasaOutput:
    thresholds = Thresholds()
    best = ranked(result)
    if best:
        intent, confidence = best[0]
    elif result.intent and result.intent != RASA_FALLBACK_INTENT:
        intent, confidence = result.intent, result.confidence
    else:
        intent, confidence = NO_INTENT, 0.0
    return RasaOutput(
        intent=intent,
        fallback=result.intent == RASA_FALLBACK_INTENT,
        confidence=confidence,
        entities=tuple((e.entity, e.value) for e in result.entities),
        ranking=tuple(best[:3]),
        action=decide(result, thresholds).value,
        offered=tuple(candidates(best, thresholds)),
    )


def canonical_entities(
    example: Example, synonyms: Mapping[str, str]
) -> tuple[tuple[str, str], ...]:
    """Gold (entity, value) pairs, values mapped through the synonyms as Rasa maps them."""
    return tuple((e.entity, synonyms.get(e.value.lower(), e.value)) for e in example.entities)


def intent_scores(gold: Sequence[str], predicted: Sequence[str]) -> dict[str, Any]:
    """Accuracy and macro-F1 over the gold labels present (other predictions are just wrong)."""
    # Imported here: scikit-learn takes seconds to load (see baselines.train_tfidf_lr).
    from sklearn.metrics import f1_score  # type: ignore[import-untyped]

    if len(gold) != len(predicted):
        raise ValueError("gold and predicted labels differ in length")
    if not gold:
        return {"accuracy": None, "macro_f1": None, "n": 0}
    correct = sum(g == p for g, p in zip(gold, predicted, strict=True))
    macro = f1_score(
        list(gold), list(predicted), labels=sorted(set(gold)), average="macro", zero_division=0
    )
    return {"accuracy": correct / len(gold), "macro_f1": float(macro), "n": len(gold)}


def _prf(tp: int, fp: int, fn: int) -> dict[str, Any]:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "support": tp + fn}


def entity_scores(
    gold: Sequence[Collection[tuple[str, str]]], predicted: Sequence[Collection[tuple[str, str]]]
) -> dict[str, Any]:
    """Micro precision/recall/F1 of exact (entity, value) matches per message, and per type."""
    if len(gold) != len(predicted):
        raise ValueError("gold and predicted entities differ in length")
    counts: dict[str, Counter[str]] = {}
    for gold_set, pred_set in zip(gold, predicted, strict=True):
        g, p = Counter(gold_set), Counter(pred_set)
        hit = g & p
        for key, n in hit.items():
            counts.setdefault(key[0], Counter())["tp"] += n
        for key, n in (p - hit).items():
            counts.setdefault(key[0], Counter())["fp"] += n
        for key, n in (g - hit).items():
            counts.setdefault(key[0], Counter())["fn"] += n
    total: Counter[str] = sum(counts.values(), Counter())
    scores = _prf(total["tp"], total["fp"], total["fn"])
    scores["by_type"] = {
        name: _prf(c["tp"], c["fp"], c["fn"]) for name, c in sorted(counts.items())
    }
    return scores


def fallback_rate(flags: Sequence[bool]) -> float | None:
    return sum(flags) / len(flags) if flags else None


def decision_scores(gold: Sequence[str], outputs: Sequence[RasaOutput]) -> dict[str, Any]:
    """What the bot does with Rasa's answers, as shares of the messages.

    ``acted_right`` / ``acted_wrong``: the bot answers the top intent and it is / is not the
    gold one (acting on a wrong intent is the costly mistake); ``asked``: it asks which
    intent was meant, ``asked_offering_gold`` of the messages (the gold intent is among
    the buttons); ``emergency``: emergency contacts first. ``emergency_recall`` is the
    share of gold emergencies put first, ``emergency_false`` the share of other messages
    put first (through Rasa alone; the bot also matches emergency keywords).
    """
    total = len(outputs)
    if not total:
        return {"count": 0}
    pairs = list(zip(gold, outputs, strict=True))
    emergencies = [o for g, o in pairs if g == EMERGENCY_GOLD]
    others = [o for g, o in pairs if g != EMERGENCY_GOLD]

    def share(n: int, of: int) -> float | None:
        return n / of if of else None

    return {
        "count": total,
        "acted_right": share(sum(o.action == "act" and o.intent == g for g, o in pairs), total),
        "acted_wrong": share(sum(o.action == "act" and o.intent != g for g, o in pairs), total),
        "asked": share(sum(o.action == "ask" for o in outputs), total),
        "asked_offering_gold": share(
            sum(o.action == "ask" and g in o.offered for g, o in pairs), total
        ),
        "emergency": share(sum(o.action == "emergency" for o in outputs), total),
        "emergency_recall": share(
            sum(o.action == "emergency" for o in emergencies), len(emergencies)
        ),
        "emergency_false": share(sum(o.action == "emergency" for o in others), len(others)),
    }


def langid_scores(language: str, guesses: Sequence[str | None]) -> dict[str, Any]:
    """Share of messages identified as ``language``; no guess (``None``) counts as wrong."""
    return {
        "accuracy": sum(g == language for g in guesses) / len(guesses) if guesses else None,
        "n": len(guesses),
        "undecided": sum(g is None for g in guesses),
        "confused_with": dict(Counter(g for g in guesses if g not in (language, None))),
    }


def with_overall(per_group: Mapping[str, Sequence[T]]) -> dict[str, list[T]]:
    """The groups, then ``overall``: all groups concatenated."""
    out = {name: list(items) for name, items in per_group.items()}
    out[OVERALL] = [item for items in per_group.values() for item in items]
    return out


@dataclass(frozen=True)
class Scored:
    """One held-out example with every system's answer."""

    group: str
    example: Example
    gold_entities: tuple[tuple[str, str], ...]
    rasa: RasaOutput
    tfidf_lr: str
    keywords: str
    language: str | None = None  # language identifier's guess

    def predicted(self, system: str) -> str:
        if system == "rasa":
            return self.rasa.intent
        value: str = getattr(self, system)
        return value


def compute_figures(scored: Sequence[Scored]) -> dict[str, Any]:
    """Intent, fallback, entity and language-id figures per group and overall."""
    groups = with_overall(
        {
            name: [s for s in scored if s.group == name]
            for name in group_order({s.group for s in scored})
        }
    )
    intent = {
        system: {
            name: intent_scores(
                [s.example.intent for s in items], [s.predicted(system) for s in items]
            )
            for name, items in groups.items()
        }
        for system in SYSTEMS
    }
    return {
        "intent": intent,
        "fallback_rate": {
            name: fallback_rate([s.rasa.fallback for s in items]) for name, items in groups.items()
        },
        "decisions": {
            name: decision_scores([s.example.intent for s in items], [s.rasa for s in items])
            for name, items in groups.items()
        },
        "entities": {
            name: entity_scores([s.gold_entities for s in items], [s.rasa.entities for s in items])
            for name, items in groups.items()
        },
        "language_id": {
            name: langid_scores(name, [s.language for s in groups[name]])
            for name in LANGID_GROUPS
            if name in groups
        },
    }


def collect_errors(scored: Sequence[Scored]) -> dict[str, list[dict[str, Any]]]:
    """Rasa's intent and entity mistakes on held-out examples, to improve the training data."""
    intents = [
        {
            "group": s.group,
            "text": s.example.text,
            "gold": s.example.intent,
            "predicted": s.rasa.intent,
            "confidence": round(s.rasa.confidence, 4),
            "fallback": s.rasa.fallback,
            "ranking": {name: round(conf, 4) for name, conf in s.rasa.ranking},
        }
        for s in scored
        if s.rasa.intent != s.example.intent
    ]
    entities = [
        {
            "group": s.group,
            "text": s.example.text,
            "gold": [list(e) for e in s.gold_entities],
            "predicted": [list(e) for e in s.rasa.entities],
        }
        for s in scored
        if Counter(s.gold_entities) != Counter(s.rasa.entities)
    ]
    key = lambda row: (row["group"], str(row["gold"]), row["text"])  # noqa: E731
    return {"intent": sorted(intents, key=key), "entities": sorted(entities, key=key)}
