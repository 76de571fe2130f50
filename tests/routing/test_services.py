"""The services directory (content/services.yml), the matching and the service cards."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from bot.config import PROJECT_ROOT
from bot.content.catalog import MAX_TEXT, Catalog
from bot.content.loader import ContentError, check_content, load_catalog
from bot.content.models import ServiceCategory
from bot.places import COUNTRIES, PLACES, REGIONS
from bot.routing.matching import NEEDS, ServiceMatch, match
from bot.routing.render import LABEL_KEYS, format_phone, service_card
from tests.support.environment import CONTENT_DIR

SERVICES = CONTENT_DIR / "services.yml"


def problems_of(tree: Path) -> list[str]:
    with pytest.raises(ContentError) as caught:
        load_catalog(tree)
    return [str(p) for p in caught.value.problems]


def ids(matches: list[ServiceMatch]) -> list[str]:
    return [m.id for m in matches]


# --- the directory ---------------------------------------------------------------------------


def test_real_services_file_validates(catalog: Catalog) -> None:
    assert check_content(CONTENT_DIR) == []
    assert len(catalog.services) >= 60
    for service in catalog.services.values():
        assert service.sources and service.verified_on
        assert service.description == f"service.{service.id}.description"
        # No partner has agreed to referrals yet (and where they would go is not content).
        assert not service.accepts_referrals


def test_every_need_has_a_national_service_and_emergency_is_national(catalog: Catalog) -> None:
    national = [s for s in catalog.services.values() if s.coverage.national]
    assert any(ServiceCategory.EMERGENCY in s.categories for s in national)
    for need, categories in NEEDS.items():
        assert any(c in s.categories for s in national for c in categories), need


COVERED_COUNTRIES = (
    "niger", "algeria", "libya", "tunisia", "morocco", "mauritania", "senegal",
    "cote_divoire", "burkina_faso", "guinea", "spain", "italy", "france",
)  # fmt: skip


@pytest.mark.parametrize("country", COVERED_COUNTRIES)
def test_every_country_on_the_routes_has_services_of_its_own(
    catalog: Catalog, country: str
) -> None:
    """Each country of the routes and the diaspora has its own entries: its emergency
    numbers, and at least return or consular help, reachable or pointing to an office."""
    own = [s for s in catalog.services.values() if country in s.coverage.countries]
    categories = {c for s in own for c in s.categories}
    assert ServiceCategory.EMERGENCY in categories, country
    assert any(s.contacts.emergency for s in own if ServiceCategory.EMERGENCY in s.categories)
    assert categories & {ServiceCategory.RETURN_ASSISTANCE, ServiceCategory.CONSULAR}, country
    assert len(own) >= 3, (country, [s.id for s in own])


def test_the_regions_people_leave_from_and_come_back_to(catalog: Catalog) -> None:
    """Reintegration and jobs in the regions of departure and return: an office there."""
    for need in ("reintegration", "local_opportunities"):
        for region in ("kayes", "bamako", "sikasso", "mopti", "gao", "tombouctou"):
            found = match(catalog, need, region=region, language="fr")
            assert any(f"covers:region:{region}" in m.reasons for m in found), (need, region)


def test_places_and_countries_are_the_nlu_canonical_values() -> None:
    data = YAML(typ="safe").load((PROJECT_ROOT / "nlu" / "data" / "nlu.yml").read_text("utf-8"))
    canonical = {block["synonym"] for block in data["nlu"] if "synonym" in block}
    assert canonical == set(PLACES) | COUNTRIES
    assert set(PLACES).isdisjoint(COUNTRIES)
    assert all(PLACES[region] == region for region in REGIONS)


def test_needs_are_intents_or_topics(catalog: Catalog) -> None:
    for need in NEEDS:
        assert need in catalog.intents or need in catalog.topics, need
    for need in ("return_help", "reintegration", "psychosocial", "missing_person", "emergency"):
        assert need in NEEDS
    assert NEEDS["emergency"] == (ServiceCategory.EMERGENCY,)


def test_card_texts_exist_in_french_and_bambara(catalog: Catalog) -> None:
    keys = set(LABEL_KEYS)
    for service in catalog.services.values():
        keys.add(service.description)
        if service.contacts.hours not in (None, "unknown"):
            keys.add(service.contacts.hours)
    for key in keys:
        assert key in catalog.messages["fr"], key
        assert key in catalog.messages["bm"], key


# --- matching --------------------------------------------------------------------------------

LOCATIONS: dict[str, dict[str, str | None]] = {
    "bamako": {"region": "bamako", "country": None},
    "kayes": {"region": "kayes", "country": None},
    "kita (a town of kayes)": {"region": "kita", "country": "mali"},
    "gao": {"region": "gao", "country": None},
    "libya": {"region": None, "country": "libya"},
    "niger": {"region": None, "country": "niger"},
    "algeria, from kayes": {"region": "kayes", "country": "algeria"},
    "france (diaspora)": {"region": None, "country": "france"},
    "mali, place unknown": {"region": None, "country": "mali"},
    "unknown": {"region": None, "country": None},
    "an unknown place": {"region": "atlantis", "country": None},
}
LANGUAGES = ["fr", "bm", "snk", "ses", "ff", "xx", None]


@pytest.mark.parametrize("need", sorted(NEEDS))
def test_every_need_has_an_answer_everywhere_in_every_language(catalog: Catalog, need: str) -> None:
    for where in LOCATIONS.values():
        for language in LANGUAGES:
            found = match(catalog, need, language=language, **where)
            assert 1 <= len(found) <= 3, (need, where, language)
            assert len(set(ids(found))) == len(found)
            for m in found:
                wanted = {c.value for c in NEEDS[need]}
                categories = {r.removeprefix("category:") for r in m.reasons if "category:" in r}
                assert categories and categories <= wanted
                assert categories <= {c.value for c in m.service.categories}


def test_a_language_nobody_speaks_still_gets_an_answer(catalog: Catalog) -> None:
    assert not any("ses" in s.spoken for s in catalog.services.values())
    for language in ("ses", "xx"):
        found = match(catalog, "psychosocial", region="bamako", language=language)
        assert found and all("covers:region:bamako" in m.reasons for m in found[:1])
        assert ids(match(catalog, "emergency", language=language))[0] == "mali_emergency_lines"


def test_language_breaks_ties_and_then_the_id(catalog: Catalog) -> None:
    base = catalog.services["dgme"]
    twin = base.model_copy(update={"id": "aaa_twin", "languages": ["fr"]})
    speaker = base.model_copy(update={"id": "zzz_speaker", "languages": ["fr", "bm"]})
    services = {"aaa_twin": twin, **catalog.services, "zzz_speaker": speaker}
    crafted = dataclasses.replace(catalog, services=services)
    found = match(crafted, "documents", language="bm", limit=10)
    assert ids(found) == ["zzz_speaker", "aaa_twin", "dgme"]
    found = match(crafted, "documents", language="fr", limit=10)
    # (dgme's languages are not published: it speaks none, so it comes last.)
    assert ids(found) == ["aaa_twin", "zzz_speaker", "dgme"]


def test_matching_is_deterministic_whatever_the_file_order(catalog: Catalog) -> None:
    reversed_catalog = dataclasses.replace(
        catalog, services=dict(reversed(list(catalog.services.items())))
    )
    for need in NEEDS:
        for where in LOCATIONS.values():
            first = match(catalog, need, language="bm", **where)
            assert match(catalog, need, language="bm", **where) == first
            assert match(reversed_catalog, need, language="bm", **where) == first


def test_at_most_three_and_the_limit(catalog: Catalog) -> None:
    many = match(catalog, "return_help", region="bamako", limit=10)
    assert len(many) > 3
    assert ids(match(catalog, "return_help", region="bamako")) == ids(many)[:3]
    assert ids(match(catalog, "return_help", region="bamako", limit=1)) == ids(many)[:1]
    assert match(catalog, "return_help", limit=0) == []


def test_a_need_outside_the_map_asks_nothing(catalog: Catalog) -> None:
    assert match(catalog, "greet") == []


@pytest.mark.parametrize(
    ("country", "lines"),
    [
        ("morocco", "morocco_emergency_lines"),
        ("algeria", "algeria_emergency_lines"),
        ("tunisia", "tunisia_emergency_lines"),
        ("senegal", "senegal_emergency_lines"),
        ("libya", "libya_emergency_lines"),
        ("spain", "eu_emergency_112"),
        ("burkina_faso", "burkina_faso_emergency_lines"),
        ("cote_divoire", "cote_divoire_emergency_lines"),
        ("guinea", "guinea_emergency_lines"),
        ("mauritania", "mauritania_emergency_lines"),
        ("niger", "niger_emergency_lines"),
    ],
)
def test_a_country_with_sourced_numbers_gets_its_own_lines(
    catalog: Catalog, country: str, lines: str
) -> None:
    found = {m.id: m for m in match(catalog, "emergency", country=country, language="fr")}
    assert lines in found, list(found)
    assert f"covers:country:{country}" in found[lines].reasons
    assert catalog.services[lines].contacts.emergency
    # Those numbers are dialled inside that country only: never offered elsewhere.
    elsewhere = "guinea" if country != "guinea" else "libya"
    assert lines not in ids(match(catalog, "emergency", country=elsewhere, language="fr"))


# (Loader errors are tested on a small directory: test_directory.py.)


# --- cards -----------------------------------------------------------------------------------


def test_phone_formatting() -> None:
    assert format_phone("+22380001115") == "+223 80 00 11 15"
    assert format_phone("+221338696200") == "+221 33 869 62 00"
    assert format_phone("+33123456789") == "+33 1 23 45 67 89"
    assert format_phone("+34661706462") == "+34 661 706 462"
    assert format_phone("+218910912743") == "+218 91 091 2743"
    assert format_phone("+21621234567") == "+216 21 234 567"
    assert format_phone("+21321234567") == "+21321234567"  # 8 digits: as written
    assert format_phone("+4930123456") == "+4930123456"


@pytest.mark.parametrize("language", ["fr", "bm", "snk"])
def test_every_card_shows_its_contacts_and_never_a_key(catalog: Catalog, language: str) -> None:
    keys = set(catalog.keys())
    for service in catalog.services.values():
        card = service_card(catalog, service, language)
        assert 0 < len(card) < MAX_TEXT
        assert card.splitlines()[0] == service.organisation
        assert catalog.text(service.description, language).text in card
        contacts = service.contacts
        for number in [*contacts.phone, *contacts.whatsapp]:
            assert format_phone(number) in card
        for short in contacts.emergency:
            assert short in card
        for value in (contacts.address, contacts.website, contacts.email):
            if value:
                assert value in card
        if contacts.hours not in (None, "unknown"):
            assert catalog.text(contacts.hours, language).text in card
        no_contact = catalog.text("service.no_contact", language).text
        if service.nearest is not None:
            # No contact of its own: the nearest office that has one, named with it.
            nearest = catalog.services[service.nearest]
            assert nearest.organisation in card and no_contact not in card
        else:
            # A short emergency number (112, 17...) is a number to call too.
            reachable = contacts.phone or contacts.whatsapp or contacts.emergency
            assert (no_contact in card) == (not reachable)
        assert "{" not in card and "}" not in card
        assert not any(key in card for key in keys if key.startswith("service.")), card
        assert not re.search(r"\bservice\.[a-z_]+", card), card


def test_cards_are_in_the_users_language(catalog: Catalog) -> None:
    fr = service_card(catalog, catalog.services["mali_emergency_lines"], "fr")
    bm = service_card(catalog, catalog.services["mali_emergency_lines"], "bm")
    assert "Téléphone" in fr and "Telefɔni" in bm
    assert "+223 80 00 11 15" in fr and "+223 80 00 11 15" in bm
    assert fr != bm
