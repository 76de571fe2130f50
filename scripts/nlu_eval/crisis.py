"""Crises first: emergencies missed and false alarms, through the whole NLU path.

The bot answers an emergency or thoughts of self-harm before anything else
(``bot/dialogue/decision.py`` :func:`~bot.dialogue.decision.crisis_first`, on what
``bot/nlu/service.py`` understood: a crisis keyword wins over the model, otherwise the
model's answer). A missed emergency is the worst mistake the bot can make; a false alarm
(police numbers for "is this bot for the police?") is the next one. Three systems are
read through the same decision, with the default thresholds:

- ``keywords``: the keyword tripwire alone (the bot when Rasa is down);
- ``rasa``: the model alone;
- ``service``: what the bot really does with Rasa up: :class:`~bot.nlu.service.NluService`
  (crisis keywords first, then the model), then ``crisis_first``.

Sets: ``tests/nlu/emergency_keywords.yml`` (``emergency``: danger now, must be put first;
``not_emergency``: police, prison, death or money mentioned, no danger now, must not be)
and the held-out sets (gold ``emergency`` or ``self_harm`` against every other message).
Pure functions over parse results, no Rasa needed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from bot.dialogue.decision import Thresholds, crisis_first, ranked
from bot.nlu.keywords import CRISIS_INTENTS, KeywordMatcher
from bot.nlu.service import NluService
from bot.nlu.types import NluResult
from scripts.nlu_eval.data import ROOT
from scripts.nlu_eval.errors import ReportError

#: The emergency tripwire's sets, shared with ``tests/nlu/test_emergency_keywords.py``.
CRISIS_SETS = ROOT / "tests" / "nlu" / "emergency_keywords.yml"
#: Set name -> whether its messages must be put first.
SET_NAMES: Mapping[str, bool] = {"emergency": True, "not_emergency": False}
#: The held-out messages, split by gold intent (a crisis or not).
HELDOUT_CRISIS = "heldout_crisis"
HELDOUT_OTHER = "heldout_other"
CRISIS_SYSTEMS = ("keywords", "rasa", "service")


def load_crisis_sets(path: Path) -> dict[str, list[str]]:
    """``emergency`` and ``not_emergency`` messages of ``path``."""
    try:
        loaded = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
    except (OSError, YAMLError) as exc:
        raise ReportError(f"{path}: {exc}") from exc
    if not isinstance(loaded, dict) or any(
        not isinstance(loaded.get(name), list) for name in SET_NAMES
    ):
        raise ReportError(f"{path}: expected the lists {', '.join(SET_NAMES)}")
    return {name: [str(m) for m in loaded[name]] for name in SET_NAMES}


@dataclass(frozen=True)
class CrisisCase:
    """One message of a crisis set, as each system understood it."""

    set: str
    text: str
    must_be_first: bool
    keywords: NluResult
    rasa: NluResult
    service: NluResult

    def first(self, system: str, known: Collection[str]) -> str | None:
        """The crisis the bot would answer first, if any (``emergency`` or ``self_harm``)."""
        result: NluResult = getattr(self, system)
        return crisis_first(result, ranked(result), Thresholds(), known)


class _Replay:
    """An :class:`~bot.nlu.types.IntentParser` answering Rasa's recorded parses."""

    def __init__(self, answers: Mapping[str, NluResult]) -> None:
        self._answers = answers

    async def parse(self, text: str) -> NluResult:
        return self._answers[text]

    async def aclose(self) -> None:
        return None


def understood(
    texts: Sequence[str], rasa: Sequence[NluResult], matcher: KeywordMatcher
) -> list[NluResult]:
    """What the bot's :class:`NluService` makes of each text, given Rasa's parse of it."""
    service = NluService(_Replay(dict(zip(texts, rasa, strict=True))), lambda: matcher)

    async def parse_all() -> list[NluResult]:
        return [await service.parse(text) for text in texts]

    return asyncio.run(parse_all())


def crisis_cases(
    sets: Mapping[str, Sequence[tuple[str, bool]]],
    rasa: Mapping[str, NluResult],
    matcher: KeywordMatcher,
) -> list[CrisisCase]:
    """Every (text, must be first) of every set, with the three systems' answers.

    ``rasa`` maps each text to the model's parse of it.
    """
    rows = [(name, text, first) for name, items in sets.items() for text, first in items]
    texts = [text for _name, text, _first in rows]
    model = [rasa[text] for text in texts]
    service = understood(texts, model, matcher)
    return [
        CrisisCase(name, text, first, matcher.match(text), parsed, whole)
        for (name, text, first), parsed, whole in zip(rows, model, service, strict=True)
    ]


def crisis_scores(cases: Sequence[CrisisCase], known: Collection[str]) -> dict[str, Any]:
    """Per set and system: messages put first, and the mistakes (``wrong``, ``rate``): misses
    in a set that must be put first, false alarms in one that must not."""
    out: dict[str, Any] = {}
    for name in dict.fromkeys(c.set for c in cases):
        items = [c for c in cases if c.set == name]
        must = items[0].must_be_first
        scores: dict[str, Any] = {"n": len(items), "must_be_first": must}
        for system in CRISIS_SYSTEMS:
            first = sum(c.first(system, known) is not None for c in items)
            wrong = len(items) - first if must else first
            scores[system] = {"put_first": first, "wrong": wrong, "rate": wrong / len(items)}
        out[name] = scores
    return out


def crisis_errors(cases: Sequence[CrisisCase], known: Collection[str]) -> list[dict[str, Any]]:
    """The messages the whole path gets wrong, and those the model alone gets wrong."""
    rows = []
    for c in cases:
        wrong = {
            system: (c.first(system, known) is not None) != c.must_be_first
            for system in ("rasa", "service")
        }
        if any(wrong.values()):
            rows.append(
                {
                    "set": c.set,
                    "text": c.text,
                    "must_be_first": c.must_be_first,
                    "service_wrong": wrong["service"],
                    "rasa_wrong": wrong["rasa"],
                    "rasa_ranking": {n: round(conf, 4) for n, conf in ranked(c.rasa)[:3]},
                }
            )
    return rows


def heldout_items(gold: Sequence[tuple[str, str]]) -> dict[str, list[tuple[str, bool]]]:
    """(text, gold intent) of the held-out sets, split into crises and other messages."""
    crisis = [(text, True) for text, intent in gold if intent in CRISIS_INTENTS]
    other = [(text, False) for text, intent in gold if intent not in CRISIS_INTENTS]
    return {HELDOUT_CRISIS: crisis, HELDOUT_OTHER: other}
