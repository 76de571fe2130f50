"""The targets the Rasa model must meet (``--check``), judged on the report's figures."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from scripts.nlu_eval.metrics import BASELINES

#: Minimum Rasa intent macro-F1 per group.
INTENT_F1_TARGETS: Mapping[str, float] = {"fr": 0.92, "bm": 0.85, "mixed": 0.85}
MAX_TRAINING_SECONDS = 300.0
#: Sequential parse latency, through the bot's client (:mod:`scripts.nlu_eval.latency`).
MAX_P95_MS = 50.0
#: Sets whose messages must all be put first by the whole NLU path (scripts.nlu_eval.crisis).
CRISIS_MUST_SETS = ("emergency", "heldout_crisis")


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
    sets = (report.get("crisis") or {}).get("sets") or {}
    name, goal = "crisis misses, whole NLU path (messages)", "= 0"
    if any(s not in sets for s in CRISIS_MUST_SETS):
        targets.append(Target(name, None, goal, False, "not measured"))
    else:
        misses = [sets[s]["service"]["wrong"] for s in CRISIS_MUST_SETS]
        detail = ", ".join(
            f"{s} {m}/{sets[s]['n']}" for s, m in zip(CRISIS_MUST_SETS, misses, strict=True)
        )
        targets.append(Target(name, float(sum(misses)), goal, sum(misses) == 0, detail))
    p95 = (report.get("latency_ms") or {}).get("p95")
    goal = f"<= {MAX_P95_MS:.0f} ms"
    if p95 is None:
        targets.append(Target("parse latency p95 (ms)", None, goal, False, "not measured"))
    else:
        targets.append(Target("parse latency p95 (ms)", p95, goal, p95 <= MAX_P95_MS))
    return targets
