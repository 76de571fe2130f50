"""The intents of what young people really write (issue 17): each one answers in French and
Bambara, the crisis reply is safe and in every language, nothing ends in an unsubscribe."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.config import REVIEW_DAYS_PROMISED
from bot.content.catalog import Catalog
from bot.content.loader import check_content
from bot.content.models import Action
from tests.support.environment import CONTENT_DIR
from tests.support.nlu import NEW_INTENTS

ROUTES = ("leave_sea", "leave_desert", "leave_west_africa", "leave_elsewhere")
TOLL_FREE = ("80 00 11 15", "80 00 11 14", "80 00 11 16")
DOMAIN = Path(__file__).resolve().parents[2] / "nlu" / "domain.yml"


def texts_of(catalog: Catalog, name: str) -> list[str]:
    """The message keys a user reads when the intent answers (its reply, or its topic's cards)."""
    spec = catalog.intents[name]
    if spec.reply is not None:
        return [spec.reply]
    assert spec.topic is not None
    return [card.text for card in catalog.topics[spec.topic].cards]


def test_content_with_the_new_intents_passes_the_check() -> None:
    assert check_content(CONTENT_DIR) == []


def test_the_new_intents_are_in_the_nlu_domain_and_in_content(catalog: Catalog) -> None:
    domain = yaml.safe_load(DOMAIN.read_text(encoding="utf-8"))["intents"]
    for name in NEW_INTENTS:
        assert name in domain and name in catalog.intents, name


@pytest.mark.parametrize("name", NEW_INTENTS)
def test_each_new_intent_answers_in_french_and_bambara(catalog: Catalog, name: str) -> None:
    for key in [*texts_of(catalog, name), f"intent_label.{name}"]:
        for language in ("fr", "bm"):
            text = catalog.text(key, language)
            assert text.language == language and not text.fell_back, (key, language)
            assert 0 < len(text.text) <= 400, (key, language, len(text.text))


@pytest.mark.parametrize("name", NEW_INTENTS)
def test_no_new_intent_unsubscribes(catalog: Catalog, name: str) -> None:
    spec = catalog.intents[name]
    assert spec.action is None
    assert all(button.action is not Action.UNSUBSCRIBE for button in spec.buttons)


def test_the_crisis_reply_is_in_every_language_with_the_toll_free_numbers(
    catalog: Catalog,
) -> None:
    spec = catalog.intents["self_harm"]
    assert spec.reply == "intent.self_harm" and spec.topic is None
    for language in catalog.languages:
        text = catalog.text("intent.self_harm", language)
        assert text.language == language, language  # never a fallback in a crisis
        # "are you safe right now?" is asked, and the numbers are exactly the French ones
        assert "?" in text.text and all(number in text.text for number in TOLL_FREE), language
    # Buttons lead to people (the team, psychosocial services), never to a quiz or a stop.
    assert [b.intent for b in spec.buttons] == ["ask_human", "psychosocial"]


def test_thoughts_of_suicide_are_no_longer_emergency_keywords(catalog: Catalog) -> None:
    emergency = catalog.intents["emergency"].keywords
    self_harm = catalog.intents["self_harm"].keywords
    assert set(self_harm) == {"fr", "bm"}
    for language, phrases in self_harm.items():
        assert not set(phrases) & set(emergency.get(language, [])), language


def test_wanting_to_leave_asks_where_and_each_route_ends_on_what_helps(catalog: Catalog) -> None:
    spec = catalog.intents["intent_to_leave"]
    assert [b.topic for b in spec.buttons] == list(ROUTES)
    for route in ROUTES:
        cards = catalog.topics[route].cards
        assert 2 <= len(cards) <= 5
        # "Why?" is asked before the route's cards; the last card offers what helps.
        options = cards[-1]
        assert options.text == "leave.options"
        targets = {b.topic or b.intent for b in options.buttons}
        assert targets == {"home_opportunities", "legal_paths", "family_pressure", "ask_human"}


def test_going_anyway_is_not_a_goodbye(catalog: Catalog) -> None:
    spec = catalog.intents["going_anyway"]
    assert spec.reply != catalog.intents["goodbye"].reply
    text = catalog.text("intent.going_anyway", "fr").text
    assert "passeport" in text and "+221 33 869 62 00" in text


def test_the_privacy_answer_matches_the_consent_text(catalog: Catalog) -> None:
    fr = catalog.text("intent.privacy_question", "fr").text
    consent = catalog.text("onboarding.consent", "fr").text
    assert "police" in fr
    # It says what the consent question says is kept, and that no name or number is asked.
    assert "ni ton nom ni ton numéro" in fr and "ni ton nom ni ton numéro" in consent
    for kept in ("ta langue", "la région ou le pays", "/privacy"):
        assert kept in fr and kept in consent, kept
    # The messages the bot did not understand are kept for the review queue, masked and
    # for 30 days at most: both texts say so, and neither still says "not your words".
    days = f"{REVIEW_DAYS_PROMISED:g} jours au plus"  # what the settings hold to
    for said in ("je ne comprends pas", "sans noms ni numéros", days):
        assert said in fr and said in consent, said
    assert "(pas tes mots)" not in fr and "(pas tes mots)" not in consent
    # What people type is not stored: neither text may say it is.
    for text in (fr, consent, catalog.text("onboarding.consent_declined", "fr").text):
        assert "questions que tu écris" not in text and "tes questions et" not in text
