"""A place said alone, a shared location, and a question typed before the language was
chosen (issue 17, point 5)."""

from __future__ import annotations

from bot.content.catalog import Catalog
from bot.dialogue.engine import Engine
from bot.dialogue.types import Inbound
from bot.nlu.types import NluResult, NluSource
from bot.store import repositories as repo
from bot.store.db import Database
from tests.support.conversation import USER, command, onboard, payloads, press, stored_user, text
from tests.support.nlu import StubParser

#: Near Kita (Kayes region), near Sfax (Tunisia), and nowhere near a known town.
KITA = (13.05, -9.45)
SFAX = (34.80, 10.70)
OCEAN = (0.0, -30.0)


async def conversation_data(database: Database) -> dict[str, object]:
    user = await stored_user(database)
    async with database.transaction() as s:
        conversation = await repo.load_conversation(s, user_id=user.id)
    assert conversation is not None
    return dict(conversation.data)


# --- A place said alone --------------------------------------------------------------------


async def test_a_place_said_alone_is_acknowledged_and_kept_with_consent(
    engine: Engine, stub_parser: StubParser, catalog: Catalog, database: Database
) -> None:
    await onboard(engine)
    stub_parser.table["je suis a Kita"] = ("out_of_scope", 0.3)
    outcome = await engine.handle(text(USER, "je suis a Kita"))
    assert outcome.meta.messages == ["place.ack"]
    assert "Kayes" in outcome.replies[0].text
    assert catalog.text("clarify.choose", "fr").text not in outcome.replies[0].text
    user = await stored_user(database)
    assert (user.region, user.country) == ("kita", "mali")


async def test_without_consent_the_place_is_used_once_and_not_kept(
    engine: Engine, stub_parser: StubParser, database: Database
) -> None:
    await engine.handle(command(USER, "start"))
    await engine.handle(press(USER, "lang:fr"))
    await engine.handle(press(USER, "consent:no"))
    await engine.handle(press(USER, "sub:no"))
    stub_parser.table["je suis a Kita"] = ("out_of_scope", 0.3)
    outcome = await engine.handle(text(USER, "je suis a Kita"))
    assert outcome.meta.messages == ["place.ack_once"]
    user = await stored_user(database)
    assert (user.region, user.country) == (None, None)
    # ...but the next question does not ask where again.
    stub_parser.table["j'ai perdu mon passeport"] = ("documents", 0.9)
    answered = await engine.handle(text(USER, "j'ai perdu mon passeport"))
    assert "where.ask" not in answered.meta.messages
    assert answered.meta.services


# --- A shared location ---------------------------------------------------------------------


async def test_a_shared_location_gives_the_place(engine: Engine, database: Database) -> None:
    await onboard(engine)
    outcome = await engine.handle(Inbound(user_id=USER, location=KITA))
    assert outcome.meta.messages == ["place.ack"]
    user = await stored_user(database)
    assert (user.region, user.country) == ("kita", "mali")


async def test_a_shared_location_answers_the_question_waiting_for_it(
    engine: Engine, stub_parser: StubParser
) -> None:
    await onboard(engine)
    stub_parser.table["j'ai perdu mon passeport"] = ("documents", 0.9)
    asked = await engine.handle(text(USER, "j'ai perdu mon passeport"))
    assert asked.meta.state == "location"
    answered = await engine.handle(Inbound(user_id=USER, location=SFAX))
    assert answered.meta.state == "menu"
    assert answered.meta.services
    assert all(
        "covers:country:tunisia" in s["reasons"] or "abroad" in s["reasons"]
        for s in answered.meta.services
    )


async def test_a_shared_location_in_an_emergency_gives_that_countrys_contacts(
    engine: Engine, catalog: Catalog
) -> None:
    await onboard(engine)
    first = await engine.handle(text(USER, "au secours aidez moi"))
    assert first.meta.intent == "emergency"
    located = await engine.handle(Inbound(user_id=USER, location=SFAX))
    header = catalog.text("emergency.abroad", "fr").text.format(country="Tunisie")
    assert located.replies[0].text == header
    assert located.meta.services[0]["id"] == "tunisia_emergency_lines"


async def test_a_location_far_from_every_known_town(engine: Engine, database: Database) -> None:
    await onboard(engine)
    outcome = await engine.handle(Inbound(user_id=USER, location=OCEAN))
    assert outcome.meta.messages == ["fallback.location"]
    user = await stored_user(database)
    assert (user.region, user.country) == (None, None)


# --- A question before the language is chosen ----------------------------------------------


async def test_a_question_before_the_language_is_answered_after_onboarding(
    engine: Engine, stub_parser: StubParser, database: Database
) -> None:
    message = "jveu aller en espagne cmt faire"
    stub_parser.table[message] = ("intent_to_leave", 0.9)
    picker = await engine.handle(text(USER, message))
    assert picker.meta.messages == ["language.pick_first"]
    assert (await conversation_data(database))["waiting"]
    consent = await engine.handle(press(USER, "lang:fr"))
    assert consent.meta.messages == ["onboarding.consent"]
    answered = await engine.handle(press(USER, "consent:yes"))
    # Thanks, then the question itself: no subscription question in between.
    assert answered.meta.messages == ["onboarding.consent_thanks", "leave.going_to", "leave.why"]
    assert "why:family" in payloads(answered)
    assert "waiting" not in await conversation_data(database)
    user = await stored_user(database)
    assert user.country is None  # Spain is where they would go, not where they are
    # Answered once: the next step does not repeat it.
    again = await engine.handle(press(USER, "why:work"))
    assert "leave.going_to" not in again.meta.messages


async def test_the_waiting_question_is_answered_without_consent_and_then_dropped(
    engine: Engine, stub_parser: StubParser, database: Database
) -> None:
    stub_parser.table["j'ai perdu mon passeport"] = ("documents", 0.9)
    await engine.handle(text(USER, "j'ai perdu mon passeport"))
    await engine.handle(press(USER, "lang:bm"))
    answered = await engine.handle(press(USER, "consent:no"))
    assert answered.meta.messages[0] == "onboarding.consent_declined"
    assert "where.ask" in answered.meta.messages  # the documents question goes on
    assert answered.meta.language == "bm"
    assert "waiting" not in await conversation_data(database)


async def test_small_talk_before_the_language_is_not_kept(
    engine: Engine, stub_parser: StubParser, database: Database
) -> None:
    stub_parser.table["hahaha"] = ("out_of_scope", 0.4)
    await engine.handle(text(USER, "hahaha"))
    assert "waiting" not in await conversation_data(database)
    await engine.handle(press(USER, "lang:fr"))
    answered = await engine.handle(press(USER, "consent:yes"))
    assert answered.meta.messages == ["onboarding.consent_thanks", "subscribe.ask"]


async def test_a_new_message_replaces_the_waiting_question(
    engine: Engine, stub_parser: StubParser, database: Database
) -> None:
    stub_parser.table["j'ai perdu mon passeport"] = ("documents", 0.9)
    await engine.handle(text(USER, "j'ai perdu mon passeport"))
    await engine.handle(press(USER, "lang:fr"))
    stub_parser.table["bonjour"] = ("greet", 0.9)
    await engine.handle(text(USER, "bonjour"))
    assert "waiting" not in await conversation_data(database)


async def test_a_question_typed_long_ago_is_dropped_not_answered(
    engine: Engine, stub_parser: StubParser, database: Database
) -> None:
    message = "jveu aller en espagne cmt faire"
    stub_parser.table[message] = ("intent_to_leave", 0.9)
    await engine.handle(text(USER, message))
    user = await stored_user(database)
    async with database.transaction() as s:
        conversation = await repo.load_conversation(s, user_id=user.id)
        assert conversation is not None
        conversation.data["waiting"]["at"] = "2020-01-01T00:00:00+00:00"
        await repo.save_conversation(s, user_id=user.id, conversation=conversation)
    await engine.handle(press(USER, "lang:fr"))
    answered = await engine.handle(press(USER, "consent:yes"))
    assert answered.meta.messages == ["onboarding.consent_thanks", "subscribe.ask"]
    assert "waiting" not in await conversation_data(database)


async def test_a_place_in_a_longer_unclear_message_gets_the_likely_intents(
    engine: Engine, stub_parser: StubParser, database: Database
) -> None:
    await onboard(engine)
    message = "je suis a Kita et franchement je sais plus quoi faire"
    stub_parser.table[message] = NluResult(
        text=message,
        intent="psychosocial",
        confidence=0.4,
        source=NluSource.RASA,
        ranking=(("psychosocial", 0.4), ("local_opportunities", 0.35)),
    )
    outcome = await engine.handle(text(USER, message))
    assert outcome.meta.messages == ["clarify.choose"]
    user = await stored_user(database)
    assert user.region == "kita"  # kept all the same
