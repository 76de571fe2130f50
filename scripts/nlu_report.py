"""Train the Rasa NLU model and measure it on the held-out test sets, against two baselines.

Run from the repository root with the bot's environment (``./dev nlu-report`` does it)::

    .venv/bin/python scripts/nlu_report.py --rasa-bin .venv-rasa/bin/rasa [--out DIR] [--check]

Steps:

1. train a model from ``nlu/config.yml``, ``nlu/domain.yml`` and ``nlu/data`` into a
   temporary folder, timing it (Rasa's output goes to ``rasa-train.log`` in the output folder);
2. serve it with ``rasa run`` on a free loopback port with a random token and parse every
   held-out example through the bot's own :class:`~bot.nlu.rasa.RasaClient`;
3. score three systems on the same held-out examples, per language group (one group per
   ``nlu/tests/test_<group>.yml``) and overall: ``rasa`` (best intent other than
   ``nlu_fallback``; how often Rasa abstained is reported apart as the fallback rate), a
   ``tfidf_lr`` baseline (TF-IDF word and character n-grams + logistic regression, trained on
   the same training examples) and the ``keywords`` baseline (the bot's keyword triggers);
   plus Rasa's entity extraction, the bot's language identifier and the parse latency;
4. write ``report.json``, ``report.md``, ``confusion_matrix.png`` and ``errors.json``.

With ``--check`` the exit status is 1 when a target is missed (see :data:`INTENT_F1_TARGETS`,
:data:`MAX_TRAINING_SECONDS`, :data:`MAX_P95_MS`). Nothing leaves the loopback interface.

Parsing Rasa YAML, computing the figures, checking targets and rendering the report are pure
functions, tested in ``tests/test_nlu_report.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import hashlib
import json
import logging
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `bot` and `bench` live at the repository root
    sys.path.insert(0, str(ROOT))

from ruamel.yaml import YAML  # noqa: E402
from ruamel.yaml.error import YAMLError  # noqa: E402

from bot.dialogue.decision import Thresholds, candidates, decide, ranked  # noqa: E402
from bot.nlu.keywords import EMERGENCY_INTENT as EMERGENCY_GOLD  # noqa: E402
from bot.nlu.types import RASA_FALLBACK_INTENT, Entity, NluResult  # noqa: E402

logger = logging.getLogger("nlu_report")

T = TypeVar("T")

#: Systems compared, in the order of the tables.
SYSTEMS = ("rasa", "tfidf_lr", "keywords")
BASELINES = ("tfidf_lr", "keywords")
#: Groups shown first, in this order; any other ``test_<group>.yml`` follows alphabetically.
GROUP_ORDER = ("fr", "bm", "mixed")
OVERALL = "overall"
#: Label of "no prediction" (keyword baseline without a match, empty Rasa ranking).
NO_INTENT = "none"
#: Groups whose language the language identifier is scored on.
LANGID_GROUPS = ("fr", "bm")

#: Minimum Rasa intent macro-F1 per group.
INTENT_F1_TARGETS: Mapping[str, float] = {"fr": 0.92, "bm": 0.85, "mixed": 0.85}
MAX_TRAINING_SECONDS = 300.0
MAX_P95_MS = 50.0

STARTUP_SECONDS = 240.0
PARSE_TIMEOUT = 30.0
LOG_TAIL_LINES = 40


class ReportError(Exception):
    """The report cannot be produced; the message says why and what to look at."""


# --- Rasa YAML ----------------------------------------------------------------------------

# Same shapes as Rasa's own parser: [text](entity), [text](entity:value), [text]{json}.
_ENTITY_MARKUP = re.compile(
    r"\[(?P<text>[^\]]+?)\]"
    r"(?:\((?P<entity>[^:)]+?)(?::(?P<value>[^)]+))?\)|\{(?P<json>[^}]+?)\})"
)


@dataclass(frozen=True)
class Example:
    """One annotated example: plain text, intent, entities (value as annotated)."""

    text: str
    intent: str
    entities: tuple[Entity, ...] = ()
    lang: str | None = None


@dataclass
class NluData:
    examples: list[Example] = field(default_factory=list)
    #: Lower-cased spelling -> canonical value, as Rasa's EntitySynonymMapper applies it.
    synonyms: dict[str, str] = field(default_factory=dict)

    def extend(self, other: NluData) -> None:
        self.examples.extend(other.examples)
        self.synonyms.update(other.synonyms)


def parse_example(line: str) -> tuple[str, tuple[Entity, ...]]:
    """Strip entity markup from one example; return the text and its entities with offsets.

    ``[Libi]{"entity": "country", "value": "libya"}`` and ``[Kayes](place_ml)`` both become
    their surface text; an annotation without a value takes the surface text as value.
    """
    parts: list[str] = []
    entities: list[Entity] = []
    length, last = 0, 0
    for match in _ENTITY_MARKUP.finditer(line):
        before = line[last : match.start()]
        parts.append(before)
        length += len(before)
        surface = match.group("text")
        if match.group("json") is not None:
            try:
                spec = json.loads("{" + match.group("json") + "}")
            except json.JSONDecodeError as exc:
                raise ValueError(f"bad entity annotation in {line!r}: {exc}") from exc
            if not isinstance(spec, dict) or not spec.get("entity"):
                raise ValueError(f"entity annotation without 'entity' in {line!r}")
            name, value = str(spec["entity"]), str(spec.get("value", surface))
        else:
            name = match.group("entity").strip()
            value = (match.group("value") or surface).strip()
        entities.append(Entity(name, value, length, length + len(surface)))
        parts.append(surface)
        length += len(surface)
        last = match.end()
    parts.append(line[last:])
    return "".join(parts), tuple(entities)


def _example_lines(examples: object) -> Iterator[str]:
    """Example strings of a block: ``examples: |`` text, or a list of ``text:`` items."""
    if isinstance(examples, str):
        for raw in examples.splitlines():
            line = raw.strip()
            if line.startswith("-"):
                line = line[1:].strip()
                if line:
                    yield line
    elif isinstance(examples, list):
        for item in examples:
            text = item.get("text") if isinstance(item, dict) else item
            if isinstance(text, str) and text.strip():
                yield text.strip()


def parse_nlu_yaml(text: str, source: str = "<string>") -> NluData:
    """Intent examples and entity synonyms of one Rasa NLU YAML document.

    ``lookup:`` and ``regex:`` blocks are ignored; ``synonym:`` blocks only feed
    :attr:`NluData.synonyms`. ``metadata: {lang: xx}`` of an intent block tags its examples.
    """
    try:
        doc = YAML(typ="safe").load(text)
    except YAMLError as exc:
        raise ValueError(f"{source}: not valid YAML: {exc}") from exc
    data = NluData()
    if not isinstance(doc, dict):
        return data
    for block in doc.get("nlu") or []:
        if not isinstance(block, dict):
            continue
        if "synonym" in block:
            canonical = str(block["synonym"])
            for spelling in _example_lines(block.get("examples")):
                data.synonyms[spelling.lower()] = canonical
            continue
        if "intent" not in block:
            continue
        metadata = block.get("metadata")
        lang = metadata.get("lang") if isinstance(metadata, dict) else None
        for line in _example_lines(block.get("examples")):
            try:
                plain, entities = parse_example(line)
            except ValueError as exc:
                raise ValueError(f"{source}: {exc}") from exc
            for entity in entities:
                surface = plain[entity.start : entity.end]
                if entity.value != surface:  # Rasa learns these as synonyms too
                    data.synonyms.setdefault(surface.lower(), entity.value)
            data.examples.append(
                Example(plain, str(block["intent"]), entities, str(lang) if lang else None)
            )
    return data


def load_nlu_dir(path: Path) -> NluData:
    """Every ``*.yml`` under a folder of Rasa NLU data, merged."""
    data = NluData()
    for file in sorted(path.rglob("*.yml")):
        data.extend(parse_nlu_yaml(file.read_text(encoding="utf-8"), str(file)))
    return data


def group_order(names: Collection[str]) -> list[str]:
    known = [name for name in GROUP_ORDER if name in names]
    return known + sorted(set(names) - set(GROUP_ORDER))


def discover_groups(tests_dir: Path) -> dict[str, Path]:
    """``test_<group>.yml`` files of the held-out folder, by group, in report order."""
    found = {path.stem.removeprefix("test_"): path for path in tests_dir.glob("test_*.yml")}
    return {name: found[name] for name in group_order(found)}


# --- metrics ------------------------------------------------------------------------------


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


# --- targets ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    name: str
    value: float | None
    goal: str
    passed: bool
    detail: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": self.value,
            "goal": self.goal,
            "passed": self.passed,
            "detail": self.detail,
        }


def check_targets(report: Mapping[str, Any]) -> list[Target]:
    """Every target, passed or not; a figure that was not measured fails its target."""
    targets: list[Target] = []
    intent = report.get("intent", {})
    rasa = intent.get("rasa", {})
    for group, minimum in INTENT_F1_TARGETS.items():
        f1 = (rasa.get(group) or {}).get("macro_f1")
        name = f"rasa intent macro-F1 ({group})"
        if f1 is None:
            targets.append(Target(name, None, f">= {minimum:.2f}", False, "no held-out data"))
        else:
            targets.append(Target(name, f1, f">= {minimum:.2f}", f1 >= minimum))
    for group in report.get("groups", []):
        f1 = (rasa.get(group) or {}).get("macro_f1")
        rivals = {b: (intent.get(b, {}).get(group) or {}).get("macro_f1") for b in BASELINES}
        name = f"rasa beats baselines ({group})"
        if f1 is None or any(v is None for v in rivals.values()):
            targets.append(Target(name, f1, "> baselines", False, "not measured"))
            continue
        best = max(rivals, key=lambda b: rivals[b] or 0.0)
        best_f1 = rivals[best] or 0.0
        targets.append(Target(name, f1, f"> {best_f1:.3f} ({best})", f1 > best_f1))
    seconds = report.get("training_seconds")
    goal = f"< {MAX_TRAINING_SECONDS:.0f} s"
    if seconds is None:
        targets.append(Target("training time (s)", None, goal, False, "not measured"))
    else:
        targets.append(Target("training time (s)", seconds, goal, seconds < MAX_TRAINING_SECONDS))
    p95 = (report.get("latency_ms") or {}).get("p95")
    goal = f"<= {MAX_P95_MS:.0f} ms"
    if p95 is None:
        targets.append(Target("parse latency p95 (ms)", None, goal, False, "not measured"))
    else:
        targets.append(Target("parse latency p95 (ms)", p95, goal, p95 <= MAX_P95_MS))
    return targets


# --- rendering ----------------------------------------------------------------------------


def _num(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _digits(target_name: str) -> int:
    """Seconds and milliseconds to one decimal, scores to three."""
    return 1 if target_name.endswith(("(s)", "(ms)")) else 3


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f} %"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], align: str = "") -> str:
    """A GitHub table; ``align`` has one ``l`` or ``r`` per column (default: ``l`` then ``r``)."""
    align = align or "l" + "r" * (len(header) - 1)
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---:" if a == "r" else "---" for a in align) + "|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def render_markdown(report: Mapping[str, Any]) -> str:
    """``report.md``: one table per metric (rows: systems, columns: groups), then targets."""
    columns = [*report["groups"], OVERALL]
    intent = report["intent"]
    out = [
        "# NLU evaluation report",
        "",
        f"- date: {report['date']}",
        f"- Rasa {report['rasa_version']}, config `{report['config_sha256']}`,"
        f" NLU data `{report['nlu_hash']}`",
        f"- training time: {_num(report.get('training_seconds'), 1)} s",
        "- held-out sets written independently of the training data;"
        " `rasa` = best intent other than `nlu_fallback`",
        "",
        "## Examples",
        "",
        _table(
            ["", *columns],
            [
                ["train", *(str(report["train_examples"].get(c, 0)) for c in columns)],
                ["test", *(str(report["test_examples"].get(c, 0)) for c in columns)],
            ],
        ),
        "",
        "Training examples per group come from `metadata: {lang: ...}` of the intent blocks;"
        " `overall` counts all of them"
        + (
            f" ({report['train_examples']['untagged']} carry no `lang` tag)."
            if report["train_examples"].get("untagged")
            else "."
        ),
    ]
    for title, key in (("Intent macro-F1", "macro_f1"), ("Intent accuracy", "accuracy")):
        rows = [
            [system, *(_num((intent[system].get(c) or {}).get(key)) for c in columns)]
            for system in SYSTEMS
            if system in intent
        ]
        out += ["", f"## {title}", "", _table(["system", *columns], rows)]
    fallback = report["fallback_rate"]
    out += [
        "",
        "## Rasa fallback rate",
        "",
        "Share of messages where Rasa answered `nlu_fallback` (the bot then re-asks);"
        " the intent figures above use the best other intent of the ranking.",
        "",
        _table(["system", *columns], [["rasa", *(_pct(fallback.get(c)) for c in columns)]]),
    ]
    decisions = report.get("decisions") or {}
    decision_rows = [
        ("acts on the right intent", "acted_right"),
        ("acts on a wrong intent", "acted_wrong"),
        ("asks which intent", "asked"),
        ("asks, gold intent among the buttons", "asked_offering_gold"),
        ("emergency first", "emergency"),
        ("gold emergencies put first", "emergency_recall"),
        ("other messages put first as emergencies", "emergency_false"),
    ]
    out += [
        "",
        "## What the bot does with Rasa's answers",
        "",
        "The engine's own decision (`bot/dialogue/decision.py`, default thresholds: act at"
        " confidence >= 0.5 with a margin of 0.1 over the second intent, emergency first when"
        " it is among the three best at >= 0.15, otherwise ask with buttons). Shares of the"
        " messages; the emergency rows are shares of the gold emergencies and of the other"
        " messages. Rasa alone: the bot's emergency keywords would add to the recall.",
        "",
        _table(
            ["decision", *columns],
            [
                [label, *(_pct((decisions.get(c) or {}).get(key)) for c in columns)]
                for label, key in decision_rows
            ],
        ),
    ]
    entities = report["entities"]
    types = sorted({t for c in columns for t in (entities.get(c) or {}).get("by_type", {})})
    rows = [
        ["rasa F1", *(_num((entities.get(c) or {}).get("f1")) for c in columns)],
        ["rasa precision", *(_num((entities.get(c) or {}).get("precision")) for c in columns)],
        ["rasa recall", *(_num((entities.get(c) or {}).get("recall")) for c in columns)],
    ]
    for name in types:
        cells = []
        for c in columns:
            scores = (entities.get(c) or {}).get("by_type", {}).get(name)
            cells.append(f"{_num(scores['f1'])} ({scores['support']})" if scores else "n/a")
        rows.append([f"rasa F1 `{name}` (gold)", *cells])
    out += [
        "",
        "## Entities (exact entity and canonical value, micro-averaged)",
        "",
        _table(["system", *columns], rows),
    ]
    langid = report.get("language_id") or {}
    if langid:
        out += [
            "",
            "## Language identification accuracy",
            "",
            "The bot's language identifier on the held-out sets of one language;"
            " no guess counts as wrong.",
            "",
            _table(
                ["system", *langid],
                [["langid", *(_num(v.get("accuracy")) for v in langid.values())]],
            ),
        ]
    latency = report.get("latency_ms")
    if latency:
        out += [
            "",
            "## Parse latency (ms)",
            "",
            f"Through the bot's `RasaClient`, {latency['n']} parses"
            f" ({latency['rounds']} rounds over the held-out examples, after"
            f" {latency['warmup']} warm-up parses), concurrency {latency['concurrency']}.",
            "",
            _table(
                ["system", "p50", "p95", "p99", "max"],
                [["rasa", *(_num(latency[k], 1) for k in ("p50", "p95", "p99", "max"))]],
            ),
        ]
    targets = report.get("targets") or []
    out += [
        "",
        "## Targets",
        "",
        _table(
            ["target", "value", "goal", "result"],
            [
                [
                    t["name"],
                    _num(t["value"], _digits(t["name"])),
                    t["goal"],
                    "pass" if t["passed"] else f"**FAIL** {t['detail']}".rstrip(),
                ]
                for t in targets
            ],
            align="lrll",
        ),
        "",
        "## Confusion matrix (rasa, all groups)",
        "",
        "![confusion matrix](confusion_matrix.png)",
        "",
    ]
    return "\n".join(out)


def plot_confusion(
    gold: Sequence[str], predicted: Sequence[str], labels: Sequence[str], path: Path
) -> None:
    """Counts, coloured by share of the gold row; labels rotated so 24+ intents stay legible."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    seen = set(gold) | set(predicted)
    names = [label for label in labels if label in seen] + sorted(seen - set(labels))
    index = {name: i for i, name in enumerate(names)}
    matrix = np.zeros((len(names), len(names)), dtype=int)
    for g, p in zip(gold, predicted, strict=True):
        matrix[index[g], index[p]] += 1
    rows = matrix.sum(axis=1, keepdims=True)
    share = np.divide(matrix, rows, out=np.zeros(matrix.shape), where=rows > 0)
    size = max(8.0, 0.5 * len(names) + 3)
    fig, ax = plt.subplots(figsize=(size + 1.5, size))
    image = ax.imshow(share, cmap="Blues", vmin=0.0, vmax=1.0)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of the gold intent")
    ticks = range(len(names))
    ax.set_xticks(ticks, labels=names, rotation=60, ha="right", rotation_mode="anchor")
    ax.set_yticks(ticks, labels=names)
    ax.set_xlabel("predicted intent")
    ax.set_ylabel("gold intent")
    ax.set_title(f"Rasa intents on the held-out examples (n={len(gold)})")
    for i in range(len(names)):
        for j in range(len(names)):
            if matrix[i, j]:
                colour = "white" if share[i, j] > 0.5 else "black"
                ax.text(j, i, str(matrix[i, j]), ha="center", va="center", color=colour, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# --- baselines ----------------------------------------------------------------------------


def train_tfidf_lr(texts: Sequence[str], labels: Sequence[str]) -> Any:
    """TF-IDF word 1-2-grams + char_wb 1-4-grams, logistic regression."""
    from sklearn.feature_extraction.text import (  # type: ignore[import-untyped]
        TfidfVectorizer,
    )
    from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]
    from sklearn.pipeline import FeatureUnion, Pipeline  # type: ignore[import-untyped]

    features = FeatureUnion(
        [
            ("word", TfidfVectorizer(analyzer="word", ngram_range=(1, 2), lowercase=True)),
            ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 4), lowercase=True)),
        ]
    )
    model = Pipeline([("features", features), ("lr", LogisticRegression(max_iter=2000, C=10.0))])
    model.fit(list(texts), list(labels))
    return model


def keyword_predictions(texts: Sequence[str], content_dir: Path) -> list[str]:
    from bot.content.loader import load_catalog
    from bot.nlu.keywords import KeywordMatcher

    matcher = KeywordMatcher(load_catalog(content_dir).keywords())
    return [matcher.match(text).intent or NO_INTENT for text in texts]


def language_guesses(texts: Sequence[str], content_dir: Path, nlu_data: Path) -> list[str | None]:
    from bot.nlu.langid import build_identifier

    identifier = build_identifier(content_dir, nlu_data)
    return [identifier.predict(text).language for text in texts]


# --- Rasa processes -----------------------------------------------------------------------


def rasa_env() -> dict[str, str]:
    return {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2"}


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    """The last lines of a Rasa log, without the noise our readiness polls cause."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    kept = [line for line in text.splitlines() if "No agent loaded" not in line]
    return "\n".join(kept[-lines:])


def file_hash(paths: Sequence[Path], root: Path) -> str:
    """Like ``./dev``: sha256 of the ``sha256sum`` lines of the files, sorted by path."""
    lines = []
    for path in sorted(paths, key=lambda p: p.relative_to(root).as_posix().encode()):
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        lines.append(f"{digest}  {path.relative_to(root).as_posix()}\n")
    return hashlib.sha256("".join(lines).encode()).hexdigest()[:16]


def train_model(
    rasa_bin: Path,
    nlu_dir: Path,
    out_dir: Path,
    log_path: Path,
    *,
    config: Path | None = None,
    data: Path | None = None,
) -> tuple[Path, float]:
    """``rasa train nlu`` into ``out_dir`` (its cache there too); the model and the seconds.

    ``config`` and ``data`` default to ``nlu_dir/config.yml`` and ``nlu_dir/data``
    (cross-validation passes a variant's config and one fold's training data).
    """
    command = [
        str(rasa_bin), "train", "nlu",
        "--config", str(config or nlu_dir / "config.yml"),
        "--nlu", str(data or nlu_dir / "data"),
        "--domain", str(nlu_dir / "domain.yml"),
        "--out", str(out_dir),
        "--fixed-model-name", "kunnafoni-nlu",
    ]  # fmt: skip
    logger.info("training the Rasa model (log: %s)", log_path)
    start = time.monotonic()
    with log_path.open("w", encoding="utf-8") as log:
        result = subprocess.run(
            command, stdout=log, stderr=subprocess.STDOUT, cwd=out_dir, env=rasa_env(), check=False
        )
    seconds = time.monotonic() - start
    model = out_dir / "kunnafoni-nlu.tar.gz"
    if result.returncode != 0 or not model.exists():
        raise ReportError(
            f"rasa train failed (exit {result.returncode});"
            f" end of {log_path}:\n{log_tail(log_path)}"
        )
    logger.info("trained in %.1f s", seconds)
    return model, seconds


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RasaServer:
    """``rasa run`` on loopback with a random token; a context manager that always stops it."""

    def __init__(self, rasa_bin: Path, model: Path, log_path: Path, workdir: Path) -> None:
        self.rasa_bin, self.model, self.log_path, self.workdir = rasa_bin, model, log_path, workdir
        self.port = free_port()
        self.token = secrets.token_hex(24)  # never starts with "-", unlike token_urlsafe
        self.url = f"http://127.0.0.1:{self.port}"
        self._proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> RasaServer:
        command = [
            str(self.rasa_bin), "run", "--enable-api", "--auth-token", self.token,
            "-i", "127.0.0.1", "-p", str(self.port), "--model", str(self.model),
        ]  # fmt: skip
        logger.info("starting the Rasa server on %s (log: %s)", self.url, self.log_path)
        with self.log_path.open("w", encoding="utf-8") as log:
            self._proc = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, cwd=self.workdir, env=rasa_env()
            )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _wait_ready(self) -> None:
        import httpx

        assert self._proc is not None
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            if self._proc.poll() is not None:
                raise ReportError(
                    f"the Rasa server exited with {self._proc.returncode};"
                    f" end of {self.log_path}:\n{log_tail(self.log_path)}"
                )
            try:
                status = httpx.get(f"{self.url}/status", params={"token": self.token}, timeout=2)
                if status.status_code == 200 and status.json().get("model_file"):
                    logger.info("Rasa server ready")
                    return
            except (httpx.HTTPError, ValueError):
                status = None
            # Rasa loads the model before it serves; 409 "no agent" means loading failed.
            if status is not None and status.status_code == 409:
                raise ReportError(
                    f"the Rasa server could not load {self.model};"
                    f" end of {self.log_path}:\n{log_tail(self.log_path)}"
                )
            if time.monotonic() > deadline:
                raise ReportError(
                    f"the Rasa server did not answer in {STARTUP_SECONDS:.0f} s;"
                    f" end of {self.log_path}:\n{log_tail(self.log_path)}"
                )
            time.sleep(1)

    def version(self) -> str:
        import httpx

        try:
            body = httpx.get(f"{self.url}/version", params={"token": self.token}, timeout=5).json()
            return str(body.get("version") or "unknown")
        except (httpx.HTTPError, ValueError):
            return "unknown"

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        logger.info("stopping the Rasa server")
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def parse_with_rasa(
    url: str, token: str, texts: Sequence[str], *, latency_rounds: int, concurrency: int = 1
) -> tuple[list[RasaOutput], dict[str, Any] | None]:
    """Every text through the bot's RasaClient, then the latency benchmark on the same texts."""
    from bench.nlu_latency import measure
    from bot.nlu.rasa import RasaClient
    from bot.nlu.types import NluUnavailable

    client = RasaClient(url, token, timeout=PARSE_TIMEOUT)
    try:
        outputs = []
        for i, text in enumerate(texts, 1):
            try:
                outputs.append(rasa_output(await client.parse(text)))
            except NluUnavailable as exc:
                raise ReportError(f"parse of held-out example {i} failed: {exc}") from exc
            if i % 100 == 0:
                logger.info("parsed %d/%d held-out examples", i, len(texts))
        latency = None
        if latency_rounds > 0:
            logger.info("measuring parse latency (%d rounds)", latency_rounds)
            latency = await measure(
                client, texts, rounds=latency_rounds, warmup=20, concurrency=concurrency
            )
        return outputs, latency
    finally:
        await client.aclose()


# --- the run ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Paths:
    nlu_dir: Path
    tests_dir: Path
    content_dir: Path
    out_dir: Path


def load_heldout(tests_dir: Path) -> dict[str, list[Example]]:
    if not tests_dir.is_dir():
        raise ReportError(f"held-out folder {tests_dir} not found")
    files = discover_groups(tests_dir)
    if not files:
        raise ReportError(
            f"no held-out test set in {tests_dir}: expected test_<group>.yml files"
            f" ({', '.join(f'test_{g}.yml' for g in GROUP_ORDER)})"
        )
    missing = [g for g in GROUP_ORDER if g not in files]
    if missing:
        logger.warning("no held-out file for group(s) %s", ", ".join(missing))
    groups = {}
    for name, path in files.items():
        try:
            examples = parse_nlu_yaml(path.read_text(encoding="utf-8"), str(path)).examples
        except ValueError as exc:
            raise ReportError(str(exc)) from exc
        if not examples:
            raise ReportError(f"{path} holds no intent example")
        groups[name] = examples
        logger.info("held-out group %s: %d examples (%s)", name, len(examples), path.name)
    return groups


def train_counts(train: Sequence[Example], groups: Sequence[str]) -> dict[str, int]:
    by_lang = Counter(example.lang or "untagged" for example in train)
    counts = {name: by_lang.get(name, 0) for name in groups}
    counts.update({lang: n for lang, n in by_lang.items() if lang not in counts})
    counts[OVERALL] = len(train)
    return counts


def domain_intents(domain: Path) -> list[str]:
    doc = YAML(typ="safe").load(domain.read_text(encoding="utf-8"))
    return [str(i) if not isinstance(i, dict) else str(next(iter(i))) for i in doc["intents"]]


def run(args: argparse.Namespace, paths: Paths) -> dict[str, Any]:
    heldout = load_heldout(paths.tests_dir)
    try:
        training = load_nlu_dir(paths.nlu_dir / "data")
    except ValueError as exc:
        raise ReportError(str(exc)) from exc
    if not training.examples:
        raise ReportError(f"no training example in {paths.nlu_dir / 'data'}")
    logger.info("%d training examples", len(training.examples))
    items = [(name, ex) for name, examples in heldout.items() for ex in examples]
    texts = [ex.text for _name, ex in items]

    # Baselines first: cheap, and a broken one fails before a long training.
    logger.info("training the tfidf_lr baseline")
    baseline = train_tfidf_lr(
        [ex.text for ex in training.examples], [ex.intent for ex in training.examples]
    )
    tfidf = [str(label) for label in baseline.predict(texts)]
    keywords = keyword_predictions(texts, paths.content_dir)
    languages = language_guesses(texts, paths.content_dir, paths.nlu_dir / "data")

    paths.out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="nlu-report-") as tmp:
        workdir = Path(tmp)
        if args.model:
            model, seconds = Path(args.model).resolve(), None
            logger.warning("using %s: training time is not measured", model)
        else:
            model, seconds = train_model(
                args.rasa_bin, paths.nlu_dir, workdir, paths.out_dir / "rasa-train.log"
            )
        with RasaServer(args.rasa_bin, model, paths.out_dir / "rasa-server.log", workdir) as server:
            version = server.version()
            outputs, latency = asyncio.run(
                parse_with_rasa(server.url, server.token, texts, latency_rounds=args.latency_rounds)
            )

    scored = [
        Scored(name, ex, canonical_entities(ex, training.synonyms), out, tf, kw, lang)
        for (name, ex), out, tf, kw, lang in zip(
            items, outputs, tfidf, keywords, languages, strict=True
        )
    ]
    groups = list(heldout)
    report: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        "rasa_version": version,
        "config_sha256": file_hash([paths.nlu_dir / "config.yml"], paths.nlu_dir.parent),
        "nlu_hash": nlu_hash(paths.nlu_dir),
        "training_seconds": seconds,
        "groups": groups,
        "train_examples": train_counts(training.examples, groups),
        "test_examples": {**{g: len(heldout[g]) for g in groups}, OVERALL: len(items)},
        **compute_figures(scored),
        "latency_ms": latency,
    }
    report["targets"] = [t.as_json() for t in check_targets(report)]
    write_outputs(report, scored, domain_intents(paths.nlu_dir / "domain.yml"), paths.out_dir)
    return report


def nlu_hash(nlu_dir: Path) -> str:
    """The hash ``./dev`` names models after (config, domain, requirements, data, components)."""
    files = [nlu_dir / "config.yml", nlu_dir / "domain.yml", nlu_dir / "requirements.txt"]
    for folder in ("data", "kunnafoni_nlu"):
        files += [p for p in (nlu_dir / folder).rglob("*") if p.is_file() and p.suffix != ".pyc"]
    return file_hash([p for p in files if p.exists()], nlu_dir.parent)


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


def write_outputs(
    report: Mapping[str, Any], scored: Sequence[Scored], labels: Sequence[str], out_dir: Path
) -> None:
    (out_dir / "report.json").write_text(
        json.dumps(_rounded(report), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    (out_dir / "report.md").write_text(render_markdown(report), encoding="utf-8")
    (out_dir / "errors.json").write_text(
        json.dumps(collect_errors(scored), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    plot_confusion(
        [s.example.intent for s in scored],
        [s.rasa.intent for s in scored],
        labels,
        out_dir / "confusion_matrix.png",
    )
    logger.info("wrote report.json, report.md, errors.json, confusion_matrix.png in %s", out_dir)


def log_summary(report: Mapping[str, Any]) -> None:
    columns = [*report["groups"], OVERALL]
    for system in SYSTEMS:
        logger.info(
            "%-9s macro-F1 %s",
            system,
            "  ".join(f"{c}={_num(report['intent'][system][c]['macro_f1'])}" for c in columns),
        )
    logger.info(
        "rasa fallback rate %s",
        "  ".join(f"{c}={_pct(report['fallback_rate'][c])}" for c in columns),
    )
    for target in report["targets"]:
        logger.log(
            logging.INFO if target["passed"] else logging.WARNING,
            "%s %s: %s (goal %s)%s",
            "PASS" if target["passed"] else "FAIL",
            target["name"],
            _num(target["value"], _digits(target["name"])),
            target["goal"],
            f" - {target['detail']}" if target["detail"] and not target["passed"] else "",
        )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--rasa-bin", type=Path, required=True, help="the rasa executable")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "nlu" / "reports", help="output folder (nlu/reports)"
    )
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    parser.add_argument("--tests", type=Path, default=None, help="held-out folder (nlu/tests)")
    parser.add_argument(
        "--latency-rounds", type=int, default=3, help="rounds over the held-out set (0: skip)"
    )
    parser.add_argument(
        "--model", default=None, help="evaluate this trained model instead of training one"
    )
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser.parse_args(argv)


def _exit_on_sigterm(signum: int, _frame: object) -> None:
    # SystemExit unwinds through the finally blocks that stop the Rasa server.
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
        datefmt="%H:%M:%S",
    )
    for noisy in ("httpx", "httpcore", "matplotlib"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    args.rasa_bin = args.rasa_bin.absolute()
    if not args.rasa_bin.exists():
        logger.error("rasa executable %s not found (run ./dev setup)", args.rasa_bin)
        return 2
    nlu_dir = ROOT / "nlu"
    paths = Paths(
        nlu_dir=nlu_dir,
        tests_dir=(args.tests or nlu_dir / "tests").resolve(),
        content_dir=ROOT / "content",
        out_dir=args.out.resolve(),
    )
    try:
        report = run(args, paths)
    except ReportError as exc:
        logger.error("%s", exc)
        return 2
    log_summary(report)
    failed = [t["name"] for t in report["targets"] if not t["passed"]]
    if args.check and failed:
        logger.error("%d target(s) missed: %s", len(failed), "; ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
