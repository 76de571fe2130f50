"""The dialogue engine, driven through whole conversations on each database."""

from __future__ import annotations

import pytest

from bot.content.catalog import Catalog
from bot.content.store import ContentStore
from bot.dialogue.engine import Engine
from bot.dialogue.types import Inbound, Outcome, State
from bot.nlu.service import NluService
from bot.store import repositories as repo
from bot.store.db import Database
from tests.conftest import StubParser

USER = "1001"


def text(user: str, value: str, **kw: object) -> Inbound:
    return Inbound(user_id=user, text=value, **kw)  # type: ignore[arg-type]


def press(user: str, payload: str, **kw: object) -> Inbound:
    return Inbound(user_id=user, button=payload, **kw)  # type: ignore[arg-type]


def command(user: str, name: str, args: str = "", **kw: object) -> Inbound:
    return Inbound(user_id=user, command=name, args=args, **kw)  # type: ignore[arg-type]


def payloads(outcome: Outcome) -> list[str]:
    return [b.payload for r in outcome.replies for b in r.buttons]


async def onboard(engine: Engine, user: str = USER, lang: str = "fr") -> Outcome:
    await engine.handle(command(user, "start"))
    await engine.handle(press(user, f"lang:{lang}"))
    return await engine.handle(press(user, "consent:yes"))


async def stored_user(database: Database, user: str = USER) -> repo.UserRecord:
    async with database.transaction() as s:
        record = await repo.get_user(s, channel="console", external_id=user)
    assert record is not None
    return record


async def test_start_asks_language_and_keeps_deep_link_source(
    engine: Engine, database: Database, catalog: Catalog
) -> None:
    outcome = await engine.handle(command(USER, "start", "kayes_radio"))
    assert outcome.meta.state == State.CHOOSING_LANGUAGE
    assert outcome.replies[0].text == catalog.text("onboarding.welcome", "fr").text
    assert payloads(outcome) == [f"lang:{code}" for code in catalog.languages]
    assert (await stored_user(database)).acquisition_source == "kayes_radio"
    # A later link does not overwrite where the person first came from.
    await engine.handle(command(USER, "start", "poster_gao"))
    assert (await stored_user(database)).acquisition_source == "kayes_radio"


async def test_invalid_deep_link_payload_is_ignored(engine: Engine, database: Database) -> None:
    await engine.handle(command(USER, "start", "bad payload with spaces!"))
    assert (await stored_user(database)).acquisition_source is None


async def test_onboarding_in_bambara_then_menu(
    engine: Engine, database: Database, catalog: Catalog
) -> None:
    await engine.handle(command(USER, "start"))
    consent = await engine.handle(press(USER, "lang:bm"))
    assert consent.meta.state == State.CONSENT
    assert consent.meta.language == "bm"
    assert consent.replies[0].text == catalog.text("onboarding.consent", "bm").text
    assert payloads(consent) == ["consent:yes", "consent:no"]
    menu = await engine.handle(press(USER, "consent:yes"))
    assert menu.meta.state == State.MENU
    assert menu.replies[-1].text == catalog.text(catalog.menu.text, "bm").text
    user = await stored_user(database)
    assert user.language == "bm"
    assert user.consent is True and user.consent_at is not None


async def test_declining_consent_still_serves_but_unlinks_events(
    engine: Engine, database: Database, catalog: Catalog
) -> None:
    await engine.handle(command(USER, "start"))
    await engine.handle(press(USER, "lang:fr"))
    declined = await engine.handle(press(USER, "consent:no"))
    assert declined.replies[0].text == catalog.text("onboarding.consent_declined", "fr").text
    assert declined.meta.state == State.MENU
    user = await stored_user(database)
    assert user.consent is False
    async with database.transaction() as s:
        assert await repo.count_events(s, kind="inbound") >= 3


async def test_topic_navigation_next_back_menu(engine: Engine, catalog: Catalog) -> None:
    await onboard(engine)
    topic = next(iter(catalog.topics.values()))
    first = await engine.handle(press(USER, f"topic:{topic.id}"))
    assert first.meta.state == State.TOPIC and first.meta.topic == topic.id
    assert first.replies[0].text.startswith(catalog.text(topic.cards[0].text, "fr").text)
    assert f"card:{topic.id}:1" in payloads(first)
    assert f"card:{topic.id}:-1" not in payloads(first)
    second = await engine.handle(press(USER, f"card:{topic.id}:1"))
    assert second.replies[0].text.startswith(catalog.text(topic.cards[1].text, "fr").text)
    assert f"card:{topic.id}:0" in payloads(second)
    last_index = len(topic.cards) - 1
    last = await engine.handle(press(USER, f"card:{topic.id}:{last_index}"))
    assert catalog.text("topic.end", "fr").text in last.replies[0].text
    assert f"card:{topic.id}:{last_index + 1}" not in payloads(last)
    menu = await engine.handle(press(USER, "action:show_menu"))
    assert menu.meta.state == State.MENU


async def test_free_text_goes_through_nlu_to_the_intents_map(
    engine: Engine, stub_parser: StubParser, catalog: Catalog
) -> None:
    await onboard(engine)
    stub_parser.table["ko ka taa Libi"] = ("risks_libya", 0.93)
    outcome = await engine.handle(text(USER, "ko ka taa Libi"))
    assert outcome.meta.intent == "risks_libya"
    assert outcome.meta.confidence == pytest.approx(0.93)
    spec = catalog.intents["risks_libya"]
    if spec.reply:
        assert outcome.replies[0].text == catalog.text(spec.reply, "fr").text
    else:
        assert outcome.replies


async def test_low_confidence_asks_to_clarify_with_the_menu(
    engine: Engine, stub_parser: StubParser, catalog: Catalog
) -> None:
    await onboard(engine)
    stub_parser.table["hmm"] = ("risks_sea", 0.21)
    outcome = await engine.handle(text(USER, "hmm"))
    assert outcome.replies[0].text == catalog.text("clarify.prompt", "fr").text
    assert len(outcome.replies[0].buttons) == len(catalog.menu.items)


async def test_emergency_keyword_first_even_before_onboarding_and_with_nlu_down(
    engine: Engine, stub_parser: StubParser, catalog: Catalog
) -> None:
    stub_parser.down = True
    await engine.handle(command(USER, "start"))
    word = catalog.intents["emergency"].keywords["fr"][0]
    outcome = await engine.handle(text(USER, f"svp {word} !!"))
    assert outcome.meta.intent == "emergency"
    expected = catalog.text(catalog.intents["emergency"].reply or "", "fr").text
    assert outcome.replies[0].text == expected
    # Then the pending onboarding question again.
    assert any(p.startswith("lang:") for p in payloads(outcome))


async def test_nlu_down_falls_back_to_content_keywords(
    engine: Engine, stub_parser: StubParser, catalog: Catalog
) -> None:
    await onboard(engine)
    stub_parser.down = True
    greeting = catalog.intents["greet"].keywords["fr"][0]
    outcome = await engine.handle(text(USER, greeting))
    assert outcome.meta.intent == "greet"
    assert outcome.meta.nlu_source == "keywords"
    assert outcome.replies[0].text == catalog.text("intent.greet", "fr").text


async def test_state_survives_a_restart(
    engine: Engine, database: Database, content_store: ContentStore, catalog: Catalog
) -> None:
    await onboard(engine, lang="bm")
    topic = next(iter(catalog.topics.values()))
    await engine.handle(press(USER, f"topic:{topic.id}"))
    # A new engine on the same database: a restarted process.
    restarted = Engine(
        database=database,
        content=content_store.current,
        nlu=NluService(StubParser(), content_store.matcher),
    )
    outcome = await restarted.handle(text(USER, "?"))
    assert outcome.meta.language == "bm"
    async with database.transaction() as s:
        user = await repo.get_user(s, channel="console", external_id=USER)
        assert user is not None
        conversation = await repo.load_conversation(s, user_id=user.id)
    assert conversation is not None and conversation.topic == topic.id


async def test_duplicate_update_is_answered_once(engine: Engine) -> None:
    first = await engine.handle(command(USER, "start", update_id=77))
    again = await engine.handle(command(USER, "start", update_id=77))
    assert first.replies and not first.duplicate
    assert again.duplicate and again.replies == []


async def test_stale_or_forged_buttons_get_the_menu(engine: Engine, catalog: Catalog) -> None:
    await onboard(engine)
    for payload in ("card:nope:0", "card:sahara:999", "topic:unknown", "lang:xx", "garbage"):
        outcome = await engine.handle(press(USER, payload))
        assert outcome.replies[0].text == catalog.text("fallback.stale_button", "fr").text


async def test_commands_menu_help_language_stop(
    engine: Engine, database: Database, catalog: Catalog
) -> None:
    await onboard(engine)
    assert (await engine.handle(command(USER, "menu"))).meta.state == State.MENU
    help_reply = await engine.handle(command(USER, "help"))
    assert help_reply.replies[0].text == catalog.text("help.text", "fr").text
    language = await engine.handle(command(USER, "language"))
    assert payloads(language) == [f"lang:{code}" for code in catalog.languages]
    changed = await engine.handle(press(USER, "lang:bm"))
    assert changed.replies[0].text == catalog.text("language.changed", "bm").text
    stop = await engine.handle(command(USER, "stop"))
    assert stop.replies[0].text == catalog.text("unsubscribe.done", "bm").text
    assert (await stored_user(database)).subscribed is False


async def test_voice_location_and_other_media_get_a_helpful_reply(
    engine: Engine, catalog: Catalog
) -> None:
    await onboard(engine)
    voice = await engine.handle(Inbound(user_id=USER, voice=True))
    assert voice.replies[0].text == catalog.text("fallback.voice", "fr").text
    location = await engine.handle(Inbound(user_id=USER, location=(12.6, -8.0)))
    assert location.replies[0].text == catalog.text("fallback.location", "fr").text
    media = await engine.handle(Inbound(user_id=USER, media=True))
    assert media.replies[0].text == catalog.text("fallback.media", "fr").text


async def test_every_menu_item_and_intent_answers(engine: Engine, catalog: Catalog) -> None:
    await onboard(engine)
    for item in catalog.menu.items:
        from bot.content.catalog import payload_for

        outcome = await engine.handle(press(USER, payload_for(item)))
        assert outcome.replies and all(r.text for r in outcome.replies)
    for name in catalog.intents:
        outcome = await engine.handle(press(USER, f"intent:{name}"))
        assert outcome.replies and all(r.text for r in outcome.replies), name
