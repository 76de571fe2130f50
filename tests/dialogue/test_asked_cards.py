"""Asking again about a module answers the question: the card about it, never card 1
(issue 17, point 9)."""

from __future__ import annotations

import pytest

from bot.content.catalog import Catalog
from bot.dialogue.engine import Engine
from bot.dialogue.questions import QuestionIndex
from tests.support.conversation import USER, onboard, press, text
from tests.support.nlu import StubParser

#: The modules people ask about again, each with at least one card answering a question.
ASKED_AGAIN = ("smugglers", "sea", "sahara", "libya", "legal_paths", "family_debt")


@pytest.mark.parametrize("topic", ASKED_AGAIN)
def test_the_modules_asked_about_again_have_question_cards(catalog: Catalog, topic: str) -> None:
    cards = catalog.topics[topic].cards
    assert any(card.asks.get("fr") for card in cards[1:]), topic


def test_a_question_is_found_as_whole_words(catalog: Catalog) -> None:
    questions = QuestionIndex(catalog)
    found = questions.card_for("et le paiement a credit c quoi")
    assert found is not None and (found.topic, found.index) == ("smugglers", 2)
    assert questions.card_for("bonjour") is None
    # Whole words: "credits" or "acredit" are not "a credit".
    assert questions.card_for("mes credits") is None


async def test_paying_later_inside_the_smugglers_module_opens_its_card(
    engine: Engine, stub_parser: StubParser
) -> None:
    await onboard(engine)
    first = await engine.handle(press(USER, "topic:smugglers"))
    assert first.meta.messages == ["topic.smugglers.card1"]
    stub_parser.table["et le paiement a credit c quoi"] = ("out_of_scope", 0.3)
    asked = await engine.handle(text(USER, "et le paiement a credit c quoi"))
    assert asked.meta.messages == ["topic.smugglers.card3"]
    assert (asked.meta.state, asked.meta.topic) == ("topic", "smugglers")


async def test_a_module_intent_with_a_question_gets_the_card_not_card_1(
    engine: Engine, stub_parser: StubParser
) -> None:
    await onboard(engine)
    stub_parser.table["les passeurs qui disent payer plus tard"] = ("smugglers", 0.9)
    asked = await engine.handle(text(USER, "les passeurs qui disent payer plus tard"))
    assert asked.meta.messages == ["topic.smugglers.card3"]


async def test_in_bambara_and_for_other_modules(engine: Engine, stub_parser: StubParser) -> None:
    await onboard(engine, lang="bm")
    stub_parser.down = True
    credit = await engine.handle(text(USER, "kredi ko ye mun ye"))
    assert credit.meta.messages == ["topic.smugglers.card3"]
    ecowas = await engine.handle(text(USER, "cedeao ka sira"))
    assert ecowas.meta.messages == ["topic.legal_paths.card2"]
    land = await engine.handle(text(USER, "u b'a fe ka foro feere n ka taama kama"))
    assert land.meta.messages == ["topic.family_debt.card2"]


async def test_a_need_the_nlu_is_sure_of_comes_before_a_card(
    engine: Engine, stub_parser: StubParser
) -> None:
    await onboard(engine)
    stub_parser.table["j'ai perdu mon visa et mon passeport"] = ("documents", 0.9)
    outcome = await engine.handle(text(USER, "j'ai perdu mon visa et mon passeport"))
    assert "topic.legal_paths.card3" not in outcome.meta.messages
    assert outcome.meta.intent == "documents"


def test_the_longer_question_wins(catalog: Catalog) -> None:
    questions = QuestionIndex(catalog)
    # "juru" (debt) is the family module's; "juru la" (on credit) is the smugglers' offer.
    debt = questions.card_for("an ka juru ka bon")
    assert debt is not None and debt.topic == "family_debt"
    credit = questions.card_for("u ko n bɛ se ka taa juru la")
    assert credit is not None and (credit.topic, credit.index) == ("smugglers", 2)
