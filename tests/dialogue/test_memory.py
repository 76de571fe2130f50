"""What a conversation remembers, typed per flow: today's stored shape loads unchanged
and the conversation goes on from it."""

from __future__ import annotations

from typing import Any

import pytest

from bot.content.catalog import Catalog
from bot.content.store import ContentStore
from bot.dialogue.decision import Thresholds
from bot.dialogue.engine import Engine
from bot.dialogue.memory import Memory, Place, QuizProgress, ReferralForm
from bot.dialogue.types import State
from bot.nlu.service import NluService
from bot.store import repositories as repo
from bot.store.db import Database
from bot.store.repositories import ConversationState
from tests.support.conversation import USER, onboard, payloads, press, stored_user, text
from tests.support.nlu import StubParser
from tests.support.referrals import SERVICE, enable_referrals

#: Each key as the engine stored it before the data was typed (one dict per key).
STORED: list[dict[str, Any]] = [
    {"language_offered": ["fr", "bm"]},
    {"subscription_asked": True},
    {"profile_skipped": ["age_bracket"]},
    {"quiz": {"topic": "sahara", "answered": {"q1": True, "q2": False}}},
    {"where": {"region": "kayes", "country": "mali"}},
    {"where": {"country": "algeria"}},
    {"where_asked": True},
    {"pending_need": "return_help"},
    {"referral": {"service": "iom_mali", "need": "return_help", "step": "consent"}},
    {
        "referral": {
            "service": "iom_mali",
            "need": "return_help",
            "step": "location",
            "fields": {"first_name": "Awa", "phone": None},
        }
    },
    {"leaving": {"route": "leave_sea", "destination": "spain"}},
    {"leaving": {"route": "leave_desert"}},
    {
        "waiting": {
            "text": "jveu aller en espagne cmt faire",
            "intent": "intent_to_leave",
            "confidence": 0.9,
            "ranking": [["intent_to_leave", 0.9]],
            "entities": [{"entity": "country", "value": "spain", "start": 17}],
            "at": "2026-12-04T03:00:00+00:00",
        }
    },
]


@pytest.mark.parametrize("data", STORED)
def test_each_stored_shape_round_trips(data: dict[str, Any]) -> None:
    assert Memory.from_data(data).to_data(data) == data


def test_a_whole_stored_conversation_round_trips_in_order() -> None:
    data: dict[str, Any] = {"unknown_later_key": 1}
    for one in STORED:
        data.update(one)
    written = Memory.from_data(data).to_data(data)
    assert written == data
    assert list(written) == list(data)


def test_the_parts_read_as_their_flow_uses_them() -> None:
    memory = Memory.from_data(
        {
            "quiz": {"topic": "sahara", "answered": {"q1": True}},
            "where": {"country": "algeria"},
            "pending_need": "return_help",
            "referral": {"service": "iom_mali", "need": "return_help", "step": "name"},
        }
    )
    assert memory.quiz == QuizProgress("sahara", {"q1": True})
    assert memory.help.where == Place(country="algeria")
    assert memory.help.need == "return_help"
    assert memory.referral == ReferralForm("iom_mali", "return_help", "name")
    assert Memory.from_data({}).to_data({}) == {}


async def store(
    database: Database, data: dict[str, Any], state: State, topic: str | None = None
) -> None:
    """Put the conversation of USER in the given stored shape, as an older version left it."""
    user = await stored_user(database)
    async with database.transaction() as session:
        await repo.save_conversation(
            session,
            user_id=user.id,
            conversation=ConversationState(state.value, topic, 0, data),
        )


async def stored_data(database: Database) -> dict[str, Any]:
    user = await stored_user(database)
    async with database.transaction() as session:
        conversation = await repo.load_conversation(session, user_id=user.id)
    assert conversation is not None
    return conversation.data


async def test_a_quiz_in_progress_goes_on(
    engine: Engine, database: Database, catalog: Catalog
) -> None:
    topic = next(t for t in catalog.topics.values() if len(t.quiz) >= 2)
    first, last = topic.quiz[0], topic.quiz[-1]
    await onboard(engine)
    # Every question but the last answered, the first one right.
    answered = {q.id: q is first for q in topic.quiz[:-1]}
    await store(database, {"quiz": {"topic": topic.id, "answered": answered}}, State.QUIZ, topic.id)
    right = next(i for i, a in enumerate(last.answers) if a.correct)
    outcome = await engine.handle(press(USER, f"quiz:{topic.id}:{last.id}:{right}"))
    score = catalog.text("quiz.score", "fr").text
    total = len(topic.quiz)
    assert outcome.replies[-1].text == score.format(correct=2, total=total)
    assert "quiz" not in await stored_data(database)


async def test_a_referral_form_in_progress_goes_on(
    content_copy: Any, database: Database, stub_parser: StubParser
) -> None:
    partners = enable_referrals(content_copy)
    content = ContentStore(content_copy)
    engine = Engine(
        database=database,
        content=content.current,
        nlu=NluService(stub_parser, content.matcher),
        thresholds=Thresholds(),
        partners=partners,
    )
    catalog = content.current()
    await onboard(engine)
    form = {
        "service": SERVICE,
        "need": "return_help",
        "step": "phone",
        "fields": {"first_name": "Awa"},
    }
    await store(database, {"referral": form}, State.REFERRAL)
    asked = await engine.handle(text(USER, "76 12 34 56"))
    assert asked.replies[0].text == catalog.text("referral.ask_location", "fr").text
    assert (await stored_data(database))["referral"] == {
        **form,
        "step": "location",
        "fields": {"first_name": "Awa", "phone": "+22376123456"},
    }
    await engine.handle(press(USER, "ref:skip"))
    summary = await engine.handle(press(USER, "ref:skip"))
    assert "Awa" in summary.replies[0].text and "+22376123456" in summary.replies[0].text
    assert payloads(summary) == ["ref:send", "ref:cancel"]


async def test_a_place_kept_for_this_answer_is_used_then_dropped(
    engine: Engine, database: Database, catalog: Catalog
) -> None:
    await engine.handle(press(USER, "lang:fr"))
    await engine.handle(press(USER, "consent:no"))
    await store(database, {"where": {"region": "kayes", "country": "mali"}}, State.MENU)
    outcome = await engine.handle(press(USER, "intent:return_help"))
    assert outcome.meta.state == State.MENU  # not asked where: the place was known
    assert outcome.meta.services
    assert "where" not in await stored_data(database)


async def test_a_pending_need_is_answered_after_where(
    engine: Engine, database: Database, catalog: Catalog
) -> None:
    await onboard(engine)
    await store(database, {"where_asked": True, "pending_need": "return_help"}, State.LOCATION)
    outcome = await engine.handle(press(USER, "where:r:kayes"))
    assert outcome.replies[0].text == catalog.text("intent.return_help", "fr").text
    assert outcome.meta.services
    stored = await stored_data(database)
    assert {k: v for k, v in stored.items() if k != "buttons"} == {"where_asked": True}
    # Asked once: the next need goes straight to services.
    again = await engine.handle(press(USER, "intent:reintegration"))
    assert again.meta.state == State.MENU


async def test_a_language_already_offered_is_not_offered_again(
    engine: Engine, database: Database, stub_parser: StubParser, catalog: Catalog
) -> None:
    await onboard(engine, lang="bm")
    await store(database, {"subscription_asked": True, "language_offered": ["fr"]}, State.MENU)
    message = "je voudrais savoir comment partir legalement en Europe"
    stub_parser.table[message] = ("legal_migration", 0.9)
    outcome = await engine.handle(text(USER, message))
    offer = catalog.text("language.offer_switch", "fr").text
    assert all(r.text != offer for r in outcome.replies)


async def test_subscription_asked_is_not_asked_again(
    engine: Engine, database: Database, catalog: Catalog
) -> None:
    await engine.handle(press(USER, "consent:yes"))
    await store(database, {"subscription_asked": True}, State.CHOOSING_LANGUAGE)
    outcome = await engine.handle(press(USER, "lang:fr"))
    assert outcome.replies[0].text == catalog.text("language.changed", "fr").text
    assert outcome.meta.state == State.MENU


async def test_a_skipped_profile_question_stays_skipped(
    engine: Engine, database: Database, catalog: Catalog
) -> None:
    await onboard(engine)
    await store(
        database, {"subscription_asked": True, "profile_skipped": ["age_bracket"]}, State.MENU
    )
    outcome = await engine.handle(press(USER, "sit:skip"))
    assert outcome.replies[0].text == catalog.text("subscribe.thanks", "fr").text
    assert "profile_skipped" not in await stored_data(database)
