"""Typed answers (issue 17, point 8): a button's number, its label or an obvious
equivalent, typed instead of tapped, picks it exactly as if pressed."""

from __future__ import annotations

from typing import Any

import pytest

from bot.content.catalog import Catalog
from bot.dialogue.engine import Engine
from bot.dialogue.memory import ShownButton
from bot.dialogue.typed import typed_choice
from bot.dialogue.types import State
from bot.nlu.types import NluResult, NluSource
from bot.store import repositories as repo
from bot.store.db import Database
from bot.store.repositories import ConversationState
from tests.support.conversation import USER, command, onboard, payloads, press, stored_user, text
from tests.support.nlu import StubParser


def emergency(message: str) -> NluResult:
    return NluResult(
        text=message,
        intent="emergency",
        confidence=0.95,
        source=NluSource.RASA,
        ranking=(("emergency", 0.95),),
    )


async def stored_data(database: Database) -> dict[str, Any]:
    user = await stored_user(database)
    async with database.transaction() as session:
        conversation = await repo.load_conversation(session, user_id=user.id)
    assert conversation is not None
    return conversation.data


async def to_consent(engine: Engine, lang: str = "fr") -> None:
    await engine.handle(command(USER, "start"))
    await engine.handle(press(USER, f"lang:{lang}"))


async def test_typed_numbers_pick_a_language_instead_of_looping(
    engine: Engine, database: Database, catalog: Catalog
) -> None:
    start = await engine.handle(command(USER, "start"))
    assert [b.payload for b in start.replies[0].buttons][1] == "lang:bm"
    chosen = await engine.handle(text(USER, "2"))
    assert chosen.meta.state == State.CONSENT and chosen.meta.language == "bm"
    assert chosen.replies[0].text == catalog.text("onboarding.consent", "bm").text
    assert (await stored_user(database)).language == "bm"


async def test_a_number_outside_the_list_goes_on_as_before(
    engine: Engine, database: Database, catalog: Catalog
) -> None:
    await engine.handle(command(USER, "start"))
    outcome = await engine.handle(text(USER, "7"))
    assert outcome.meta.state == State.CHOOSING_LANGUAGE
    assert (await stored_user(database)).language is None


async def test_the_buttons_shown_are_remembered_in_order(
    engine: Engine, database: Database, catalog: Catalog
) -> None:
    start = await engine.handle(command(USER, "start"))
    shown = (await stored_data(database))["buttons"]
    assert [b["payload"] for b in shown] == payloads(start)
    assert [b["label"] for b in shown] == [b.label for b in start.replies[0].buttons]


async def test_yes_and_no_words_answer_consent_and_subscription(
    engine: Engine, database: Database, catalog: Catalog, stub_parser: StubParser
) -> None:
    stub_parser.down = True  # keyword triggers only, as when Rasa is unreachable
    await to_consent(engine, "bm")
    asked = await engine.handle(text(USER, "awo"))
    assert asked.meta.state == State.SUBSCRIBE
    assert (await stored_user(database)).consent is True
    menu = await engine.handle(text(USER, "Ayi"))
    assert menu.meta.state == State.MENU
    assert menu.replies[0].text == catalog.text("subscribe.declined", "bm").text
    assert (await stored_user(database)).subscribed is False


async def test_ok_and_the_label_itself_are_a_yes(
    engine: Engine, database: Database, catalog: Catalog
) -> None:
    await to_consent(engine)
    await engine.handle(text(USER, "ok"))
    assert (await stored_user(database)).consent is True
    # The label, without its accents, case or punctuation.
    done = await engine.handle(text(USER, "OUI je veux les recevoir"))
    assert done.replies[0].text == catalog.text("subscribe.done", "fr").text
    assert (await stored_user(database)).subscribed is True


async def test_a_typed_age_bracket_is_the_age_not_a_module(
    engine: Engine, database: Database, stub_parser: StubParser
) -> None:
    await to_consent(engine)
    await engine.handle(press(USER, "consent:yes"))
    await engine.handle(press(USER, "sub:yes"))
    # What the NLU made of it does not matter: the question on screen is answered.
    stub_parser.table["18-24"] = ("smugglers", 0.9)
    outcome = await engine.handle(text(USER, "18-24"))
    assert outcome.meta.topic is None
    assert "sit:resident" in payloads(outcome)
    assert (await stored_user(database)).age_bracket == "18-24"


async def test_an_age_said_in_words_picks_its_bracket(engine: Engine, database: Database) -> None:
    await to_consent(engine)
    await engine.handle(press(USER, "consent:yes"))
    await engine.handle(press(USER, "sub:yes"))
    await engine.handle(text(USER, "j'ai 20 ans"))
    assert (await stored_user(database)).age_bracket == "18-24"


async def test_mali_answers_where_and_a_label_picks_a_region(
    engine: Engine, database: Database, catalog: Catalog
) -> None:
    await onboard(engine)
    where = await engine.handle(press(USER, "intent:return_help"))
    assert where.meta.state == State.LOCATION
    regions = await engine.handle(text(USER, "Mali"))
    assert regions.replies[0].text == catalog.text("where.which_region", "fr").text
    services = await engine.handle(text(USER, catalog.text("place.kayes", "fr").text.upper()))
    assert services.meta.services
    assert (await stored_user(database)).region == "kayes"


async def test_a_typed_label_navigates_a_module(engine: Engine, catalog: Catalog) -> None:
    await onboard(engine)
    await engine.handle(press(USER, "topic:sahara"))
    second = await engine.handle(text(USER, "suivant"))
    assert second.meta.topic == "sahara"
    assert second.replies[0].text.startswith(
        catalog.text(catalog.topics["sahara"].cards[1].text, "fr").text
    )
    menu = await engine.handle(text(USER, "🏠 menu"))
    assert menu.meta.state == State.MENU


async def test_an_emergency_wins_over_a_typed_match_but_not_over_a_number(
    engine: Engine, stub_parser: StubParser, catalog: Catalog
) -> None:
    await onboard(engine)
    await engine.handle(press(USER, "intent:return_help"))
    stub_parser.table["mali"] = emergency("mali")
    urgent = await engine.handle(text(USER, "mali"))
    reply = catalog.intents["emergency"].reply or ""
    assert urgent.replies[0].text == catalog.text(reply, "fr").text
    # A bare number picks its button, whatever the NLU makes of it.
    await engine.handle(press(USER, "action:show_menu"))
    stub_parser.table["1"] = emergency("1")
    first = await engine.handle(text(USER, "1"))
    assert first.meta.topic == catalog.menu.items[0].topic


async def test_text_that_matches_nothing_goes_on_as_before(
    engine: Engine, stub_parser: StubParser, catalog: Catalog
) -> None:
    await onboard(engine)
    stub_parser.table["ko ka taa Libi"] = ("risks_libya", 0.93)
    outcome = await engine.handle(text(USER, "ko ka taa Libi"))
    assert outcome.meta.topic == "libya"


async def test_during_the_referral_form_a_number_is_an_answer(
    engine: Engine, database: Database
) -> None:
    await onboard(engine)
    form = {"service": "iom_mali", "need": "return_help", "step": "name", "fields": {}}
    shown = [
        {"label": "Passer", "payload": "ref:skip"},
        {"label": "Annuler", "payload": "ref:cancel"},
    ]
    user = await stored_user(database)
    async with database.transaction() as session:
        await repo.save_conversation(
            session,
            user_id=user.id,
            conversation=ConversationState(
                State.REFERRAL.value, None, 0, {"referral": form, "buttons": shown}
            ),
        )
    await engine.handle(text(USER, "1"))
    stored = (await stored_data(database))["referral"]
    assert stored["step"] == "phone" and stored["fields"] == {"first_name": "1"}


async def test_no_answer_repeats_a_button(
    engine: Engine, stub_parser: StubParser, catalog: Catalog
) -> None:
    await onboard(engine)
    stub_parser.table["bonjour"] = ("greet", 0.95)
    outcome = await engine.handle(text(USER, "bonjour"))
    for reply in outcome.replies:
        shown = [b.payload for b in reply.buttons]
        assert len(shown) == len(set(shown)), shown
    assert payloads(outcome).count("action:show_menu") == 1


CONSENT = [
    ShownButton("Oui, d'accord", "consent:yes"),
    ShownButton("Non merci", "consent:no"),
]
AGES = [
    ShownButton("Moins de 15 ans", "age:under-15"),
    ShownButton("15-17 ans", "age:15-17"),
    ShownButton("18-24 ans", "age:18-24"),
    ShownButton("25-34 ans", "age:25-34"),
    ShownButton("35 ans ou plus", "age:35+"),
    ShownButton("Passer", "age:skip"),
]


@pytest.mark.parametrize(
    ("typed", "shown", "payload"),
    [
        ("oui", CONSENT, "consent:yes"),
        ("Ɔwɔ", CONSENT, "consent:yes"),
        ("awo", CONSENT, "consent:yes"),
        ("OK", CONSENT, "consent:yes"),
        ("non", CONSENT, "consent:no"),
        ("ayi", CONSENT, "consent:no"),
        ("2", CONSENT, "consent:no"),
        ("3", CONSENT, None),
        ("18-24", AGES, "age:18-24"),
        ("18 - 24 ans", AGES, "age:18-24"),
        ("san 40", AGES, "age:35+"),
        ("17", AGES, "age:15-17"),
        ("13", AGES, "age:under-15"),
        ("j ai 14 ans", AGES, "age:under-15"),
        ("15", AGES, "age:15-17"),
        ("112", AGES, None),
        ("ans", AGES, None),
        ("passer", AGES, "age:skip"),
        ("bamanankan", [ShownButton("Bamanankan", "lang:bm")], "lang:bm"),
        ("peul", [ShownButton("Fulfulde", "lang:ff")], "lang:ff"),
        ("mali", [ShownButton("🇲🇱 Au Mali", "where:ml")], "where:ml"),
        (
            "parent",
            [*AGES, ShownButton("👪 Je suis parent d'un jeune", "sit:parent")],
            "sit:parent",
        ),
        ("desert", [ShownButton("Traverser le désert", "a"), ShownButton("Le désert", "b")], None),
        ("suis", [ShownButton("Je suis parent", "a"), ShownButton("Je suis jeune", "b")], None),
        ("je veux partir", CONSENT, None),
    ],
)
def test_what_a_typed_text_picks(
    catalog: Catalog, typed: str, shown: list[ShownButton], payload: str | None
) -> None:
    assert typed_choice(catalog, shown, typed) == payload


def test_a_sure_affirm_or_deny_reading_picks_the_yes_or_no(catalog: Catalog) -> None:
    assert typed_choice(catalog, CONSENT, "bien sur", "affirm") == "consent:yes"
    assert typed_choice(catalog, CONSENT, "jamais de la vie", "deny") == "consent:no"
    assert typed_choice(catalog, CONSENT, "bien sur") is None


@pytest.mark.parametrize(
    ("typed", "language"),
    [("\u00b2", "bm"), ("\uff12", "bm"), ("\u00b9\u2078", None), ("9" * 5000, None)],
)
async def test_digits_the_bot_never_shows_do_not_break_a_typed_answer(
    engine: Engine, database: Database, typed: str, language: str | None
) -> None:
    """A superscript or full-width digit reads as the digit it stands for (as a phone
    keyboard may type it); a number out of range, however long, picks nothing; never an
    exception."""
    await engine.handle(command(USER, "start"))
    outcome = await engine.handle(text(USER, typed))
    assert outcome.replies
    assert (await stored_user(database)).language == language
