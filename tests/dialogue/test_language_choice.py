"""The language (issue 17, point 7): named at any time it switches; before it is chosen,
free text gets the picker; a key-message language user is told once when a text fell
back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.content.catalog import Catalog
from bot.content.loader import ContentError, load_catalog
from bot.dialogue.engine import Engine
from bot.dialogue.typed import asked_language
from bot.dialogue.types import State
from bot.store import repositories as repo
from bot.store.db import Database
from tests.support.conversation import USER, command, onboard, payloads, press, stored_user, text
from tests.support.nlu import StubParser


async def stored_data(database: Database) -> dict[str, Any]:
    user = await stored_user(database)
    async with database.transaction() as session:
        conversation = await repo.load_conversation(session, user_id=user.id)
    assert conversation is not None
    return conversation.data


@pytest.mark.parametrize(
    ("message", "language"),
    [
        ("parle français", "fr"),
        ("en francais stp", "fr"),
        ("bamanankan na", "bm"),
        ("Bambara", "bm"),
        ("fulfulde tan", "ff"),
        ("mi faamaani bambara, fulfulde tan", "ff"),
        ("je comprends pas le bambara, parle français", "fr"),
        ("pas bambara mais français", "fr"),
        ("soninke", "snk"),
        ("songhay", "ses"),
        ("n b'a fɛ bamanankan na", "bm"),
        ("tu parles bambara ?", "bm"),
        ("i bɛ fulfulde mɛn wa?", "ff"),
    ],
)
def test_a_language_asked_by_name(catalog: Catalog, message: str, language: str) -> None:
    assert asked_language(catalog, message) == language


@pytest.mark.parametrize(
    "message",
    [
        "je veux apprendre le français pour partir en France",
        "parle pas français",
        "oui",
        "1",
        "le bambara c'est ma langue mais je vis a Paris",
        "",
    ],
)
def test_a_message_about_something_else_asks_for_no_language(
    catalog: Catalog, message: str
) -> None:
    assert asked_language(catalog, message) is None


async def test_naming_a_language_switches_to_it_at_any_time(
    engine: Engine, database: Database, catalog: Catalog, stub_parser: StubParser
) -> None:
    await onboard(engine, lang="bm")
    stub_parser.table["parle français"] = ("change_language", 0.9)
    changed = await engine.handle(text(USER, "parle français"))
    assert changed.meta.language == "fr"
    assert changed.replies[0].text == catalog.text("language.changed", "fr").text
    assert changed.meta.state == State.MENU
    await engine.handle(text(USER, "mi faamaani bambara, fulfulde tan"))
    assert (await stored_user(database)).language == "ff"
    await engine.handle(text(USER, "bamanankan na"))
    assert (await stored_user(database)).language == "bm"


async def test_naming_a_language_while_choosing_goes_on_with_onboarding(
    engine: Engine, catalog: Catalog
) -> None:
    await engine.handle(command(USER, "start"))
    consent = await engine.handle(text(USER, "en bambara"))
    assert consent.meta.state == State.CONSENT and consent.meta.language == "bm"
    assert consent.replies[0].text == catalog.text("onboarding.consent", "bm").text


async def test_free_text_before_a_language_gets_the_picker_not_a_module(
    engine: Engine, database: Database, catalog: Catalog, stub_parser: StubParser
) -> None:
    await engine.handle(command(USER, "start"))
    stub_parser.table["hahaha"] = ("risks_sahara", 0.9)
    outcome = await engine.handle(text(USER, "hahaha"))
    assert outcome.meta.topic is None
    assert outcome.meta.state == State.CHOOSING_LANGUAGE
    assert [r.text for r in outcome.replies] == [
        catalog.text("language.pick_first", outcome.meta.language).text
    ]
    assert payloads(outcome) == [f"lang:{code}" for code in catalog.languages]
    # The line is in French and in Bambara.
    line = catalog.text("language.pick_first", "fr").text
    assert line == catalog.text("language.pick_first", "bm").text
    assert (await stored_user(database)).language is None


async def test_an_emergency_before_a_language_still_comes_first(
    engine: Engine, catalog: Catalog, stub_parser: StubParser
) -> None:
    stub_parser.down = True
    word = catalog.intents["emergency"].keywords["fr"][0]
    outcome = await engine.handle(text(USER, word))
    reply = catalog.intents["emergency"].reply or ""
    assert outcome.replies[0].text == catalog.text(reply, "fr").text


async def test_a_fallback_is_said_once_to_a_key_message_language_user(
    engine: Engine, database: Database, catalog: Catalog
) -> None:
    # subscribe.ask is not a key message: Fulfulde falls back to Bambara for it.
    assert catalog.text("subscribe.ask", "ff").language == "bm"
    await engine.handle(command(USER, "start"))
    await engine.handle(press(USER, "lang:ff"))
    asked = await engine.handle(press(USER, "consent:yes"))
    note = catalog.text("language.fallback_note", "ff")
    assert note.language == "ff"
    expected = note.text.format(language=catalog.languages["bm"].name)
    assert asked.replies[-1].text == expected
    assert [b.payload for b in asked.replies[-1].buttons] == ["lang:bm", "lang:fr"]
    # The question itself is still there, above the note.
    assert "sub:yes" in payloads(asked)
    # Once in a conversation.
    for step in (press(USER, "sub:no"), press(USER, "topic:sahara")):
        again = await engine.handle(step)
        assert all(r.text != expected for r in again.replies)
    assert (await stored_data(database))["fallback_noted"] is True
    switched = await engine.handle(press(USER, "lang:bm"))
    assert switched.meta.language == "bm"


async def test_no_fallback_note_for_a_full_language(engine: Engine, catalog: Catalog) -> None:
    menu = await onboard(engine, lang="bm")
    note = catalog.text("language.fallback_note", "bm").text.partition("{")[0]
    assert all(not r.text.startswith(note) for r in menu.replies)


def test_a_name_given_to_two_languages_is_refused(content_copy: Path) -> None:
    path = content_copy / "languages.yml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("aliases: [peul,", "aliases: [bambara, peul,"), "utf-8")
    with pytest.raises(ContentError, match="'bambara' names both 'bm' and 'ff'"):
        load_catalog(content_copy)
