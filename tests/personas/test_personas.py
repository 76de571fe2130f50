"""The persona suite (issue 17, point 10): young people's conversations, played through
the real ``kunnafoni chat --json`` with the real Rasa model, checked step by step.

The persona files and the checks are described in ``tests/support/personas.py``;
``docs/conversation.md`` says what the suite is, how to run it and the latest results
(``python -m tests.personas.report`` writes them).

- The safety steps (emergencies, thoughts of self-harm) must all pass.
- Over all measured steps, at least ``PASS_RATE`` must pass; a failure prints every
  failing step (persona, step, input, expected vs got).
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pytest

from bot.content.catalog import Catalog
from tests.support.nlu import NEW_INTENTS
from tests.support.personas import (
    CHECK_KINDS,
    GROUPS,
    PASS_RATE,
    PersonaError,
    Summary,
    check,
    load_persona,
    persona_names,
    play_all,
)

#: Countries whose emergencies some persona lives through.
EMERGENCY_COUNTRIES = ("libya", "niger", "algeria", "tunisia", "mali")


# --- the persona files (no Rasa needed) -------------------------------------------------------


def test_there_are_enough_personas_in_every_language_group() -> None:
    personas = [load_persona(n) for n in persona_names()]
    assert len(personas) >= 60
    groups = Counter(p.group for p in personas)
    for group in ("fr", "bm", "mixed"):
        assert groups[group] >= 10, groups
    assert sum(groups[g] for g in GROUPS if g not in ("fr", "bm", "mixed")) >= 3, groups
    for persona in personas:
        assert persona.measured >= 1, f"{persona.name} measures nothing"


def _expected_values(kind: str) -> set[str]:
    values: set[str] = set()
    for name in persona_names():
        for step in load_persona(name).steps:
            value = step.expect.get(kind)
            if value is not None:
                values.update(value if isinstance(value, list) else [value])
    return values


def test_every_intent_is_asked_for(catalog: Catalog) -> None:
    expected = _expected_values("intent")
    assert set(NEW_INTENTS) <= set(catalog.intents), "an issue-17 intent is missing in content"
    missing = sorted(set(catalog.intents) - expected)
    assert not missing, f"no persona expects these intents: {missing}"


def test_emergencies_and_self_harm_are_safety_steps() -> None:
    countries: set[str] = set()
    for name in persona_names():
        for step in load_persona(name).steps:
            crisis = step.expect.get("intent") in ("emergency", "self_harm") or (
                "emergency_country" in step.expect
            )
            if crisis:
                assert step.safety, f"{name} step {step.number}: a crisis step must be safety"
            if "emergency_country" in step.expect:
                countries.add(step.expect["emergency_country"])
    assert set(EMERGENCY_COUNTRIES) <= countries, countries


def test_a_malformed_persona_is_refused(tmp_path: Path) -> None:
    cases = {
        "typo_in_check": "who: x\nlanguage: fr\nsteps:\n  - text: a\n    expect: {intnet: greet}\n",
        "two_inputs": "who: x\nlanguage: fr\nsteps:\n  - {text: a, press: 1}\n",
        "no_group": "who: x\nlanguage: en\nsteps:\n  - text: a\n",
        "empty_safety": "who: x\nlanguage: fr\nsteps:\n  - {text: a, safety: true}\n",
    }
    for name, body in cases.items():
        (tmp_path / f"{name}.yml").write_text(body, encoding="utf-8")
        with pytest.raises(PersonaError):
            load_persona(name, tmp_path)


def _answer(**meta: object) -> dict[str, object]:
    base: dict[str, object] = {
        "intent": None,
        "language": "fr",
        "state": "menu",
        "topic": None,
        "services": [],
        "messages": [],
    }
    text = str(meta.pop("text", ""))
    base.update(meta)
    return {"replies": [{"text": text, "buttons": []}], "meta": base}


def test_every_check_can_fail(catalog: Catalog) -> None:
    good_and_bad: dict[str, tuple[object, dict[str, object], dict[str, object]]] = {
        "intent": ("job_offer", _answer(intent="job_offer"), _answer(intent="nlu_fallback")),
        "state": ("menu", _answer(state="menu"), _answer(state="location")),
        "topic": ("sea", _answer(topic="sea"), _answer(topic="sahara")),
        "language": ("bm", _answer(language="bm"), _answer(language="fr")),
        "first": (
            "intent.self_harm",
            _answer(messages=["intent.self_harm"]),
            _answer(messages=["clarify.choose", "intent.self_harm"]),
        ),
        "shows": (
            ["topic.sea.*"],
            _answer(messages=["topic.sea.card2"]),
            _answer(messages=["topic.sahara.card2"]),
        ),
        "not_shows": (
            ["unsubscribe.done"],
            _answer(messages=["intent.feedback"]),
            _answer(messages=["intent.feedback", "unsubscribe.done"]),
        ),
        "understood": (
            True,
            _answer(messages=["intent.job_offer"]),
            _answer(messages=["clarify.choose"]),
        ),
        "no_place_question": (
            True,
            _answer(messages=["intent.documents"]),
            _answer(messages=["where.ask"]),
        ),
        "emergency_country": (
            "tunisia",
            _answer(
                messages=["emergency.abroad"],
                services=[{"id": "t", "reasons": ["covers:country:tunisia"]}],
            ),
            _answer(
                messages=["intent.emergency"],
                services=[{"id": "mali_emergency_lines", "reasons": ["national"]}],
            ),
        ),
        "services": (
            ["dgme"],
            _answer(services=[{"id": "dgme", "reasons": []}]),
            _answer(services=[{"id": "anpe", "reasons": []}]),
        ),
    }
    assert set(good_and_bad) == set(CHECK_KINDS)
    for kind, (expected, good, bad) in good_and_bad.items():
        assert check(kind, expected, good, catalog)[0], kind
        assert not check(kind, expected, bad, catalog)[0], kind


def test_an_emergency_abroad_without_numbers_must_name_the_country(catalog: Catalog) -> None:
    niger = catalog.text("country.niger", "fr").text
    named = _answer(messages=["emergency.no_number"], text=f"... ({niger}) ...")
    other = _answer(messages=["emergency.no_number"], text="... (Libye) ...")
    assert check("emergency_country", "niger", named, catalog)[0]
    assert not check("emergency_country", "niger", other, catalog)[0]
    mali = _answer(
        messages=["intent.emergency"],
        services=[{"id": "mali_emergency_lines", "reasons": ["national"]}],
    )
    assert check("emergency_country", "mali", mali, catalog)[0]
    assert not check("emergency_country", "niger", mali, catalog)[0]


# --- played against the real model -------------------------------------------------------------


@pytest.fixture(scope="module")
def played(rasa_server: tuple[str, str], catalog: Catalog) -> Summary:
    jobs = int(os.environ.get("KUNNAFONI_PERSONA_JOBS", "2"))
    return play_all(rasa=rasa_server, catalog=catalog, jobs=jobs)


@pytest.mark.rasa
def test_every_safety_step_passes(played: Summary) -> None:
    failing = played.hard_failures()
    assert not failing, "safety steps failing:\n" + "\n".join(r.describe() for r in failing)


@pytest.mark.rasa
def test_the_suite_passes_at_least_ninety_percent_of_its_steps(played: Summary) -> None:
    tally = played.step_tally
    failing = "\n".join(r.describe() for r in played.failures())
    assert tally.rate >= PASS_RATE, (
        f"{tally} steps pass, {PASS_RATE:.0%} needed; failing steps:\n{failing}"
    )
