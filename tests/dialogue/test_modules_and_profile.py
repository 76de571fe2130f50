"""Modules asked about again continue where the user was; a parent is never asked their
age; a remembered card or button from an older version loads (issue 17, point 9)."""

from __future__ import annotations

from bot.content.catalog import Catalog
from bot.dialogue.engine import Engine
from bot.dialogue.memory import Memory, Screen, ShownButton
from bot.dialogue.types import State
from bot.store.db import Database
from tests.support.conversation import USER, command, onboard, payloads, press, stored_user, text
from tests.support.nlu import StubParser


async def test_asking_again_about_a_module_continues_at_the_card_last_seen(
    engine: Engine, stub_parser: StubParser, catalog: Catalog
) -> None:
    await onboard(engine)
    stub_parser.table["c quoi les passeurs"] = ("smugglers", 0.9)
    first = await engine.handle(text(USER, "c quoi les passeurs"))
    assert first.meta.topic == "smugglers"
    await engine.handle(press(USER, "card:smugglers:1"))
    await engine.handle(press(USER, "card:smugglers:2"))
    await engine.handle(command(USER, "menu"))
    stub_parser.table["et le credit des passeurs ?"] = ("smugglers", 0.9)
    again = await engine.handle(text(USER, "et le credit des passeurs ?"))
    card = catalog.topics["smugglers"].cards[2]
    assert again.replies[0].text.startswith(catalog.text(card.text, "fr").text)
    assert "card:smugglers:1" in payloads(again)  # its own buttons: back...
    assert again.meta.state == State.TOPIC and again.meta.topic == "smugglers"
    # The same through an intent button ("did you mean").
    await engine.handle(command(USER, "menu"))
    pressed = await engine.handle(press(USER, "intent:smugglers"))
    assert pressed.replies[0].text == again.replies[0].text


async def test_the_menu_button_still_opens_a_module_at_its_start(
    engine: Engine, catalog: Catalog
) -> None:
    await onboard(engine)
    await engine.handle(press(USER, "topic:sahara"))
    await engine.handle(press(USER, "card:sahara:1"))
    opened = await engine.handle(press(USER, "topic:sahara"))
    first = catalog.topics["sahara"].cards[0]
    assert opened.replies[0].text.startswith(catalog.text(first.text, "fr").text)


async def test_a_parent_is_never_asked_their_age(
    engine: Engine, database: Database, catalog: Catalog
) -> None:
    await engine.handle(command(USER, "start"))
    await engine.handle(press(USER, "lang:fr"))
    await engine.handle(press(USER, "consent:yes"))
    asked = await engine.handle(press(USER, "sub:yes"))
    parent = next(b for b in asked.replies[-1].buttons if b.payload == "sit:parent")
    assert parent.label == catalog.text("subscribe.situation_parent", "fr").text
    done = await engine.handle(press(USER, "sit:parent"))
    assert done.replies[0].text == catalog.text("subscribe.thanks", "fr").text
    assert not any(p.startswith(("age:", "sit:")) for p in payloads(done))
    user = await stored_user(database)
    assert (user.situation, user.age_bracket) == ("parent", None)
    # Asked again later (/subscribe after /stop): still no age question.
    await engine.handle(command(USER, "stop"))
    again = await engine.handle(command(USER, "subscribe"))
    assert not any(p.startswith("age:") for p in payloads(again))


def test_the_screen_round_trips_and_odd_shapes_load() -> None:
    data = {
        "buttons": [{"label": "🏠 Menu", "payload": "action:show_menu"}],
        "fallback_noted": True,
        "cards": {"sahara": 2},
    }
    memory = Memory.from_data(data)
    assert memory.screen == Screen(
        [ShownButton("🏠 Menu", "action:show_menu")], True, {"sahara": 2}
    )
    assert memory.to_data(data) == data
    odd = Memory.from_data({"buttons": "x", "cards": {"sahara": "2", "sea": -1}})
    assert odd.screen == Screen()
    assert Memory.from_data({"buttons": [{"label": 1}]}).screen.buttons == []
