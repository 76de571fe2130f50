"""Wanting to leave: where to (never asked when said), why, then what fits the route
and the reason; a relative who wants to leave (issue 17, points 4 and 9)."""

from __future__ import annotations

from bot.content.catalog import REQUIRED_KEYS, Catalog
from bot.dialogue.engine import Engine
from bot.dialogue.flows.leaving import REASONS
from bot.dialogue.memory import LeaveNotes, Memory
from bot.nlu.types import Entity, NluResult, NluSource
from bot.store import repositories as repo
from bot.store.db import Database
from tests.support.conversation import USER, onboard, payloads, press, stored_user, text
from tests.support.nlu import StubParser

WHY = ["why:work", "why:family", "why:study", "why:join", "why:other"]


async def memory(database: Database) -> Memory:
    user = await stored_user(database)
    async with database.transaction() as s:
        conversation = await repo.load_conversation(s, user_id=user.id)
    assert conversation is not None
    return Memory.from_data(conversation.data)


async def test_a_destination_in_the_message_skips_where_and_asks_why(
    engine: Engine, stub_parser: StubParser, database: Database
) -> None:
    await onboard(engine)
    message = "jveu partir en espagne cmt faire"
    stub_parser.table[message] = ("intent_to_leave", 0.9)
    asked = await engine.handle(text(USER, message))
    assert asked.meta.messages == ["leave.going_to", "leave.why"]
    assert "Espagne" in asked.replies[0].text
    assert payloads(asked)[:5] == WHY
    assert not any(p.startswith("leave:") for p in payloads(asked))  # "where?" not asked
    assert (await memory(database)).leaving == LeaveNotes("leave_sea", "spain")
    # A destination is not where the user is, even with consent to keep their place.
    user = await stored_user(database)
    assert (user.region, user.country) == (None, None)

    answered = await engine.handle(press(USER, "why:family"))
    assert answered.meta.messages == ["leave.because.family", "leave.sea.risks"]
    assert "topic:family_debt" in payloads(answered)
    assert "card:leave_sea:1" in payloads(answered)  # the route's cards go on
    assert (answered.meta.state, answered.meta.topic) == ("topic", "leave_sea")
    assert (await memory(database)).leaving is None


async def test_without_a_destination_where_then_why(
    engine: Engine, stub_parser: StubParser
) -> None:
    await onboard(engine)
    stub_parser.table["je veux partir"] = ("intent_to_leave", 0.9)
    where = await engine.handle(text(USER, "je veux partir"))
    assert where.meta.messages == ["intent.intent_to_leave"]
    assert [p for p in payloads(where) if p.startswith("leave:")] == [
        "leave:leave_sea",
        "leave:leave_desert",
        "leave:leave_west_africa",
        "leave:leave_elsewhere",
    ]
    why = await engine.handle(press(USER, "leave:leave_desert"))
    assert why.meta.messages == ["leave.why"]
    answered = await engine.handle(press(USER, "why:work"))
    assert answered.meta.messages == ["leave.because.work", "leave.desert.risks"]
    assert "topic:home_opportunities" in payloads(answered)


async def test_the_reason_typed_in_words_or_as_a_number(
    engine: Engine, stub_parser: StubParser
) -> None:
    await onboard(engine)
    stub_parser.table["je veux aller en libye"] = ("intent_to_leave", 0.9)
    stub_parser.table["c ma famille qui me pousse"] = ("family_pressure", 0.9)
    await engine.handle(text(USER, "je veux aller en libye"))
    typed = await engine.handle(text(USER, "c ma famille qui me pousse"))
    assert typed.meta.messages == ["leave.because.family", "leave.desert.risks"]

    await engine.handle(text(USER, "je veux aller en libye"))
    numbered = await engine.handle(text(USER, "3"))
    assert numbered.meta.messages == ["leave.because.study", "leave.desert.risks"]
    assert "topic:legal_paths" in payloads(numbered)


async def test_a_reason_without_a_route_still_answers(engine: Engine) -> None:
    await onboard(engine)
    answered = await engine.handle(press(USER, "why:other"))
    assert answered.meta.messages == ["leave.because.other"]
    assert "intent:ask_human" in payloads(answered)
    refused = await engine.handle(press(USER, "why:because"))
    assert refused.meta.messages == ["fallback.stale_button"]


async def test_in_bambara_with_the_nlu_down(
    engine: Engine, stub_parser: StubParser, database: Database
) -> None:
    await onboard(engine, lang="bm")
    stub_parser.down = True
    asked = await engine.handle(text(USER, "n b'a fe ka taa faransi"))
    assert asked.meta.messages[:2] == ["leave.going_to", "leave.why"]
    assert asked.meta.language == "bm"
    assert (await memory(database)).leaving == LeaveNotes("leave_sea", "france")


async def test_a_destination_given_by_the_nlu_is_not_stored_as_the_users_country(
    engine: Engine, stub_parser: StubParser, database: Database
) -> None:
    await onboard(engine)
    message = "je veux partir en espagna"  # a spelling the places table does not know
    stub_parser.table[message] = NluResult(
        text=message,
        intent="intent_to_leave",
        confidence=0.9,
        source=NluSource.RASA,
        ranking=(("intent_to_leave", 0.9),),
        entities=(Entity("country", "spain", message.index("espagna")),),
    )
    asked = await engine.handle(text(USER, message))
    assert asked.meta.messages == ["leave.going_to", "leave.why"]
    user = await stored_user(database)
    assert user.country is None


async def test_a_son_who_wants_to_leave_gets_a_reply_for_the_family(
    engine: Engine, stub_parser: StubParser, database: Database
) -> None:
    await onboard(engine)
    stub_parser.table["mon fils veut partir en libye"] = ("out_of_scope", 0.3)
    outcome = await engine.handle(text(USER, "mon fils veut partir en libye"))
    assert outcome.meta.messages == ["leave.family"]
    assert payloads(outcome)[:2] == ["topic:leave_desert", "topic:family_debt"]
    user = await stored_user(database)
    assert (user.region, user.country) == (None, None)
    assert (await memory(database)).leaving is None


async def test_a_brother_who_wants_to_go_to_europe_even_when_the_nlu_says_leaving(
    engine: Engine, stub_parser: StubParser
) -> None:
    await onboard(engine)
    stub_parser.table["mon frere veut aller en europe"] = ("intent_to_leave", 0.8)
    outcome = await engine.handle(text(USER, "mon frere veut aller en europe"))
    assert outcome.meta.messages == ["leave.family"]
    # No destination known: the routes' own modules, to read before talking with him.
    assert payloads(outcome)[:4] == [
        "topic:leave_sea",
        "topic:leave_desert",
        "topic:leave_west_africa",
        "topic:leave_elsewhere",
    ]


async def test_a_relative_in_danger_is_still_an_emergency(
    engine: Engine, stub_parser: StubParser
) -> None:
    await onboard(engine)
    message = "mon frere veut partir en libye, il est bloque et on le frappe"
    stub_parser.table[message] = ("emergency", 0.9)
    outcome = await engine.handle(text(USER, message))
    assert "leave.family" not in outcome.meta.messages
    assert outcome.meta.intent == "emergency"


async def test_family_pushing_the_user_is_not_someone_else_leaving(
    engine: Engine, stub_parser: StubParser, database: Database
) -> None:
    await onboard(engine)
    message = "ma mere veut que je parte en libye"
    stub_parser.table[message] = ("family_pressure", 0.9)
    outcome = await engine.handle(text(USER, message))
    assert outcome.meta.messages == ["intent.family_pressure"]
    user = await stored_user(database)
    assert user.country is None  # Libya is where she wants them to go


async def test_a_parent_asking_about_the_danger_gets_the_family_reply(
    engine: Engine, stub_parser: StubParser
) -> None:
    await onboard(engine)
    message = "mon fils veut partir en libye c dangereux"
    stub_parser.table[message] = ("risks_libya", 0.9)
    outcome = await engine.handle(text(USER, message))
    assert outcome.meta.messages == ["leave.family"]
    assert payloads(outcome)[0] == "topic:leave_desert"


def test_every_reason_is_written_in_french_and_bambara(catalog: Catalog) -> None:
    for reason in REASONS:
        for key in (f"leave.why.{reason}", f"leave.because.{reason}"):
            assert key in REQUIRED_KEYS  # the loader refuses content without it
            for language in ("fr", "bm"):
                assert catalog.text(key, language).language == language, (key, language)


async def test_a_reason_said_with_a_word_of_its_label(
    engine: Engine, stub_parser: StubParser, database: Database
) -> None:
    await onboard(engine)
    stub_parser.table["je veux aller en libye"] = ("intent_to_leave", 0.9)
    await engine.handle(text(USER, "je veux aller en libye"))
    money = await engine.handle(text(USER, "pour l'argent surtout"))
    assert money.meta.messages == ["leave.because.work", "leave.desert.risks"]
    # Another message ends the question: the words no longer pick a reason later.
    await engine.handle(text(USER, "je veux aller en libye"))
    await engine.handle(press(USER, "action:show_menu"))
    assert (await memory(database)).leaving is not None  # a press keeps it
    other = await engine.handle(text(USER, "bonjour"))
    assert "leave.because.work" not in other.meta.messages
    assert (await memory(database)).leaving is None
    later = await engine.handle(text(USER, "pour l'argent surtout"))
    assert "leave.because.work" not in later.meta.messages
