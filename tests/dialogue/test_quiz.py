"""Myth-or-fact quizzes at the end of modules: feedback per answer, scores, stored answers."""

from __future__ import annotations

from sqlalchemy import select

from bot.content.catalog import Catalog
from bot.dialogue.engine import Engine
from bot.dialogue.types import Inbound, Outcome, State
from bot.store import repositories as repo
from bot.store.db import Database
from bot.store.models import QuizAnswer
from tests.support.conversation import command, help_intro, onboard, payloads, press

USER = "2002"


def quiz_topics(catalog: Catalog) -> list[str]:
    return [topic_id for topic_id, topic in catalog.topics.items() if topic.quiz]


async def open_last_card(engine: Engine, catalog: Catalog, topic_id: str, user: str) -> Outcome:
    last = len(catalog.topics[topic_id].cards) - 1
    return await engine.handle(press(user, f"card:{topic_id}:{last}"))


async def stored_answers(database: Database) -> list[QuizAnswer]:
    async with database.transaction() as session:
        return list((await session.scalars(select(QuizAnswer).order_by(QuizAnswer.id))).all())


def test_every_module_has_a_quiz_of_myths_and_facts(catalog: Catalog) -> None:
    modules = set(catalog.topics)
    assert set(quiz_topics(catalog)) >= modules - {"returnee_stories"}
    for topic_id in quiz_topics(catalog):
        for question in catalog.topics[topic_id].quiz:
            assert len({a.feedback for a in question.answers}) == len(question.answers)


async def test_each_quiz_runs_to_a_full_score_in_bambara(
    engine: Engine, catalog: Catalog, database: Database
) -> None:
    await onboard(engine, USER, "bm")
    total_questions = 0
    for topic_id in quiz_topics(catalog):
        topic = catalog.topics[topic_id]
        last = await open_last_card(engine, catalog, topic_id, USER)
        assert f"quiz:{topic_id}" in payloads(last)
        outcome = await engine.handle(press(USER, f"quiz:{topic_id}"))
        assert outcome.replies[0].text == catalog.text("quiz.intro", "bm").text
        for number, question in enumerate(topic.quiz):
            assert outcome.meta.state == State.QUIZ
            asked = outcome.replies[-1]
            assert asked.text == catalog.text(question.question, "bm").text
            right = next(i for i, a in enumerate(question.answers) if a.correct)
            answer_payloads = [
                f"quiz:{topic_id}:{question.id}:{i}" for i in range(len(question.answers))
            ]
            assert [b.payload for b in asked.buttons][: len(question.answers)] == answer_payloads
            outcome = await engine.handle(press(USER, answer_payloads[right]))
            feedback = catalog.text(question.answers[right].feedback, "bm").text
            assert outcome.replies[0].text == feedback
            if number < len(topic.quiz) - 1:
                following = topic.quiz[number + 1].id
                assert outcome.replies[0].buttons[0].payload == f"quiz:{topic_id}:{following}"
                outcome = await engine.handle(press(USER, f"quiz:{topic_id}:{following}"))
        score = catalog.text("quiz.score", "bm").text.format(
            correct=len(topic.quiz), total=len(topic.quiz)
        )
        assert outcome.replies[-1].text == score
        assert outcome.meta.state == State.MENU
        total_questions += len(topic.quiz)
    answers = await stored_answers(database)
    assert len(answers) == total_questions
    assert all(a.correct and a.user_id is not None and a.language == "bm" for a in answers)


async def test_wrong_answers_double_taps_and_stale_buttons(
    engine: Engine, catalog: Catalog, database: Database
) -> None:
    topic_id = quiz_topics(catalog)[0]
    topic = catalog.topics[topic_id]
    first = topic.quiz[0]
    wrong = next(i for i, a in enumerate(first.answers) if not a.correct)
    await onboard(engine, USER, "fr")
    await engine.handle(press(USER, f"quiz:{topic_id}"))
    tap = press(USER, f"quiz:{topic_id}:{first.id}:{wrong}")
    outcome = await engine.handle(tap)
    assert outcome.replies[0].text == catalog.text(first.answers[wrong].feedback, "fr").text
    await engine.handle(tap)  # the same button again: feedback again, counted once
    assert len(await stored_answers(database)) == 1

    # Answer the rest correctly: the score counts the first, wrong, answer.
    for question in topic.quiz[1:]:
        right = next(i for i, a in enumerate(question.answers) if a.correct)
        outcome = await engine.handle(press(USER, f"quiz:{topic_id}:{question.id}:{right}"))
    expected = catalog.text("quiz.score", "fr").text.format(
        correct=len(topic.quiz) - 1, total=len(topic.quiz)
    )
    assert outcome.replies[-1].text == expected

    stale = catalog.text("fallback.stale_button", "fr").text
    for payload in (
        "quiz:nowhere",
        f"quiz:{topic_id}:nope",
        f"quiz:{topic_id}:{first.id}:9",
        f"quiz:{topic_id}:{first.id}:x",
        f"quiz:{topic_id}:{first.id}:0:1",
    ):
        assert (await engine.handle(press(USER, payload))).replies[0].text == stale


async def test_answers_without_consent_are_counted_but_not_linked(
    engine: Engine, catalog: Catalog, database: Database
) -> None:
    topic_id = quiz_topics(catalog)[0]
    question = catalog.topics[topic_id].quiz[0]
    await engine.handle(command(USER, "start"))
    await engine.handle(press(USER, "lang:fr"))
    await engine.handle(press(USER, "consent:no"))
    await engine.handle(press(USER, f"quiz:{topic_id}:{question.id}:0"))
    answers = await stored_answers(database)
    assert len(answers) == 1 and answers[0].user_id is None
    async with database.transaction() as session:
        tally = await repo.quiz_tally(session, topic=topic_id)
    assert tally.answers == 1


async def test_commands_work_in_the_middle_of_a_quiz(engine: Engine, catalog: Catalog) -> None:
    topic_id = quiz_topics(catalog)[0]
    await onboard(engine, USER, "fr")
    await engine.handle(press(USER, f"quiz:{topic_id}"))
    help_reply = await engine.handle(Inbound(user_id=USER, command="help"))
    assert help_reply.replies[0].text.startswith(help_intro(catalog, "fr"))
    menu = await engine.handle(Inbound(user_id=USER, command="menu"))
    assert menu.meta.state == State.MENU
    language = await engine.handle(Inbound(user_id=USER, command="language"))
    assert payloads(language) == [f"lang:{code}" for code in catalog.languages]
    stop = await engine.handle(Inbound(user_id=USER, command="stop"))
    assert stop.replies[0].text == catalog.text("unsubscribe.done", "fr").text
