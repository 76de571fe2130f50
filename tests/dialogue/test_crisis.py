"""Thoughts of self-harm (issue 17, point 2): the person first, before any other question,
whatever the model's confidence; "are you safe?" answered by the next yes or no."""

from __future__ import annotations

from bot.content.catalog import Catalog
from bot.dialogue.engine import Engine
from bot.dialogue.types import State
from bot.nlu.types import NluResult, NluSource
from tests.support.conversation import USER, command, onboard, payloads, text
from tests.support.nlu import StubParser


def rasa(message: str, ranking: list[tuple[str, float]]) -> NluResult:
    return NluResult(
        text=message,
        intent=ranking[0][0],
        confidence=ranking[0][1],
        source=NluSource.RASA,
        ranking=tuple(ranking),
    )


def crisis_reply(catalog: Catalog, language: str = "fr") -> str:
    return catalog.text("intent.self_harm", language).text


async def test_a_self_harm_keyword_wins_over_the_model(
    engine: Engine, stub_parser: StubParser, catalog: Catalog
) -> None:
    await onboard(engine)
    message = "franchement je veux mourir"
    stub_parser.table[message] = ("psychosocial", 0.93)
    outcome = await engine.handle(text(USER, message))
    assert outcome.meta.intent == "self_harm"
    assert outcome.replies[0].text == crisis_reply(catalog)
    assert len(outcome.replies) == 1  # nothing else in the same answer


async def test_a_low_confidence_self_harm_is_still_self_harm(
    engine: Engine, stub_parser: StubParser, catalog: Catalog
) -> None:
    await onboard(engine)
    message = "des fois je pense que ca serait mieux si j etais plus la"
    stub_parser.table[message] = rasa(
        message, [("psychosocial", 0.41), ("self_harm", 0.22), ("risks_sea", 0.2)]
    )
    outcome = await engine.handle(text(USER, message))
    assert outcome.replies[0].text == crisis_reply(catalog)
    assert catalog.text("clarify.choose", "fr").text not in [r.text for r in outcome.replies]
    sent = payloads(outcome)
    assert "action:unsubscribe" not in sent
    assert not any(p.startswith(("quiz:", "age:", "sit:")) for p in sent)


async def test_before_any_question_even_before_a_language_is_chosen(
    engine: Engine, stub_parser: StubParser, catalog: Catalog
) -> None:
    message = "je veux plus vivre"
    stub_parser.table[message] = rasa(message, [("self_harm", 0.3), ("unsubscribe", 0.28)])
    outcome = await engine.handle(text(USER, message))
    assert [r.text for r in outcome.replies] == [crisis_reply(catalog)]
    assert outcome.meta.state in (State.NEW, State.CHOOSING_LANGUAGE)


async def test_not_safe_gets_the_emergency_contacts_at_once(
    engine: Engine, stub_parser: StubParser, catalog: Catalog
) -> None:
    await onboard(engine)
    stub_parser.table["je veux mourir"] = ("self_harm", 0.95)
    await engine.handle(text(USER, "je veux mourir"))
    stub_parser.table["non"] = ("deny", 0.98)
    answer = await engine.handle(text(USER, "non"))
    assert answer.replies[0].text == catalog.text("intent.emergency", "fr").text
    assert "intent:ask_human" in payloads(answer)
    # Answered once: a later "non" is an ordinary no again.
    later = await engine.handle(text(USER, "non"))
    assert later.replies[0].text != catalog.text("intent.emergency", "fr").text


async def test_safe_gets_the_people_who_listen(
    engine: Engine, stub_parser: StubParser, catalog: Catalog
) -> None:
    await onboard(engine)
    stub_parser.table["n b'a fɛ ka sa"] = ("self_harm", 0.9)
    await engine.handle(text(USER, "n b'a fɛ ka sa"))
    stub_parser.table["oui"] = ("affirm", 0.98)
    answer = await engine.handle(text(USER, "oui"))
    assert answer.meta.state == State.LOCATION or any(
        r.text == catalog.text("intent.psychosocial", "fr").text for r in answer.replies
    )


async def test_commands_still_work_after_the_crisis_reply(
    engine: Engine, stub_parser: StubParser, catalog: Catalog
) -> None:
    await onboard(engine)
    stub_parser.table["je veux mourir"] = ("self_harm", 0.95)
    await engine.handle(text(USER, "je veux mourir"))
    menu = await engine.handle(command(USER, "menu"))
    assert menu.meta.state == State.MENU
