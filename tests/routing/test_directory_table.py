"""Where do I go, here, now? The services a young person is shown for what they write:
need x place x language, in French, Bambara and both mixed (directory_cases.yml).

Each case is a real conversation through the engine: onboarding in the person's
language, then their message. The intent is given (the NLU is measured on its own);
the place comes from the message, as the bot reads it. The services shown first must
be the expected ones, in order, and every card must be one the directory can stand
behind (sourced, with a contact or its nearest office).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import count
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from bot.content.catalog import Catalog
from bot.dialogue.engine import Engine
from bot.dialogue.types import Outcome
from tests.support.conversation import onboard, text
from tests.support.nlu import StubParser

CASES_FILE = Path(__file__).with_name("directory_cases.yml")


@dataclass(frozen=True)
class Case:
    says: str
    language: str
    written: str
    intent: str
    first: list[str]
    before: list[str] = field(default_factory=list)


def load_cases() -> list[Case]:
    data = YAML(typ="safe").load(CASES_FILE.read_text(encoding="utf-8"))
    return [Case(**case) for case in data["cases"]]


CASES = load_cases()
_users = count(50_000)


def service_ids(outcome: Outcome) -> list[str]:
    return [str(s["id"]) for s in outcome.meta.services]


def test_the_table_is_large_and_in_every_way_people_write() -> None:
    assert len(CASES) >= 40
    written = {case.written for case in CASES}
    assert written == {"fr", "bm", "mixed"}
    for kind in written:
        assert sum(case.written == kind for case in CASES) >= 10, kind
    assert all(case.first for case in CASES), "every case names the services expected"


@pytest.mark.parametrize("case", CASES, ids=[f"{c.written}:{c.says[:40]}" for c in CASES])
async def test_the_nearest_relevant_services_come_first(
    engine: Engine, stub_parser: StubParser, catalog: Catalog, case: Case
) -> None:
    user = str(next(_users))
    await onboard(engine, user, lang=case.language)
    for message in case.before:
        await engine.handle(text(user, message))
    stub_parser.table[case.says] = (case.intent, 0.95)
    outcome = await engine.handle(text(user, case.says))
    shown = service_ids(outcome)
    assert shown[: len(case.first)] == case.first, (case.says, shown)
    assert 1 <= len(shown) <= 3
    for service_id in shown:
        service = catalog.services[service_id]
        assert service.sources
        assert service.contacts.reachable or service.nearest is not None
