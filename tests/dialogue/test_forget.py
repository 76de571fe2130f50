"""/forget: what erasing means, a confirmation, then nothing of the person is left."""

from __future__ import annotations

from bot.dialogue.engine import Engine
from bot.store.db import Database
from tests.support.conversation import command, onboard, payloads, press, stored_user, text
from tests.support.nlu import StubParser

USER = "4242"


async def test_forget_asks_first_and_no_keeps_everything(
    engine: Engine, database: Database
) -> None:
    catalog = engine.catalog()
    await onboard(engine, USER)
    asked = await engine.handle(command(USER, "forget"))
    assert asked.meta.messages == ["forget.explain"]
    assert payloads(asked) == ["forget:yes", "forget:no"]
    kept = await engine.handle(press(USER, "forget:no"))
    assert kept.replies[0].text == catalog.text("forget.kept", "fr").text
    assert (await stored_user(database, USER)).consent is True


async def test_yes_erases_and_the_person_starts_again_as_new(
    engine: Engine, database: Database
) -> None:
    await onboard(engine, USER, lang="bm")
    await engine.handle(command(USER, "forget"))
    done = await engine.handle(text(USER, "1"))  # the first button, typed
    assert done.meta.messages == ["forget.done"]
    assert done.meta.language == "bm" and done.user is None
    again = await engine.handle(text(USER, "i ni ce"))
    assert again.meta.state == "choosing_language"
    assert (await stored_user(database, USER)).consent is None


async def test_the_privacy_answer_offers_to_forget(engine: Engine, stub_parser: StubParser) -> None:
    await onboard(engine, USER)
    stub_parser.table["qui lit ce que j ecris"] = ("privacy_question", 0.95)
    answer = await engine.handle(text(USER, "qui lit ce que j ecris"))
    assert "action:forget" in payloads(answer)
    asked = await engine.handle(press(USER, "action:forget"))
    assert asked.meta.messages == ["forget.explain"]


async def test_a_forged_forget_payload_is_refused(engine: Engine) -> None:
    await onboard(engine, USER)
    refused = await engine.handle(press(USER, "forget:maybe"))
    assert "forget.done" not in refused.meta.messages
