"""Places said in passing and emergencies where they happen (issue 17, points 3 and 5)."""

from __future__ import annotations

from bot.content.catalog import Catalog
from bot.dialogue.engine import Engine
from bot.dialogue.memory import EmergencyNotes, Memory
from bot.dialogue.types import Outcome
from bot.store.db import Database
from tests.support.conversation import USER, command, onboard, payloads, press, stored_user, text
from tests.support.nlu import StubParser


def shown(outcome: Outcome) -> list[str]:
    return [reply.text for reply in outcome.replies]


def service_ids(outcome: Outcome) -> list[str]:
    return [str(s["id"]) for s in outcome.meta.services]


def header(catalog: Catalog, key: str, country: str) -> str:
    return catalog.text(key, "fr").text.format(country=country)


# --- Places ------------------------------------------------------------------------------


async def test_a_place_and_a_question_in_one_message_are_both_answered(
    engine: Engine, stub_parser: StubParser, catalog: Catalog, database: Database
) -> None:
    await onboard(engine)
    message = "n be paris, n ka pasipori banna"
    stub_parser.table[message] = ("documents", 0.9)
    outcome = await engine.handle(text(USER, message))
    where_ask = catalog.text("where.ask", "fr").text
    assert where_ask not in shown(outcome)  # never asked: the message said it
    assert outcome.meta.services and all(
        {"covers:town:paris", "covers:country:france", "abroad"} & set(s["reasons"])
        for s in outcome.meta.services
    )
    user = await stored_user(database)
    assert user.country == "france"


async def test_a_place_said_about_a_friend_is_not_the_users(
    engine: Engine, stub_parser: StubParser, database: Database
) -> None:
    await onboard(engine)
    message = "mon ami il est arrivé en espagne"
    stub_parser.table[message] = ("life_abroad", 0.9)
    await engine.handle(text(USER, message))
    user = await stored_user(database)
    assert (user.region, user.country) == (None, None)


async def test_the_question_waiting_for_the_place_is_answered_when_it_is_typed(
    engine: Engine, stub_parser: StubParser, catalog: Catalog, database: Database
) -> None:
    await onboard(engine)
    stub_parser.table["j'ai perdu mon passeport"] = ("documents", 0.9)
    asked = await engine.handle(text(USER, "j'ai perdu mon passeport"))
    assert shown(asked)[0] == catalog.text("where.ask", "fr").text
    assert asked.meta.state == "location"
    # The NLU does not know this town; the places table does.
    answered = await engine.handle(text(USER, "je suis à Kita"))
    assert answered.meta.state == "menu"
    assert answered.meta.services, "the documents question that waited is answered"
    assert catalog.text("where.ask", "fr").text not in shown(answered)
    user = await stored_user(database)
    assert (user.region, user.country) == ("kita", "mali")
    # Never asked again: the next need uses the place already given.
    again = await engine.handle(text(USER, "j'ai perdu mon passeport"))
    assert catalog.text("where.ask", "fr").text not in shown(again)


# --- Emergencies where they happen -------------------------------------------------------


async def test_chased_by_police_in_sfax_gets_tunisian_numbers_not_malian_ones(
    engine: Engine, catalog: Catalog
) -> None:
    await onboard(engine)
    outcome = await engine.handle(text(USER, "aidez moi la police me poursuit a sfax"))
    assert outcome.meta.intent == "emergency"
    assert shown(outcome)[0] == header(catalog, "emergency.abroad", "Tunisie")
    assert service_ids(outcome)[0] == "tunisia_emergency_lines"
    assert "197" in shown(outcome)[1]
    assert "mali_emergency_lines" not in service_ids(outcome)
    assert "80 00 11 15" not in "\n".join(shown(outcome))
    assert len(outcome.replies) <= 3  # short: a line and the cards


async def test_stranded_in_sabha_gets_the_libyan_lines(engine: Engine, catalog: Catalog) -> None:
    await onboard(engine)
    outcome = await engine.handle(text(USER, "on est perdus dans le desert pres de Sabha"))
    assert shown(outcome)[0] == header(catalog, "emergency.abroad", "Libye")
    assert service_ids(outcome)[0] == "libya_emergency_lines"
    assert "mali_emergency_lines" not in service_ids(outcome)


async def test_a_country_without_a_known_number_is_told_so_and_pointed_to_iom(
    engine: Engine, catalog: Catalog
) -> None:
    await onboard(engine)
    outcome = await engine.handle(text(USER, "je suis au canada au secours"))
    assert shown(outcome)[0] == header(catalog, "emergency.no_number", "Canada")
    # Never a Malian toll-free number, which does not work from abroad.
    assert service_ids(outcome) == ["iom_dakar_regional"]


async def test_stranded_in_agadez_gets_the_niger_number_first(
    engine: Engine, catalog: Catalog
) -> None:
    await onboard(engine)
    outcome = await engine.handle(text(USER, "on est perdus dans le desert pres d'Agadez"))
    assert shown(outcome)[0] == header(catalog, "emergency.abroad", "Niger")
    # The town first (Alarme Phone Sahara answers in Agadez), then the country's line.
    assert service_ids(outcome)[:2] == ["alarme_phone_sahara", "niger_emergency_lines"]
    assert "mali_emergency_lines" not in service_ids(outcome)


async def test_in_spain_the_112(engine: Engine, catalog: Catalog) -> None:
    await onboard(engine)
    outcome = await engine.handle(text(USER, "je suis a madrid on me frappe"))
    assert shown(outcome)[0] == header(catalog, "emergency.abroad", "Espagne")
    assert "112" in shown(outcome)[1]


async def test_the_place_said_before_decides_the_contacts(
    engine: Engine, stub_parser: StubParser, catalog: Catalog
) -> None:
    await onboard(engine)
    stub_parser.table["je suis a alger"] = ("greet", 0.9)
    await engine.handle(text(USER, "je suis a alger"))
    outcome = await engine.handle(text(USER, "au secours"))
    assert shown(outcome)[0] == header(catalog, "emergency.abroad", "Algérie")
    assert service_ids(outcome)[0] == "algeria_emergency_lines"


async def test_someone_else_in_danger_elsewhere_gets_that_countrys_contacts(
    engine: Engine, catalog: Catalog, database: Database
) -> None:
    await onboard(engine)
    outcome = await engine.handle(text(USER, "mon frere est kidnappe a tripoli"))
    assert shown(outcome)[0] == header(catalog, "emergency.abroad", "Libye")
    assert service_ids(outcome)[0] == "libya_emergency_lines"
    user = await stored_user(database)
    assert user.country is None  # the brother is in Libya, not the user


async def test_in_mali_or_unknown_the_malian_lines_as_before(
    engine: Engine, catalog: Catalog
) -> None:
    await onboard(engine)
    outcome = await engine.handle(text(USER, "au secours"))
    emergency = catalog.intents["emergency"].reply or ""
    assert shown(outcome)[0] == catalog.text(emergency, "fr").text
    assert service_ids(outcome)[0] == "mali_emergency_lines"


async def test_asked_again_the_numbers_come_back_in_one_short_line(
    engine: Engine, catalog: Catalog
) -> None:
    await onboard(engine)
    first = await engine.handle(text(USER, "chui en danger a sfax"))
    assert len(first.replies) >= 2
    for again in ("qui appeler??", "help", "dema", "au secours"):
        outcome = await engine.handle(text(USER, again))
        assert len(outcome.replies) == 1, again
        line = shown(outcome)[0]
        assert line.startswith(catalog.text("emergency.again", "fr").text.split("{")[0])
        assert "197" in line and "198" in line
        assert "action:show_menu" in payloads(outcome)


async def test_the_repeat_words_mean_nothing_special_outside_an_emergency(
    engine: Engine, catalog: Catalog
) -> None:
    await onboard(engine)
    outcome = await engine.handle(text(USER, "qui appeler??"))
    again = catalog.text("emergency.again", "fr").text.split("{")[0]
    assert not any(t.startswith(again) for t in shown(outcome))


async def test_no_consent_question_until_the_emergency_is_answered(
    engine: Engine, catalog: Catalog
) -> None:
    await engine.handle(command(USER, "start"))
    await engine.handle(press(USER, "lang:fr"))  # the consent question is now pending
    outcome = await engine.handle(text(USER, "on a plus d'eau depuis hier a sabha"))
    assert shown(outcome)[0] == header(catalog, "emergency.abroad", "Libye")
    assert not any(p.startswith("consent:") for p in payloads(outcome))
    repeat = await engine.handle(text(USER, "qui appeler"))
    assert not any(p.startswith("consent:") for p in payloads(repeat))
    # Once the emergency is answered and the person writes about something else:
    later = await engine.handle(text(USER, "merci"))
    assert any(p.startswith("consent:") for p in payloads(later))


# --- Memory ------------------------------------------------------------------------------


def test_old_conversations_load_and_the_emergency_notes_round_trip() -> None:
    old = {"where_asked": True, "pending_need": "documents", "unknown": 1}
    memory = Memory.from_data(old)
    assert memory.emergency is None
    assert memory.to_data(old) == old
    memory.emergency = EmergencyNotes("tunisia", "2026-12-04T00:00:00+00:00", ["197"])
    data = memory.to_data(old)
    assert data["emergency"] == {
        "country": "tunisia",
        "at": "2026-12-04T00:00:00+00:00",
        "numbers": ["197"],
    }
    assert Memory.from_data(data).emergency == memory.emergency
    # Per-step notes are never stored.
    memory.help.said_elsewhere = "libya"
    assert "said_elsewhere" not in str(memory.to_data())
    assert Memory.from_data({"emergency": "garbage"}).emergency is None


async def test_a_name_alone_is_a_subject_unless_it_answers_where(
    engine: Engine, stub_parser: StubParser, database: Database
) -> None:
    await onboard(engine)
    stub_parser.table["libye"] = ("risks_libya", 0.9)
    await engine.handle(text(USER, "libye"))
    assert (await stored_user(database)).country is None  # asks about Libya
    stub_parser.table["j'ai perdu mon passeport"] = ("documents", 0.9)
    await engine.handle(text(USER, "j'ai perdu mon passeport"))
    answered = await engine.handle(text(USER, "Diéma"))
    assert answered.meta.services
    user = await stored_user(database)
    assert (user.region, user.country) == ("diema", "mali")


async def test_the_emergency_button_always_shows_the_contacts_in_full(
    engine: Engine, catalog: Catalog
) -> None:
    await onboard(engine)
    await engine.handle(text(USER, "chui en danger a sfax"))
    pressed = await engine.handle(press(USER, "intent:emergency"))
    assert shown(pressed)[0] == header(catalog, "emergency.abroad", "Tunisie")
    assert len(pressed.replies) >= 2


async def test_without_consent_a_place_given_is_not_kept_nor_asked_again(
    engine: Engine, stub_parser: StubParser, catalog: Catalog, database: Database
) -> None:
    await engine.handle(command("u9", "start"))
    await engine.handle(press("u9", "lang:fr"))
    await engine.handle(press("u9", "consent:no"))
    message = "je suis a paris j'ai perdu mon passeport"
    stub_parser.table[message] = ("documents", 0.9)
    first = await engine.handle(text("u9", message))
    assert first.meta.services
    assert (await stored_user(database, "u9")).country is None
    stub_parser.table["je cherche du travail"] = ("local_opportunities", 0.9)
    later = await engine.handle(text("u9", "je cherche du travail"))
    assert catalog.text("where.ask", "fr").text not in shown(later)
