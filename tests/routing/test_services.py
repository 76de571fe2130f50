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
from bot.content.needs import NATIONAL_CATEGORIES
from bot.places import COUNTRIES, PLACES, REGIONS
from bot.routing.matching import NEEDS, ServiceMatch, match
from bot.routing.render import LABEL_KEYS, format_phone, service_card
from tests.support.environment import CONTENT_DIR
from tests.support.files import edit, line_of

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
    assert len(catalog.services) >= 10
    for service in catalog.services.values():
        assert service.source and service.verified_on
        assert service.description == f"service.{service.id}.description"
        # No partner has agreed to referrals yet (and where they would go is not content).
        assert not service.accepts_referrals


def test_every_need_category_has_a_national_service_and_emergency_first(catalog: Catalog) -> None:
    assert NATIONAL_CATEGORIES[0] is ServiceCategory.EMERGENCY
    national = [s for s in catalog.services.values() if s.coverage.national]
    for category in NATIONAL_CATEGORIES:
        assert any(category in s.categories for s in national), category


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
        if service.contacts.hours:
            keys.add(service.contacts.hours)
    for key in keys:
        assert key in catalog.messages["fr"], key
        assert key in catalog.messages["bm"], key
    for key in keys - set(LABEL_KEYS):
        for code in ("fr", "bm"):
            entry = catalog.messages[code][key]
            assert entry.source and entry.verified_on, f"{code}:{key} has no source"


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


# (need, location, language) -> the services, in order, and the reasons of the first one.
TABLE: list[tuple[str, str, str, list[str], tuple[str, ...]]] = [
    (
        "return_help",
        "bamako",
        "bm",
        ["ame", "aracem", "iom_mali"],
        ("category:return_assistance", "covers:region:bamako", "speaks:bm"),
    ),
    (
        "return_help",
        "kayes",
        "fr",
        ["iom_mali", "dgme", "ministry_maliens_exterieur"],
        ("category:return_assistance", "covers:region:kayes", "speaks:fr"),
    ),
    (
        "return_help",
        "kita (a town of kayes)",
        "bm",
        ["iom_mali", "dgme", "ministry_maliens_exterieur"],
        ("category:return_assistance", "covers:region:kayes", "speaks:bm"),
    ),
    (
        "return_help",
        "gao",
        "fr",
        ["caritas_gao", "iom_mali", "dgme"],
        ("category:return_assistance", "covers:region:gao", "speaks:fr"),
    ),
    (
        "return_help",
        "libya",
        "bm",
        ["dgme", "hcme", "iom_dakar_regional"],
        ("category:return_assistance", "abroad", "speaks:fr"),
    ),
    (
        "emergency",
        "libya",
        "fr",
        ["iom_dakar_regional"],
        ("category:emergency", "abroad", "speaks:fr"),
    ),
    (
        "emergency",
        "libya",
        "bm",
        ["iom_dakar_regional"],
        ("category:emergency", "abroad", "speaks:fr"),
    ),
    (
        "emergency",
        "bamako",
        "bm",
        ["mali_emergency_lines"],
        ("category:emergency", "fallback:national", "speaks:bm"),
    ),
    (
        "emergency",
        "unknown",
        "fr",
        ["mali_emergency_lines", "iom_dakar_regional"],
        ("category:emergency", "national", "speaks:fr"),
    ),
    (
        "documents",
        "france (diaspora)",
        "fr",
        ["embassy_mali_france", "dgme"],
        ("category:documents", "category:consular", "covers:country:france", "speaks:fr"),
    ),
    (
        "documents",
        "algeria, from kayes",
        "fr",
        ["dgme"],
        ("category:documents", "category:consular", "abroad", "speaks:fr"),
    ),
    (
        "diaspora_money",
        "france (diaspora)",
        "fr",
        ["hcme", "ministry_maliens_exterieur"],
        ("category:diaspora_money", "abroad", "speaks:fr"),
    ),
    (
        "reintegration",
        "libya",
        "bm",
        ["iom_mali", "anpe"],
        ("category:reintegration", "fallback:national", "speaks:bm"),
    ),
    (
        "reintegration",
        "bamako",
        "fr",
        ["ame", "iom_mali", "anpe"],
        ("category:reintegration", "covers:region:bamako", "speaks:fr"),
    ),
    (
        "psychosocial",
        "kayes",
        "snk",
        ["iom_mali"],
        ("category:psychosocial", "covers:region:kayes", "speaks:bm"),
    ),
    (
        "missing_person",
        "gao",
        "fr",
        ["red_cross_rfl"],
        ("category:family_tracing", "fallback:national", "speaks:fr"),
    ),
    (
        "local_opportunities",
        "mali, place unknown",
        "bm",
        ["anpe"],
        ("category:employment", "national", "speaks:bm"),
    ),
    (
        "legal_migration",
        "an unknown place",
        "fr",
        ["anpe"],
        ("category:legal_migration", "national", "speaks:fr"),
    ),
    (
        "ask_human",
        "bamako",
        "fr",
        ["ame", "iom_mali", "aracem"],
        (
            "category:psychosocial",
            "category:return_assistance",
            "covers:region:bamako",
            "speaks:fr",
        ),
    ),
]


@pytest.mark.parametrize(
    ("need", "location", "language", "expected", "first_reasons"),
    TABLE,
    ids=[f"{n}-{loc}-{lang}" for n, loc, lang, _e, _r in TABLE],
)
def test_matching_table(
    catalog: Catalog,
    need: str,
    location: str,
    language: str,
    expected: list[str],
    first_reasons: tuple[str, ...],
) -> None:
    found = match(catalog, need, language=language, **LOCATIONS[location])
    assert ids(found) == expected
    assert found[0].reasons == first_reasons
    assert found[0].as_meta() == {"id": expected[0], "reasons": list(first_reasons)}


def test_a_language_nobody_speaks_still_gets_an_answer(catalog: Catalog) -> None:
    assert not any("ses" in s.languages for s in catalog.services.values())
    found = match(catalog, "psychosocial", region="bamako", language="ses")
    assert ids(found) == ["ame", "iom_mali"]
    assert all("speaks:bm" in m.reasons for m in found)  # ses falls back to bm
    unknown = match(catalog, "emergency", language="xx")
    assert ids(unknown) == ["mali_emergency_lines", "iom_dakar_regional"]


def test_language_breaks_ties_and_then_the_id(catalog: Catalog) -> None:
    base = catalog.services["dgme"]
    twin = base.model_copy(update={"id": "aaa_twin", "languages": ["fr"]})
    speaker = base.model_copy(update={"id": "zzz_speaker", "languages": ["fr", "bm"]})
    services = {"aaa_twin": twin, **catalog.services, "zzz_speaker": speaker}
    crafted = dataclasses.replace(catalog, services=services)
    found = match(crafted, "documents", language="bm", limit=10)
    assert ids(found) == ["zzz_speaker", "aaa_twin", "dgme"]
    found = match(crafted, "documents", language="fr", limit=10)
    assert ids(found) == ["aaa_twin", "dgme", "zzz_speaker"]


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


def test_fallback_to_national_when_nothing_local_fits(tree: Path) -> None:
    services = tree / "services.yml"
    edit(services, "regions: [bamako, mopti, tombouctou, gao, kayes, sikasso]", "regions: [gao]")
    catalog = load_catalog(tree)
    found = match(catalog, "return_help", region="kayes", language="fr")
    assert ids(found) == ["dgme", "iom_mali", "ministry_maliens_exterieur"]  # all speak fr: id
    assert all("fallback:national" in m.reasons for m in found)
    assert all("national" not in m.reasons for m in found)
    # Abroad with nothing for that country or for Malians abroad: national services.
    edit(services, "abroad: true\n      countries: [senegal]", "countries: [senegal]")
    catalog = load_catalog(tree)
    found = match(catalog, "emergency", country="libya", language="fr")
    assert ids(found) == ["mali_emergency_lines"]
    assert found[0].reasons == ("category:emergency", "fallback:national", "speaks:fr")
    senegal = match(catalog, "emergency", country="senegal", language="fr")
    assert ids(senegal) == ["iom_dakar_regional", "senegal_emergency_lines"]
    assert "covers:country:senegal" in senegal[0].reasons


@pytest.mark.parametrize(
    ("country", "lines"),
    [
        ("morocco", "morocco_emergency_lines"),
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
    assert lines not in ids(match(catalog, "emergency", country="libya", language="fr"))


# --- loader errors ---------------------------------------------------------------------------


def test_a_bad_phone_number_is_reported_on_its_line(tree: Path) -> None:
    services = tree / "services.yml"
    edit(services, '"+221338696200"', '"33 869 62 00"')
    line = line_of(services, "33 869 62 00")
    found = problems_of(tree)
    assert any(p.startswith(f"{services}:{line}: ") and "phone" in p for p in found), found


def test_an_unknown_region_is_reported_on_its_line(tree: Path) -> None:
    services = tree / "services.yml"
    edit(services, "regions: [gao]", "regions: [gao, atlantis]")
    line = line_of(services, "atlantis")
    found = problems_of(tree)
    assert any(
        p.startswith(f"{services}:{line}: ") and "unknown place 'atlantis'" in p for p in found
    ), found


def test_unknown_country_and_mali_as_a_country(tree: Path) -> None:
    services = tree / "services.yml"
    edit(services, "countries: [france]", "countries: [france, narnia]")
    edit(services, "countries: [senegal]", "countries: [senegal, mali]")
    found = problems_of(tree)
    assert any(f":{line_of(services, 'narnia')}: " in p and "'narnia'" in p for p in found)
    assert any(f":{line_of(services, 'senegal, mali')}: " in p and "national" in p for p in found)


def test_a_missing_source_is_reported(tree: Path) -> None:
    services = tree / "services.yml"
    edit(services, '    source: "abamako.com"\n', "")
    line = line_of(services, "- id: aracem")
    found = problems_of(tree)
    assert f"{services}:{line}: missing required key 'source'" in found, found


def test_duplicated_ids_are_reported(tree: Path) -> None:
    services = tree / "services.yml"
    edit(services, "- id: aracem", "- id: ame")
    first = line_of(services, "- id: ame")
    second = line_of(services, "- id: ame", first)
    expected = f"{services}:{second}: service id 'ame' is repeated (first at line {first})"
    assert expected in problems_of(tree)


def test_unknown_language_and_missing_texts(tree: Path) -> None:
    services = tree / "services.yml"
    edit(
        services,
        "languages: [fr]\n    contacts:\n      phone",
        "languages: [fr, xx]\n    contacts:\n      phone",
    )
    edit(services, "hours: service.ame.hours", "hours: service.ame.opening")
    edit(services, "description: service.hcme.description", "description: service.hcme.about")
    found = problems_of(tree)

    def at(needle: str, reason: str) -> str:
        return f"{services}:{line_of(services, needle)}: {reason}"

    assert at("[fr, xx]", "language 'xx' is not declared in languages.yml") in found
    assert at("service.ame.opening", "message 'service.ame.opening' has no fr text") in found
    assert at("service.hcme.about", "message 'service.hcme.about' has no fr text") in found


def test_no_national_service_for_a_need_is_a_dead_end(tree: Path) -> None:
    services = tree / "services.yml"
    edit(
        services,
        "    coverage:\n      national: true\n      regions: [bamako]  # headquarters",
        "    coverage:\n      regions: [bamako]  # headquarters",
    )
    found = problems_of(tree)
    assert any("no national service for category 'family_tracing'" in p for p in found), found


def test_no_national_emergency_service(tree: Path) -> None:
    services = tree / "services.yml"
    edit(services, "categories: [emergency]", "categories: [shelter]")
    found = problems_of(tree)
    assert any("no national service for category 'emergency'" in p for p in found), found


def test_a_referral_chat_in_content_is_refused(tree: Path) -> None:
    """Where a service's referrals go is deployment configuration (PARTNERS_FILE): a chat
    id in the content, which anyone editing content could change, is refused."""
    services = tree / "services.yml"
    edit(
        services,
        '    source: "abamako.com"\n',
        '    accepts_referrals: true\n    partner_chat_id: -1001234\n    source: "abamako.com"\n',
    )
    found = problems_of(tree)
    assert any("partner_chat_id is no longer content" in p for p in found), found


def test_services_file_is_required(tree: Path) -> None:
    (tree / "services.yml").unlink()
    assert any("services.yml:1: cannot read file" in p for p in problems_of(tree))


# --- cards -----------------------------------------------------------------------------------


def test_phone_formatting() -> None:
    assert format_phone("+22380001115") == "+223 80 00 11 15"
    assert format_phone("+221338696200") == "+221 33 869 62 00"
    assert format_phone("+33123456789") == "+33 1 23 45 67 89"
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
        if contacts.hours:
            assert catalog.text(contacts.hours, language).text in card
        no_contact = catalog.text("service.no_contact", language).text
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
