"""A request to erase one's data typed in free text (``content/privacy.yml``) leads
straight to the erasure's confirmation, whatever the NLU reads; a question about privacy
still gets the privacy answer, and an emergency still comes first."""

from __future__ import annotations

import pytest

from bot.content.catalog import Catalog
from bot.dialogue.engine import Engine
from bot.dialogue.flows.privacy import asks_to_forget
from bot.store.db import Database
from tests.support.conversation import onboard, payloads, stored_user, text
from tests.support.nlu import StubParser

USER = "5151"

REQUESTS = [
    # French, with and without accents, SMS style
    "je veux effacer mes données",
    "supprime mes donnees",
    "efface mes infos",
    "effacez tout sur moi",
    "SVP suprime mes donnes",
    "vous pouvez supprimer toutes mes données ?",
    # Bambara, with and without its special letters, and mixed
    "n ka kunnafoniw jɔsi",
    "n ka kunnafoniw josi",
    "n ka kunnafoniw jòsi",
    "n ka kunnafoniw bɔ",
    "n ka kunnafoniw bo",
    "aw ye n ka kunnafoniw jɔsi",
    "aw ye n ka kunnafoniw josi",
    "i ni ce, supprime n ka kunnafoniw",
]

NOT_REQUESTS = [
    "c pour la police ?",
    "qui voit mes messages",
    "qui lit mes messages ?",
    "mes données sont où ?",
    "n ka kunnafoniw",  # "my information": a question, not a request
    "n bɛ bɔ Kayes",  # "bɔ" alone: "I come from Kayes"
    "je veux partir en Libye",
]


@pytest.mark.parametrize("said", REQUESTS)
def test_requests_are_recognised(catalog: Catalog, said: str) -> None:
    assert asks_to_forget(catalog, said)


@pytest.mark.parametrize("said", NOT_REQUESTS)
def test_questions_and_other_texts_are_not_requests(catalog: Catalog, said: str) -> None:
    assert not asks_to_forget(catalog, said)


@pytest.mark.parametrize(
    ("said", "nlu_reading", "lang"),
    [
        ("je veux effacer mes données", ("privacy_question", 0.95), "fr"),
        ("supprime mes donnees", ("unsubscribe", 0.97), "fr"),  # the NLU's usual mistake
        ("efface mes infos", ("out_of_scope", 0.3), "fr"),
        ("n ka kunnafoniw jɔsi", ("unsubscribe", 0.9), "bm"),
        ("aw ye n ka kunnafoniw josi", ("privacy_question", 0.6), "bm"),
    ],
)
async def test_a_typed_request_gets_the_confirmation_in_the_person_s_language(
    engine: Engine,
    database: Database,
    stub_parser: StubParser,
    said: str,
    nlu_reading: tuple[str, float],
    lang: str,
) -> None:
    catalog = engine.catalog()
    await onboard(engine, USER, lang=lang)
    stub_parser.table[said] = nlu_reading
    asked = await engine.handle(text(USER, said))
    assert asked.meta.messages == ["forget.explain"]
    assert asked.replies[0].text == catalog.text("forget.explain", lang).text
    assert payloads(asked) == ["forget:yes", "forget:no"]
    # Only asked: the person and their subscription choice are untouched.
    user = await stored_user(database, USER)
    assert user.consent is True and user.language == lang


@pytest.mark.parametrize("said", ["c pour la police ?", "qui voit mes messages"])
async def test_privacy_questions_still_get_the_privacy_answer(
    engine: Engine, stub_parser: StubParser, said: str
) -> None:
    await onboard(engine, USER)
    stub_parser.table[said] = ("privacy_question", 0.95)
    answer = await engine.handle(text(USER, said))
    assert answer.meta.messages[0] == "intent.privacy_question"
    assert "forget.explain" not in answer.meta.messages
    assert "action:forget" in payloads(answer)


async def test_an_emergency_comes_before_the_request(
    engine: Engine, stub_parser: StubParser
) -> None:
    await onboard(engine, USER)
    said = "aidez moi je suis en danger, efface mes infos"
    stub_parser.table[said] = ("emergency", 0.95)
    answer = await engine.handle(text(USER, said))
    assert answer.meta.messages[0].startswith("intent.emergency")
    assert "forget.explain" not in answer.meta.messages


async def test_typing_the_yes_label_confirms_rather_than_asking_again(
    engine: Engine, database: Database
) -> None:
    catalog = engine.catalog()
    await onboard(engine, USER)
    await engine.handle(text(USER, "supprime mes donnees"))
    done = await engine.handle(text(USER, catalog.text("forget.yes", "fr").text))
    assert done.meta.messages == ["forget.done"]
    assert done.user is None


async def test_without_the_phrase_table_the_nlu_decides(
    engine: Engine, stub_parser: StubParser, monkeypatch: pytest.MonkeyPatch
) -> None:
    catalog = engine.catalog()
    monkeypatch.setattr(catalog, "privacy", None)
    monkeypatch.setattr(catalog, "version", "no-privacy-table")
    await onboard(engine, USER)
    stub_parser.table["supprime mes donnees"] = ("privacy_question", 0.95)
    answer = await engine.handle(text(USER, "supprime mes donnees"))
    assert answer.meta.messages[0] == "intent.privacy_question"


def test_every_language_has_requests_and_each_phrase_is_recognised(catalog: Catalog) -> None:
    assert catalog.privacy is not None
    assert set(catalog.privacy.forget) == set(catalog.languages)
    for phrases in catalog.privacy.forget.values():
        for phrase in phrases:
            assert asks_to_forget(catalog, f"svp {phrase} merci"), phrase


def test_no_privacy_question_keyword_is_taken_for_a_request(catalog: Catalog) -> None:
    keywords = catalog.intents["privacy_question"].keywords
    for words in keywords.values():
        for keyword in words:
            assert not asks_to_forget(catalog, keyword), keyword
