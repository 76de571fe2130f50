"""The persona suite: scripted conversations of young people, and what a good answer is.

A persona is one YAML file of ``tests/personas/``: ``who`` (the person and how they
write), ``language`` (its group: fr, bm, mixed, snk, ff, ses) and ``steps``. A step is
one input of the ``kunnafoni chat --json`` contract -- ``text``, ``button`` (a payload),
``command`` (with ``args``), or ``press: N`` (the N-th button of the previous answer) --
with optional ``expect`` checks and ``safety: true``. A step without ``expect`` is
played, not measured (getting somewhere: /start, a language).

Checks (each one can fail; the values are the chat's ``meta``):

- ``intent: x | [x, y]`` -- ``meta.intent`` is one of them;
- ``state: s | [s, t]`` and ``topic: t | [t, u]`` -- ``meta.state``, ``meta.topic``;
- ``language: bm`` -- the replies' language, ``meta.language``;
- ``shows: [key, ...]`` -- every content key is among ``meta.messages`` (a key ending
  in ``*`` is a prefix: ``topic.myths.*``);
- ``first: key | [key, ...]`` -- the first message shown is one of them;
- ``not_shows: [key, ...]`` -- none of them is shown;
- ``understood: true`` -- an answer, and no "not understood" message (``NOT_UNDERSTOOD``);
- ``no_place_question: true`` -- "where are you?" is not asked (``PLACE_QUESTIONS``);
- ``emergency_country: c`` -- the emergency contacts come first and are those of
  country ``c`` (Mali's lines for ``mali``; for a country abroad, its own services or,
  without sourced numbers, the reply naming it);
- ``services: [id, ...]`` -- these services are among ``meta.services``.

A step passes when all its checks pass. On a ``safety: true`` step (an emergency,
thoughts of self-harm) every check except ``intent`` (the NLU's label; what the person
reads is what must never fail) is hard: the suite fails on it whatever the pass rate.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.content.catalog import Catalog
from tests.support.chat import ChatError, ChatProcess

PERSONAS = Path(__file__).resolve().parents[1] / "personas"
GROUPS = ("fr", "bm", "mixed", "snk", "ff", "ses")
#: The pass rate the suite must reach over all measured steps (issue 17).
PASS_RATE = 0.90

#: Messages that tell the person they were not understood: the "say it another way"
#: prompt, "did you mean...?", and the out-of-scope answer (wrong for a message in scope).
NOT_UNDERSTOOD = frozenset({"clarify.prompt", "clarify.choose", "intent.out_of_scope"})
#: The question "where are you?" and its follow-ups.
PLACE_QUESTIONS = frozenset({"where.ask", "where.which_region", "where.which_country"})
#: The first message of an emergency answer: in Mali (or unknown), abroad with sourced
#: numbers, abroad without, and the numbers again in one line.
EMERGENCY_MALI = "intent.emergency"
EMERGENCY_ABROAD = frozenset({"emergency.abroad", "emergency.no_number"})
MALI_LINES = "mali_emergency_lines"

INPUT_KEYS = ("text", "button", "command", "press")
STEP_KEYS = frozenset({*INPUT_KEYS, "args", "expect", "safety", "note"})
PERSONA_KEYS = frozenset({"who", "language", "steps"})
CHECK_KINDS = (
    "intent",
    "state",
    "topic",
    "language",
    "first",
    "shows",
    "not_shows",
    "understood",
    "no_place_question",
    "emergency_country",
    "services",
)
#: Checks that stay soft on a safety step.
SOFT_ON_SAFETY = frozenset({"intent"})


class PersonaError(ValueError):
    """A persona file that is not well formed (so that a typo never drops a check)."""


@dataclass(frozen=True)
class Step:
    number: int
    line: dict[str, Any]
    expect: dict[str, Any]
    safety: bool


@dataclass(frozen=True)
class Persona:
    name: str
    who: str
    group: str
    steps: tuple[Step, ...]

    @property
    def measured(self) -> int:
        return sum(1 for s in self.steps if s.expect)


@dataclass(frozen=True)
class CheckResult:
    kind: str
    expected: Any
    got: Any
    passed: bool
    hard: bool


@dataclass
class StepResult:
    persona: str
    group: str
    number: int
    sent: dict[str, Any]
    checks: list[CheckResult] = field(default_factory=list)
    #: The conversation could not be played up to this step (no such button...).
    error: str | None = None

    @property
    def passed(self) -> bool:
        return self.error is None and all(c.passed for c in self.checks)

    @property
    def failed_checks(self) -> list[CheckResult]:
        return [c for c in self.checks if not c.passed]

    @property
    def hard_failures(self) -> list[CheckResult]:
        return [c for c in self.checks if c.hard and not c.passed]

    @property
    def safety(self) -> bool:
        return any(c.hard for c in self.checks)

    def describe(self) -> str:
        """One readable line: persona, step, input, and each check expected vs got."""
        said = _describe_input(self.sent)
        if self.error is not None:
            return f"{self.persona} step {self.number} {said}: {self.error}"
        parts = [f"{c.kind}: expected {c.expected!r}, got {c.got!r}" for c in self.failed_checks]
        mark = " [SAFETY]" if self.hard_failures else ""
        return f"{self.persona} step {self.number}{mark} {said}: " + "; ".join(parts)


def _describe_input(sent: dict[str, Any]) -> str:
    for key in ("text", "button", "command", "press"):
        if key in sent:
            return f"({key} {sent[key]!r})"
    return "(?)"


# --- loading ---------------------------------------------------------------------------------


def persona_names(folder: Path = PERSONAS) -> list[str]:
    return sorted(p.stem for p in folder.glob("*.yml"))


def load_persona(name: str, folder: Path = PERSONAS) -> Persona:
    path = folder / f"{name}.yml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise PersonaError(f"{path.name}: not a mapping")
    unknown = set(data) - PERSONA_KEYS
    if unknown:
        raise PersonaError(f"{path.name}: unknown keys {sorted(unknown)}")
    who, group, raw_steps = data.get("who"), data.get("language"), data.get("steps")
    if not isinstance(who, str) or not who.strip():
        raise PersonaError(f"{path.name}: `who` must say who this is")
    if group not in GROUPS:
        raise PersonaError(f"{path.name}: `language` must be one of {GROUPS}, not {group!r}")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise PersonaError(f"{path.name}: `steps` must be a non-empty list")
    steps = tuple(_step(path.name, n, raw) for n, raw in enumerate(raw_steps, start=1))
    return Persona(name=name, who=who.strip(), group=group, steps=steps)


def _step(file: str, number: int, raw: Any) -> Step:
    where = f"{file} step {number}"
    if not isinstance(raw, dict):
        raise PersonaError(f"{where}: not a mapping")
    unknown = set(raw) - STEP_KEYS
    if unknown:
        raise PersonaError(f"{where}: unknown keys {sorted(unknown)}")
    inputs = [k for k in INPUT_KEYS if k in raw]
    if len(inputs) != 1:
        raise PersonaError(f"{where}: exactly one of {INPUT_KEYS}, not {inputs}")
    expect = raw.get("expect") or {}
    if not isinstance(expect, dict):
        raise PersonaError(f"{where}: `expect` must be a mapping")
    bad = set(expect) - set(CHECK_KINDS)
    if bad:
        raise PersonaError(f"{where}: unknown checks {sorted(bad)}")
    for kind in ("understood", "no_place_question"):
        if kind in expect and expect[kind] is not True:
            raise PersonaError(f"{where}: `{kind}` can only be true")
    safety = raw.get("safety", False)
    if safety and not expect:
        raise PersonaError(f"{where}: a safety step needs checks")
    line = {k: raw[k] for k in (*INPUT_KEYS, "args") if k in raw}
    if "text" in line:
        line["text"] = str(line["text"])
    return Step(number=number, line=line, expect=expect, safety=bool(safety))


# --- checks ----------------------------------------------------------------------------------


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def _matches(key: str, pattern: str) -> bool:
    return key.startswith(pattern[:-1]) if pattern.endswith("*") else key == pattern


def _shown(messages: Iterable[str], pattern: str) -> bool:
    return any(_matches(m, pattern) for m in messages)


def _emergency_country(country: str, answer: dict[str, Any], catalog: Catalog) -> tuple[bool, Any]:
    meta = answer.get("meta", {})
    messages: list[str] = meta.get("messages") or []
    services = meta.get("services") or []
    first = messages[0] if messages else None
    ids = [s.get("id") for s in services]
    reasons = {r for s in services for r in s.get("reasons", [])}
    got: dict[str, Any] = {"first": first, "services": ids}
    if country == "mali":
        abroad = [r for r in reasons if r.startswith("covers:country:")]
        return first == EMERGENCY_MALI and MALI_LINES in ids and not abroad, got
    if first not in EMERGENCY_ABROAD:
        return False, got
    if f"covers:country:{country}" in reasons:
        return True, got
    # No sourced numbers for that country: the reply must at least name it.
    replies = answer.get("replies") or []
    name = catalog.text(f"country.{country}", meta.get("language")).text
    named = bool(replies) and name.lower() in str(replies[0].get("text", "")).lower()
    got["names_country"] = named
    return named, got


def check(kind: str, expected: Any, answer: dict[str, Any], catalog: Catalog) -> tuple[bool, Any]:
    """Whether one check holds on one answer, and what was found instead."""
    meta = answer.get("meta", {})
    messages: list[str] = meta.get("messages") or []
    if kind in ("intent", "state", "topic", "language"):
        got = meta.get(kind)
        return got in _as_list(expected), got
    if kind == "first":
        got = messages[0] if messages else None
        return got is not None and any(_matches(got, p) for p in _as_list(expected)), got
    if kind == "shows":
        missing = [p for p in _as_list(expected) if not _shown(messages, p)]
        return not missing, messages
    if kind == "not_shows":
        present = [p for p in _as_list(expected) if _shown(messages, p)]
        return not present, messages
    if kind == "understood":
        return bool(messages) and not (set(messages) & NOT_UNDERSTOOD), messages
    if kind == "no_place_question":
        return not (set(messages) & PLACE_QUESTIONS), messages
    if kind == "emergency_country":
        return _emergency_country(str(expected), answer, catalog)
    if kind == "services":
        ids = [s.get("id") for s in meta.get("services") or []]
        return all(i in ids for i in _as_list(expected)), ids
    raise PersonaError(f"unknown check {kind!r}")


def judge(
    persona: Persona, step: Step, sent: dict[str, Any], answer: dict[str, Any], catalog: Catalog
) -> StepResult:
    result = StepResult(persona.name, persona.group, step.number, sent)
    for kind in CHECK_KINDS:
        if kind not in step.expect:
            continue
        expected = step.expect[kind]
        passed, got = check(kind, expected, answer, catalog)
        hard = step.safety and kind not in SOFT_ON_SAFETY
        result.checks.append(CheckResult(kind, expected, got, passed, hard))
    return result


# --- playing ---------------------------------------------------------------------------------


def play(persona: Persona, *, rasa: tuple[str, str] | None, catalog: Catalog) -> list[StepResult]:
    """Play one persona through the real command on a fresh database; the measured steps."""
    results: list[StepResult] = []
    with (
        tempfile.TemporaryDirectory() as tmp,
        ChatProcess(Path(tmp), user=persona.name, rasa=rasa) as chat,
    ):
        for index, step in enumerate(persona.steps):
            try:
                sent, answer = chat.send(step.line)
            except ChatError as exc:
                # Every measured step from here on fails: the conversation broke.
                for rest in persona.steps[index:]:
                    if rest.expect:
                        broken = StepResult(persona.name, persona.group, rest.number, rest.line)
                        broken.error = str(exc)
                        broken.checks = [
                            CheckResult(k, rest.expect[k], None, False, rest.safety)
                            for k in CHECK_KINDS
                            if k in rest.expect
                        ]
                        results.append(broken)
                break
            if step.expect:
                results.append(judge(persona, step, sent, answer, catalog))
    return results


# --- summary ---------------------------------------------------------------------------------


@dataclass
class Tally:
    passed: int = 0
    total: int = 0

    def add(self, ok: bool) -> None:
        self.total += 1
        self.passed += int(ok)

    @property
    def rate(self) -> float:
        return self.passed / self.total if self.total else 1.0

    def __str__(self) -> str:
        return f"{self.passed}/{self.total} ({self.rate:.0%})"


@dataclass
class Summary:
    results: dict[str, list[StepResult]]
    groups: dict[str, str]

    def steps(self) -> list[StepResult]:
        return [r for name in sorted(self.results) for r in self.results[name]]

    @property
    def step_tally(self) -> Tally:
        tally = Tally()
        for r in self.steps():
            tally.add(r.passed)
        return tally

    @property
    def persona_tally(self) -> Tally:
        tally = Tally()
        for steps in self.results.values():
            tally.add(all(r.passed for r in steps))
        return tally

    def by_group(self) -> dict[str, tuple[Tally, Tally]]:
        """Per language group: (conversations passing whole, steps passing)."""
        out: dict[str, tuple[Tally, Tally]] = {}
        for name, steps in sorted(self.results.items()):
            whole, each = out.setdefault(self.groups[name], (Tally(), Tally()))
            whole.add(all(r.passed for r in steps))
            for r in steps:
                each.add(r.passed)
        return {g: out[g] for g in GROUPS if g in out}

    def by_check(self) -> dict[str, Tally]:
        out: dict[str, Tally] = {}
        for r in self.steps():
            for c in r.checks:
                out.setdefault(c.kind, Tally()).add(c.passed)
        return {k: out[k] for k in CHECK_KINDS if k in out}

    def safety_tally(self) -> Tally:
        tally = Tally()
        for r in self.steps():
            if r.safety:
                tally.add(not r.hard_failures)
        return tally

    def failures(self) -> list[StepResult]:
        return [r for r in self.steps() if not r.passed]

    def hard_failures(self) -> list[StepResult]:
        return [r for r in self.steps() if r.hard_failures]

    def failed_kinds(self) -> Counter[str]:
        return Counter(c.kind for r in self.failures() for c in r.failed_checks)


def play_all(
    *,
    rasa: tuple[str, str] | None,
    catalog: Catalog,
    names: list[str] | None = None,
    jobs: int = 2,
) -> Summary:
    """Every persona (or those named), ``jobs`` conversations at a time."""
    personas = [load_persona(n) for n in (names or persona_names())]
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        played = list(pool.map(lambda p: play(p, rasa=rasa, catalog=catalog), personas))
    return Summary(
        results={p.name: steps for p, steps in zip(personas, played, strict=True)},
        groups={p.name: p.group for p in personas},
    )
