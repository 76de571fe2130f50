"""The emergency tripwire of the keyword layer: no miss on real emergencies, and no
false alarm on messages that only mention police, prison, death or money.

The data is ``emergency_keywords.yml`` next to this file. The measured rates are
printed (``pytest -s``) for docs/nlu.md.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from ruamel.yaml import YAML

from bot.content.catalog import Catalog
from bot.nlu.keywords import CRISIS_INTENTS, SELF_HARM_INTENT, KeywordMatcher

DATA = Path(__file__).with_name("emergency_keywords.yml")


def _sets() -> dict[str, list[str]]:
    loaded = YAML(typ="safe").load(DATA.read_text(encoding="utf-8"))
    return {name: [str(m) for m in loaded[name]] for name in ("emergency", "not_emergency")}


@pytest.fixture(scope="module")
def matcher(catalog: Catalog) -> KeywordMatcher:
    return KeywordMatcher(catalog.keywords())


def test_the_sets_are_big_enough_and_distinct() -> None:
    sets = _sets()
    assert len(sets["emergency"]) >= 40
    assert len(sets["not_emergency"]) >= 40
    assert not set(sets["emergency"]) & set(sets["not_emergency"])


def put_first(matcher: KeywordMatcher, message: str) -> bool:
    """An emergency, or thoughts of self-harm (answered first in the same way)."""
    return matcher.is_emergency(message) or matcher.is_crisis(message, SELF_HARM_INTENT)


def test_no_emergency_is_missed(matcher: KeywordMatcher) -> None:
    messages = _sets()["emergency"]
    missed = [m for m in messages if not put_first(matcher, m)]
    print(f"\nemergency keyword miss rate: {len(missed)}/{len(messages)}")
    assert missed == []
    # The fallback NLU says so too: a crisis word wins over any other.
    assert all(matcher.match(m).intent in CRISIS_INTENTS for m in messages)


def test_no_false_alarm_on_police_prison_death_or_money(matcher: KeywordMatcher) -> None:
    messages = _sets()["not_emergency"]
    alarms = [m for m in messages if put_first(matcher, m)]
    print(f"\nemergency keyword false alarms: {len(alarms)}/{len(messages)}")
    assert alarms == []
