"""The campaign report: what reached people, counted, never traced to a person."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.content.catalog import Catalog
from bot.dialogue.engine import Engine
from bot.disclosure import MIN_CELL, OTHER
from bot.store.analytics import build_report, render
from bot.store.db import Database
from bot.store.models import Event, User
from tests.support.conversation import command, onboard, press, text
from tests.support.nlu import StubParser


async def test_report_counts_users_messages_fallbacks_and_quizzes(
    engine: Engine, database: Database, catalog: Catalog, stub_parser: StubParser
) -> None:
    since = datetime.now(UTC) - timedelta(minutes=1)
    await engine.handle(command("1", "start", "radio_kayes"))
    await engine.handle(press("1", "lang:bm"))
    await engine.handle(press("1", "consent:yes"))
    await onboard(engine, "2", "fr")
    stub_parser.table["c quoi la libye"] = ("risks_libya", 0.95)
    await engine.handle(text("2", "c quoi la libye"))
    # A Soninke reader: most texts come from the fallback chain.
    await engine.handle(command("3", "start", "radio_kayes"))
    await engine.handle(press("3", "lang:snk"))
    await engine.handle(press("3", "consent:no"))
    await engine.handle(press("3", "topic:sahara"))
    topic = next(t for t in catalog.topics.values() if t.quiz)
    question = topic.quiz[0]
    right = next(i for i, a in enumerate(question.answers) if a.correct)
    await engine.handle(press("2", f"quiz:{topic.id}:{question.id}:{right}"))
    await engine.handle(press("3", f"quiz:{topic.id}:{question.id}:{1 - right}"))

    async with database.transaction() as session:
        report = await build_report(session, since=since)

    assert report.users_new == 3
    assert report.users_by_language == {"bm": 1, "fr": 1, "snk": 1}
    # Only who consented keeps a source; every link opened is counted, without anyone.
    assert report.users_by_source == {"radio_kayes": 1, "-": 2}
    assert report.links_by_source == {"radio_kayes": 2}
    assert report.intents == {"risks_libya": 1}
    assert report.inbound_by_kind["button"] >= 8
    card = catalog.topics["sahara"].cards[0].text
    served = {(row.key, row.language): row for row in report.served}
    # The Soninke reader got the Sahara card through the chain (bm), a counted fallback.
    assert served[(card, "bm")].fallbacks == 1
    assert served[("onboarding.welcome", "fr")].count == 3
    assert report.quiz[0].answers == 2 and report.quiz[0].correct == 1
    assert sum(report.served_by_version.values()) >= len(report.served)
    assert report.served_by_version.keys() == {catalog.version}
    # What leaves the program: no count from 1 to 4 (bot/disclosure.py).
    published = report.as_json()
    assert published["users_new"] == "<5"
    assert published["users_by_source"] == {OTHER: "<5"}
    assert published["quiz"][0]["answers"] == "<5" and published["quiz"][0]["share"] == "-"
    assert not small_counts(published)
    rendered = render(report)
    assert "New users: <5" in rendered
    assert f"New users by source (with consent): {OTHER} <5" in rendered
    # Deep links opened before consent: counted, and as small as the rest, hidden.
    assert f"Deep links opened by source: {OTHER} <5" in rendered
    assert "radio_kayes" not in rendered and not small_counts_in_text(rendered)
    # The three sends of the welcome are one hidden row among the others.
    assert "onboarding.welcome" not in rendered
    assert published["served"][-1]["key"] == OTHER


def small_counts(data: object) -> list[object]:
    """Every integer from 1 to 4 in a published report (every integer in it is a count)."""
    if isinstance(data, bool):
        return []
    if isinstance(data, int):
        return [data] if 1 <= data < MIN_CELL else []
    if isinstance(data, dict):
        return [n for value in data.values() for n in small_counts(value)]
    if isinstance(data, list):
        return [n for value in data for n in small_counts(value)]
    return []


def small_counts_in_text(rendered: str) -> list[str]:
    """Counts from 1 to 4 in the text report: a lone digit after a key, in a table cell."""
    found = []
    for line in rendered.splitlines():
        if line.startswith(("Since", "  ")):  # the period and the versions list: no counts
            continue
        found += re.findall(r"(?<![\w.:-])[1-4](?![\w.:%-])", line)
    return found


async def test_published_counts_are_rounded_and_small_ones_folded(database: Database) -> None:
    """Six people from one radio, two from another: 5 and one hidden line; the total
    less the lines shown is a multiple of 5, never the hidden 2."""
    async with database.transaction() as session:
        for i in range(8):
            source = "radio_kayes" if i < 6 else "poster_kati"
            session.add(
                User(
                    channel="telegram",
                    external_id=str(700 + i),
                    language="fr",
                    acquisition_source=source,
                )
            )
        await session.flush()
        report = await build_report(session, since=datetime.now(UTC) - timedelta(hours=2))
    assert report.users_by_source == {"radio_kayes": 6, "poster_kati": 2}
    published = report.as_json()
    assert published["users_new"] == 10  # 8, to the nearest 5
    assert published["users_by_source"] == {"radio_kayes": 5, OTHER: "<5"}
    assert published["users_by_language"] == {"fr": 10}
    assert not small_counts(published)
    rendered = render(report)
    assert "poster_kati" not in rendered and not small_counts_in_text(rendered)


async def test_an_empty_report_says_so(database: Database) -> None:
    async with database.transaction() as session:
        report = await build_report(session, since=datetime.now(UTC))
    assert report.users_new == 0 and report.served == [] and report.quiz == []
    assert "none" in render(report)


def test_cli_report_on_a_fresh_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from bot.cli import main

    url = f"sqlite:///{tmp_path / 'r.db'}"
    assert main(["db", "upgrade", "--db", url]) == 0
    assert main(["report", "--db", url, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["users_new"] == 0 and data["served"] == []
    assert main(["report", "--db", url, "--days", "7"]) == 0
    assert "New users: 0" in capsys.readouterr().out


async def test_the_report_counts_the_service_cards_shown(
    engine: Engine, database: Database, stub_parser: StubParser
) -> None:
    """How often each service card is shown, so the busiest entries are re-checked first;
    the events name the service only, never where the person is."""
    since = datetime.now(UTC) - timedelta(minutes=1)
    message = "je suis a agadez je veux rentrer"
    stub_parser.table[message] = ("return_help", 0.95)
    for user in ("11", "12", "13", "14", "15", "16"):
        await onboard(engine, user, "fr")
        await engine.handle(text(user, message))
    async with database.transaction() as session:
        report = await build_report(session, since=since)
        events = (
            await session.execute(select(Event.name, Event.data).where(Event.kind == "service"))
        ).all()
    assert report.services_shown["iom_niger_agadez"] == 6
    assert next(iter(report.services_shown)) == "iom_niger_agadez"
    assert all(data == {} for _name, data in events)
    rendered = render(report)
    # Published as every count is (bot/disclosure.py): rounded to 5.
    assert "Service cards shown: iom_niger_agadez 5" in rendered
    assert report.as_json()["services_shown"]["iom_niger_agadez"] == 5
