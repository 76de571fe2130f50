"""Subscription to campaign messages: the explicit opt-in after consent, the optional
questions, opting out at once and back in, and the topics a user has seen."""

from __future__ import annotations

from sqlalchemy import func, select

from bot.content.catalog import Catalog
from bot.dialogue.engine import COMMANDS, Engine
from bot.dialogue.types import State
from bot.store import repositories as repo
from bot.store.audience import mark_user_blocked
from bot.store.db import Database
from bot.store.models import Event, UserTopic
from bot.telegram.app import command_menus
from tests.support.conversation import USER, command, payloads, press, stored_user, text
from tests.support.nlu import StubParser


async def to_subscription_question(
    engine: Engine, user: str = USER, lang: str = "fr", consent: str = "yes"
) -> None:
    await engine.handle(command(user, "start"))
    await engine.handle(press(user, f"lang:{lang}"))
    await engine.handle(press(user, f"consent:{consent}"))


async def test_the_question_is_explicit_and_nothing_is_chosen_for_the_user(
    engine: Engine, database: Database, catalog: Catalog
) -> None:
    await engine.handle(command(USER, "start"))
    await engine.handle(press(USER, "lang:fr"))
    asked = await engine.handle(press(USER, "consent:yes"))
    assert asked.meta.state == State.SUBSCRIBE
    question = asked.replies[-1]
    assert question.text == catalog.text("subscribe.ask", "fr").text
    # Two buttons, yes and no; nothing stored until one is pressed.
    assert [b.payload for b in question.buttons] == ["sub:yes", "sub:no"]
    assert [b.label for b in question.buttons] == [
        catalog.text("subscribe.yes", "fr").text,
        catalog.text("subscribe.no", "fr").text,
    ]
    user = await stored_user(database)
    assert user.subscribed is False and user.subscribed_at is None
    # The question says how often and how to stop.
    assert "/stop" in question.text
    assert "/stop" in catalog.text("subscribe.ask", "bm").text


async def test_yes_subscribes_then_asks_two_optional_questions(
    engine: Engine, database: Database, catalog: Catalog
) -> None:
    await to_subscription_question(engine)
    done = await engine.handle(press(USER, "sub:yes"))
    assert done.replies[0].text == catalog.text("subscribe.done", "fr").text
    assert done.replies[-1].text == catalog.text("subscribe.ask_age", "fr").text
    # A parent says so instead of an age (issue 17): never asked their own age.
    assert payloads(done) == [
        "age:under-15",
        "age:15-17",
        "age:18-24",
        "age:25-34",
        "age:35+",
        "sit:parent",
        "age:skip",
    ]
    labels = [b.label for b in done.replies[-1].buttons]
    assert labels[:2] == ["Moins de 15 ans", "15-17 ans"] and labels[4] == "35 ans ou plus"
    user = await stored_user(database)
    assert user.subscribed is True and user.subscribed_at is not None
    assert user.unsubscribed_at is None

    situation = await engine.handle(press(USER, "age:18-24"))
    assert situation.replies[-1].text == catalog.text("subscribe.ask_situation", "fr").text
    assert payloads(situation) == [
        "sit:resident",
        "sit:returnee",
        "sit:diaspora",
        "sit:parent",
        "sit:skip",
    ]
    menu = await engine.handle(press(USER, "sit:returnee"))
    assert menu.replies[0].text == catalog.text("subscribe.thanks", "fr").text
    assert menu.replies[-1].text == catalog.text(catalog.menu.text, "fr").text
    assert menu.meta.state == State.MENU
    user = await stored_user(database)
    assert (user.age_bracket, user.situation) == ("18-24", "returnee")


async def test_both_optional_questions_can_be_skipped(
    engine: Engine, database: Database, catalog: Catalog
) -> None:
    await to_subscription_question(engine, lang="bm")
    await engine.handle(press(USER, "sub:yes"))
    situation = await engine.handle(press(USER, "age:skip"))
    assert situation.replies[-1].text == catalog.text("subscribe.ask_situation", "bm").text
    menu = await engine.handle(press(USER, "sit:skip"))
    assert menu.replies[-1].text == catalog.text(catalog.menu.text, "bm").text
    user = await stored_user(database)
    assert user.subscribed is True
    assert (user.age_bracket, user.situation) == (None, None)


async def test_no_leads_to_the_menu_and_says_how_to_change_ones_mind(
    engine: Engine, database: Database, catalog: Catalog
) -> None:
    await to_subscription_question(engine)
    menu = await engine.handle(press(USER, "sub:no"))
    assert menu.replies[0].text == catalog.text("subscribe.declined", "fr").text
    assert "/subscribe" in menu.replies[0].text
    assert "/subscribe" in catalog.text("subscribe.declined", "bm").text
    assert menu.meta.state == State.MENU
    assert (await stored_user(database)).subscribed is False


async def test_without_data_consent_no_personal_question_is_asked_or_kept(
    engine: Engine, database: Database, catalog: Catalog
) -> None:
    await to_subscription_question(engine, consent="no")
    done = await engine.handle(press(USER, "sub:yes"))
    assert [r.text for r in done.replies[:2]] == [
        catalog.text("subscribe.done", "fr").text,
        catalog.text("subscribe.thanks", "fr").text,
    ]
    assert not any(p.startswith(("age:", "sit:")) for p in payloads(done))
    await engine.handle(press(USER, "age:18-24"))  # an old or forged button
    user = await stored_user(database)
    assert user.subscribed is True and user.age_bracket is None


async def test_a_typed_yes_answers_the_question(
    engine: Engine, database: Database, stub_parser: StubParser
) -> None:
    await to_subscription_question(engine)
    stub_parser.table["oui bien sur"] = ("affirm", 0.95)
    await engine.handle(text(USER, "oui bien sur"))
    assert (await stored_user(database)).subscribed is True


async def test_stop_opts_out_at_once_and_says_how_to_come_back(
    engine: Engine, database: Database, catalog: Catalog
) -> None:
    await to_subscription_question(engine, lang="bm")
    await engine.handle(press(USER, "sub:yes"))
    stop = await engine.handle(command(USER, "stop"))
    assert stop.replies[0].text == catalog.text("unsubscribe.done", "bm").text
    for language in ("fr", "bm"):
        assert "/subscribe" in catalog.text("unsubscribe.done", language).text
    user = await stored_user(database)
    assert user.subscribed is False and user.unsubscribed_at is not None


async def test_the_unsubscribe_intent_and_button_opt_out_too(
    engine: Engine, database: Database, catalog: Catalog, stub_parser: StubParser
) -> None:
    await to_subscription_question(engine)
    await engine.handle(press(USER, "sub:yes"))
    stub_parser.table["arrete de m'ecrire"] = ("unsubscribe", 0.96)
    said = await engine.handle(text(USER, "arrete de m'ecrire"))
    assert said.replies[0].text == catalog.text("unsubscribe.done", "fr").text
    assert (await stored_user(database)).subscribed is False

    await engine.handle(command(USER, "subscribe"))
    assert (await stored_user(database)).subscribed is True
    pressed = await engine.handle(press(USER, "action:unsubscribe"))
    assert pressed.replies[0].text == catalog.text("unsubscribe.done", "fr").text
    assert (await stored_user(database)).subscribed is False


async def test_subscribe_command_opts_back_in_and_asks_only_what_is_missing(
    engine: Engine, database: Database, catalog: Catalog
) -> None:
    await to_subscription_question(engine)
    await engine.handle(press(USER, "sub:yes"))
    await engine.handle(press(USER, "age:25-34"))
    await engine.handle(press(USER, "sit:skip"))
    first = (await stored_user(database)).subscribed_at
    await engine.handle(command(USER, "stop"))

    back = await engine.handle(command(USER, "subscribe"))
    assert back.replies[0].text == catalog.text("subscribe.done", "fr").text
    assert back.replies[-1].text == catalog.text("subscribe.ask_situation", "fr").text
    user = await stored_user(database)
    assert user.subscribed is True and user.age_bracket == "25-34"
    assert user.subscribed_at is not None and first is not None
    assert user.subscribed_at >= first
    # Already in: said so, and the drip clock is not restarted.
    again = await engine.handle(command(USER, "subscribe"))
    assert again.replies[0].text == catalog.text("subscribe.already", "fr").text
    assert (await stored_user(database)).subscribed_at == user.subscribed_at


async def test_topics_seen_are_kept_once_and_only_with_consent(
    engine: Engine, database: Database
) -> None:
    await to_subscription_question(engine)
    await engine.handle(press(USER, "sub:no"))
    for payload in ("topic:sahara", "card:sahara:1", "topic:sahara", "topic:sea"):
        await engine.handle(press(USER, payload))
    await to_subscription_question(engine, user="anon", consent="no")
    await engine.handle(press("anon", "topic:libya"))
    async with database.transaction() as session:
        rows = (await session.execute(select(UserTopic.user_id, UserTopic.topic))).all()
    user = await stored_user(database)
    assert sorted(rows) == [(user.id, "sahara"), (user.id, "sea")]


def test_subscribe_is_in_the_telegram_command_menu(catalog: Catalog) -> None:
    assert "subscribe" in COMMANDS
    for _code, commands in command_menus(catalog):
        assert any(c.command == "subscribe" and c.description for c in commands)


async def test_a_user_who_blocked_the_bot_and_writes_again_may_subscribe_again(
    engine: Engine, database: Database
) -> None:
    """Blocking the bot (a 403 to a campaign) unsubscribes and marks the user blocked;
    writing again means they unblocked it: the mark goes, and /subscribe works again."""
    await to_subscription_question(engine)
    await engine.handle(press(USER, "sub:yes"))
    user = await stored_user(database)
    async with database.transaction() as session:
        await mark_user_blocked(session, user.id)
    blocked = await stored_user(database)
    assert blocked.blocked_at is not None and blocked.subscribed is False

    await engine.handle(text(USER, "salut"))
    back = await stored_user(database)
    assert back.blocked_at is None and back.subscribed is False  # their choice, not ours
    await engine.handle(command(USER, "subscribe"))
    again = await stored_user(database)
    assert again.subscribed is True and again.blocked_at is None


async def test_someone_under_15_is_unsubscribed_and_nothing_optional_is_kept(
    engine: Engine, database: Database, catalog: Catalog
) -> None:
    await to_subscription_question(engine)
    await engine.handle(press(USER, "topic:sahara"))  # a module seen, with consent
    await engine.handle(press(USER, "where:ml"))
    await engine.handle(command(USER, "subscribe"))
    async with database.transaction() as session:
        user = await repo.get_user(session, channel="console", external_id=USER)
        assert user is not None
        await repo.update_user(session, user_id=user.id, region="kayes", country="mali")
        await repo.record_topic_seen(session, user_id=user.id, topic="sea")
    assert (await stored_user(database)).subscribed is True

    told = await engine.handle(press(USER, "age:under-15"))
    expected = catalog.text("subscribe.under_age", "fr").text.format(age=15)
    assert told.replies[0].text == expected
    assert told.meta.state == State.MENU
    user = await stored_user(database)
    assert user.subscribed is False and user.unsubscribed_at is not None
    assert user.consent is False and user.consent_at is not None
    assert (user.age_bracket, user.situation, user.region, user.country) == (None,) * 4
    assert user.language == "fr"  # only the language stays
    async with database.transaction() as session:
        topics = await session.scalar(
            select(func.count()).select_from(UserTopic).where(UserTopic.user_id == user.id)
        )
        linked = await session.scalar(
            select(func.count()).select_from(Event).where(Event.user_id == user.id)
        )
    assert topics == 0 and linked == 0

    # Later steps stay unlinked, and the profile is not asked again.
    await engine.handle(press(USER, "topic:sea"))
    again = await engine.handle(command(USER, "subscribe"))
    assert not any(p.startswith(("age:", "sit:")) for p in payloads(again))
    async with database.transaction() as session:
        linked = await session.scalar(
            select(func.count()).select_from(Event).where(Event.user_id == user.id)
        )
        topics = await session.scalar(
            select(func.count()).select_from(UserTopic).where(UserTopic.user_id == user.id)
        )
    assert linked == 0 and topics == 0


async def test_an_age_under_15_typed_is_the_under_15_answer(
    engine: Engine, database: Database, catalog: Catalog
) -> None:
    await to_subscription_question(engine)
    await engine.handle(press(USER, "sub:yes"))
    told = await engine.handle(text(USER, "j'ai 13 ans"))
    assert told.replies[0].text == catalog.text("subscribe.under_age", "fr").text.format(age=15)
    user = await stored_user(database)
    assert user.subscribed is False and user.consent is False and user.age_bracket is None
