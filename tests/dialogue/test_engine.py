"""The dialogue engine, driven through whole conversations on each database."""

from __future__ import annotations

import pytest

from bot.content.catalog import Catalog
from bot.content.store import ContentStore
from bot.dialogue.engine import COMMANDS, Engine
from bot.dialogue.types import Inbound, State
from bot.nlu.service import NluService
from bot.nlu.types import Entity, NluResult, NluSource
from bot.store import consent as consent_repo
from bot.store import repositories as repo
from bot.store.db import Database
from tests.support.conversation import (
    USER,
    command,
    help_intro,
    onboard,
    payloads,
    press,
    stored_user,
    text,
)
from tests.support.nlu import StubParser


async def test_start_asks_language_and_keeps_deep_link_source_once_consented(
    engine: Engine, database: Database, catalog: Catalog
) -> None:
    outcome = await engine.handle(command(USER, "start", "kayes_radio"))
    assert outcome.meta.state == State.CHOOSING_LANGUAGE
    assert outcome.replies[0].text == catalog.text("onboarding.welcome", "fr").text
    assert payloads(outcome) == [f"lang:{code}" for code in catalog.languages]
    # Not with the person before they consent (tests/dialogue/test_consent.py).
    assert (await stored_user(database)).acquisition_source is None
    # A later link does not overwrite where the person first came from.
    await engine.handle(command(USER, "start", "poster_gao"))
    await engine.handle(press(USER, "lang:fr"))
    await engine.handle(press(USER, "consent:yes"))
    assert (await stored_user(database)).acquisition_source == "kayes_radio"
    await engine.handle(command(USER, "start", "poster_gao"))
    assert (await stored_user(database)).acquisition_source == "kayes_radio"


async def test_invalid_deep_link_payload_is_ignored(engine: Engine, database: Database) -> None:
    await engine.handle(command(USER, "start", "bad payload with spaces!"))
    await engine.handle(press(USER, "lang:fr"))
    await engine.handle(press(USER, "consent:yes"))
    assert (await stored_user(database)).acquisition_source is None
    async with database.transaction() as session:
        assert await consent_repo.acquisition_counts(session) == {}


async def test_onboarding_in_bambara_then_menu(
    engine: Engine, database: Database, catalog: Catalog
) -> None:
    await engine.handle(command(USER, "start"))
    consent = await engine.handle(press(USER, "lang:bm"))
    assert consent.meta.state == State.CONSENT
    assert consent.meta.language == "bm"
    assert consent.replies[0].text == catalog.text("onboarding.consent", "bm").text
    assert payloads(consent) == ["consent:yes", "consent:no"]
    asked = await engine.handle(press(USER, "consent:yes"))
    assert asked.replies[0].text == catalog.text("onboarding.consent_thanks", "bm").text
    # Then the campaign-messages question: two buttons, nothing chosen for the user.
    assert asked.meta.state == State.SUBSCRIBE
    assert asked.replies[-1].text == catalog.text("subscribe.ask", "bm").text
    assert payloads(asked) == ["sub:yes", "sub:no"]
    user = await stored_user(database)
    assert user.language == "bm"
    assert user.consent is True and user.consent_at is not None
    assert user.subscribed is False
    menu = await engine.handle(press(USER, "sub:no"))
    assert menu.meta.state == State.MENU
    assert menu.replies[-1].text == catalog.text(catalog.menu.text, "bm").text


async def test_declining_consent_still_serves_but_unlinks_events(
    engine: Engine, database: Database, catalog: Catalog
) -> None:
    await engine.handle(command(USER, "start"))
    await engine.handle(press(USER, "lang:fr"))
    declined = await engine.handle(press(USER, "consent:no"))
    assert declined.replies[0].text == catalog.text("onboarding.consent_declined", "fr").text
    # Campaign messages are a separate question, asked without data consent too.
    assert declined.meta.state == State.SUBSCRIBE
    assert payloads(declined) == ["sub:yes", "sub:no"]
    menu = await engine.handle(press(USER, "sub:no"))
    assert menu.meta.state == State.MENU
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
    # No onboarding question in the middle of the emergency (issue 17) ...
    assert not any(p.startswith(("lang:", "consent:")) for p in payloads(outcome))
    # ... it comes back with the next message that is not one.
    later = await engine.handle(text(USER, "merci"))
    assert any(p.startswith("lang:") for p in payloads(later))


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
    for payload in (
        "card:nope:0",
        "card:sahara:999",
        "topic:unknown",
        "lang:xx",
        "garbage",
        "quiz:sahara:q1:\u00b2",
        "card:sahara:\u00b2",
    ):
        outcome = await engine.handle(press(USER, payload))
        assert outcome.replies[0].text == catalog.text("fallback.stale_button", "fr").text


async def test_help_lists_every_command_in_the_users_language(
    engine: Engine, catalog: Catalog
) -> None:
    await onboard(engine, USER, "bm")
    text = (await engine.handle(command(USER, "help"))).replies[0].text
    intro = help_intro(catalog, "bm")
    assert text.startswith(intro) and "{" not in text
    lines = text[len(intro) :].splitlines()
    assert lines == [f"/{name} : {catalog.text(f'command.{name}', 'bm').text}" for name in COMMANDS]
    assert "/mycases" in text and "/subscribe" in text
    # Bambara's own descriptions, not the French ones
    assert catalog.text("command.mycases", "bm").language == "bm"
    assert catalog.text("command.mycases", "fr").text not in text


async def test_commands_menu_help_language_stop(
    engine: Engine, database: Database, catalog: Catalog
) -> None:
    await onboard(engine)
    assert (await engine.handle(command(USER, "menu"))).meta.state == State.MENU
    help_reply = await engine.handle(command(USER, "help"))
    assert help_reply.replies[0].text.startswith(help_intro(catalog, "fr"))
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
    # In the middle of the Atlantic: no known town within reach.
    location = await engine.handle(Inbound(user_id=USER, location=(0.0, -30.0)))
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


def parse(text: str, ranking: list[tuple[str, float]], **kw: object) -> NluResult:
    return NluResult(
        text=text,
        intent=ranking[0][0],
        confidence=ranking[0][1],
        source=NluSource.RASA,
        ranking=tuple(ranking),
        **kw,
    )  # type: ignore[arg-type]


async def test_close_intents_are_offered_as_buttons(
    engine: Engine, stub_parser: StubParser, catalog: Catalog
) -> None:
    await onboard(engine)
    stub_parser.table["je veux revenir"] = parse(
        "je veux revenir", [("return_help", 0.46), ("reintegration", 0.41), ("documents", 0.05)]
    )
    outcome = await engine.handle(text(USER, "je veux revenir"))
    assert outcome.replies[0].text == catalog.text("clarify.choose", "fr").text
    assert payloads(outcome)[:2] == ["intent:return_help", "intent:reintegration"]
    assert (
        outcome.replies[0].buttons[0].label == catalog.text("intent_label.return_help", "fr").text
    )
    assert "intent:documents" not in payloads(outcome)  # below the candidate floor


async def test_rasa_fallback_with_a_flat_ranking_shows_the_menu(
    engine: Engine, stub_parser: StubParser, catalog: Catalog
) -> None:
    await onboard(engine)
    stub_parser.table["bla"] = NluResult(
        text="bla",
        intent="nlu_fallback",
        confidence=0.4,
        source=NluSource.RASA,
        ranking=(("out_of_scope", 0.3), ("greet", 0.05)),
    )
    outcome = await engine.handle(text(USER, "bla"))
    assert outcome.replies[0].text == catalog.text("clarify.prompt", "fr").text


async def test_emergency_in_the_top_three_comes_first(
    engine: Engine, stub_parser: StubParser, catalog: Catalog
) -> None:
    await onboard(engine)
    message = "on est enfermés a Sabha ils frappent"
    stub_parser.table[message] = parse(
        message, [("risks_libya", 0.62), ("smugglers", 0.2), ("emergency", 0.16)]
    )
    outcome = await engine.handle(text(USER, message))
    emergency = catalog.intents["emergency"].reply or ""
    # Sabha is in Libya: its own lines first.
    header = catalog.text("emergency.abroad", "fr").text.format(country="Libye")
    assert outcome.replies[0].text == header
    # The question itself is still answered after the contacts.
    assert len(outcome.replies) >= 2
    # Below the floor, no emergency.
    stub_parser.table["libye"] = parse("libye", [("risks_libya", 0.8), ("emergency", 0.1)])
    calm = await engine.handle(text(USER, "libye"))
    assert calm.replies[0].text != catalog.text(emergency, "fr").text


async def test_named_places_become_the_users_location_with_consent(
    engine: Engine, stub_parser: StubParser, database: Database
) -> None:
    await onboard(engine)
    message = "je suis a Kayi mon frere est en Libi"
    stub_parser.table[message] = parse(
        message,
        [("missing_person", 0.9)],
        entities=(Entity("place_ml", "kayes", 10, 14), Entity("country", "libya", 30, 34)),
    )
    await engine.handle(text(USER, message))
    user = await stored_user(database)
    # The brother is in Libya, not the user (issue 17): Kayes, in Mali.
    assert (user.region, user.country) == ("kayes", "mali")


async def test_location_is_not_kept_without_consent(
    engine: Engine, stub_parser: StubParser, database: Database
) -> None:
    await engine.handle(command("u2", "start"))
    await engine.handle(press("u2", "lang:fr"))
    await engine.handle(press("u2", "consent:no"))
    stub_parser.table["a Gao"] = parse(
        "a Gao", [("return_help", 0.9)], entities=(Entity("place_ml", "gao"),)
    )
    await engine.handle(text("u2", "a Gao"))
    user = await stored_user(database, "u2")
    assert user.region is None


async def test_reply_in_the_language_written_when_none_was_chosen(
    engine: Engine, stub_parser: StubParser, catalog: Catalog
) -> None:
    message = "n bɛ Alijeri, n b'a fɛ ka segin so"
    stub_parser.table[message] = parse(
        message, [("return_help", 0.9)], entities=(Entity("country", "algeria", 5, 12),)
    )
    outcome = await engine.handle(text("u3", message))
    assert outcome.meta.language == "bm"
    # Before a language is chosen, a question gets the picker with a bilingual line
    # (issue 17), read in the language written.
    assert outcome.replies[0].text == catalog.text("language.pick_first", "bm").text
    assert payloads(outcome) == [f"lang:{code}" for code in catalog.languages]
    # An emergency, though, is answered at once, in the language written, with the
    # contacts of the country the person said they are in (issue 17).
    alarm = "dɛmɛ! kurun bɛ ka tunun"
    stub_parser.table[alarm] = parse(alarm, [("emergency", 0.95)])
    urgent = await engine.handle(text("u3", alarm))
    assert urgent.meta.language == "bm"
    country = catalog.text("country.algeria", "bm").text
    assert urgent.replies[0].text == catalog.text("emergency.abroad", "bm").text.format(
        country=country
    )


async def test_writing_in_another_language_offers_a_switch_once(
    engine: Engine, stub_parser: StubParser, catalog: Catalog
) -> None:
    await onboard(engine, lang="bm")
    message = "je voudrais savoir comment partir legalement en Europe"
    stub_parser.table[message] = ("legal_migration", 0.9)
    outcome = await engine.handle(text(USER, message))
    assert outcome.meta.language == "bm"  # the chosen language still rules
    offer = outcome.replies[-1]
    assert offer.text == catalog.text("language.offer_switch", "fr").text
    assert [b.payload for b in offer.buttons] == ["lang:fr"]
    again = await engine.handle(text(USER, message))
    assert all(r.text != offer.text for r in again.replies)  # offered once


async def test_a_word_or_two_are_too_short_to_offer_a_switch(
    engine: Engine, stub_parser: StubParser, catalog: Catalog
) -> None:
    await onboard(engine, lang="ff")
    offers = {catalog.text("language.offer_switch", code).text for code in catalog.languages}
    for message in ("sahara", "le desert", "ok merci"):
        stub_parser.table[message] = ("risks_desert", 0.95)
        outcome = await engine.handle(text(USER, message))
        assert all(r.text not in offers for r in outcome.replies), message


async def test_code_switched_text_does_not_trigger_a_switch_offer(
    engine: Engine, stub_parser: StubParser, catalog: Catalog
) -> None:
    await onboard(engine, lang="bm")
    message = "n bɛ bloqué en Algérie n b'a fɛ ka segin, je veux rentrer"
    stub_parser.table[message] = ("return_help", 0.9)
    outcome = await engine.handle(text(USER, message))
    offer = catalog.text("language.offer_switch", "fr").text
    assert all(r.text != offer for r in outcome.replies)
