"""The rules of the services directory, on a small directory written for the test:
sources for every entry and contact, nearest offices, towns and regional offices in the
ranking, languages and hours not guessed, and what ``content status`` says is to check.

(The real directory is checked in test_services.py; the conversations that reach it in
test_directory_table.py.)
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from bot.content.catalog import Catalog
from bot.content.freshness import STALE_AFTER, freshness, freshness_text
from bot.content.loader import ContentError, load_catalog
from bot.routing.matching import ServiceMatch, match
from bot.routing.render import service_card
from tests.support.files import edit, line_of

#: One national service for every need, then services abroad at each distance.
MINI = """\
services:
  - id: mali_all
    organisation: "Service national"
    description: service.mali_emergency_lines.description
    categories: [emergency, return_assistance, reintegration, psychosocial, family_tracing,
                 consular, documents, diaspora_money, employment, legal_migration, protection]
    coverage:
      national: true
    languages: [fr, bm]
    contacts:
      phone: ["+22380001115"]
    sources:
      - title: "Page nationale"
        url: https://example.ml/national
        gives: [entry, phone, languages]
    verified_on: 2026-12-01

  - id: agadez_centre
    organisation: "Centre d'Agadez"
    description: service.iom_mali.description
    categories: [return_assistance]
    coverage:
      towns: [agadez]
    languages: unknown
    sources:
      - title: "Les centres de transit"
        url: https://example.org/centres
        gives: [entry]
    verified_on: 2026-12-01
    to_check: "no contact published for the centre itself"
    nearest: niger_office

  - id: niger_office
    organisation: "Bureau du Niger"
    description: service.iom_mali.description
    categories: [return_assistance]
    coverage:
      countries: [niger]
    languages: unknown
    contacts:
      phone: ["+22720000000"]
      hours: unknown
    sources:
      - title: "Bureau du Niger, contacts"
        url: https://example.org/niger
        gives: [entry, phone]
    verified_on: 2026-12-01

  - id: regional_office
    organisation: "Bureau régional"
    description: service.iom_mali.description
    categories: [return_assistance]
    coverage:
      countries: [senegal]
      regional: [niger, mauritania]
    languages: [fr]
    contacts:
      phone: ["+221338696200"]
    sources:
      - title: "Bureau régional"
        url: https://example.org/regional
        gives: [entry, phone, languages]
    verified_on: 2025-01-15

  - id: abroad_line
    organisation: "Ligne des Maliens de l'extérieur"
    description: service.dgme.description
    categories: [return_assistance]
    coverage:
      abroad: true
    languages: unknown
    contacts:
      website: https://example.ml/exterieur
    sources:
      - title: "Ministère"
        url: https://example.ml/exterieur
        gives: [entry, website]
    verified_on: 2026-12-01
"""


@pytest.fixture
def mini(tree: Path) -> Path:
    """A content tree whose directory is :data:`MINI`."""
    (tree / "services.yml").write_text(MINI, encoding="utf-8")
    return tree


def problems_of(tree: Path) -> list[str]:
    with pytest.raises(ContentError) as caught:
        load_catalog(tree)
    return [str(p) for p in caught.value.problems]


def ids(found: list[ServiceMatch]) -> list[str]:
    return [m.id for m in found]


def at(tree: Path, needle: str, reason: str) -> str:
    services = tree / "services.yml"
    return f"{services}:{line_of(services, needle)}: {reason}"


# --- ranking: nearest first ------------------------------------------------------------------


def test_the_town_then_the_country_then_the_regional_office_then_abroad(mini: Path) -> None:
    catalog = load_catalog(mini)
    found = match(catalog, "return_help", country="niger", town="agadez", language="fr")
    assert ids(found) == ["agadez_centre", "niger_office", "regional_office"]
    assert found[0].reasons == ("category:return_assistance", "covers:town:agadez")
    assert found[1].reasons == ("category:return_assistance", "covers:country:niger")
    assert found[2].reasons == ("category:return_assistance", "regional:niger", "speaks:fr")
    # Elsewhere in Niger: the town's centre is not for them.
    niamey = match(catalog, "return_help", country="niger", town="niamey", language="fr")
    assert ids(niamey) == ["niger_office", "regional_office", "abroad_line"]
    # A country with only the regional office, then the line for Malians abroad.
    mauritania = match(catalog, "return_help", country="mauritania", language="fr")
    assert ids(mauritania) == ["regional_office", "abroad_line"]
    # A town of another country (said in an older message) is ignored.
    assert ids(match(catalog, "return_help", country="senegal", town="agadez")) == [
        "regional_office",
        "abroad_line",
    ]
    # Nothing abroad for that need: the national service, as a fallback, never nothing.
    libya = match(catalog, "missing_person", country="libya", town="tripoli", language="bm")
    assert ids(libya) == ["mali_all"]
    assert libya[0].reasons == ("category:family_tracing", "fallback:national", "speaks:bm")


def test_languages_not_published_speak_none(mini: Path) -> None:
    catalog = load_catalog(mini)
    assert catalog.services["niger_office"].spoken == ()
    found = match(catalog, "return_help", country="niger", language="fr")
    assert not any(r.startswith("speaks:") for r in found[0].reasons)


def test_an_entry_without_contact_points_to_its_nearest_office(mini: Path) -> None:
    catalog = load_catalog(mini)
    card = service_card(catalog, catalog.services["agadez_centre"], "fr")
    nearest = catalog.text("service.nearest", "fr").text
    expected = nearest.format(organisation="Bureau du Niger", contact="+227 20 00 00 00")
    assert card.splitlines()[-1] == expected
    # Hours that are not published are not shown (nor guessed).
    office = service_card(catalog, catalog.services["niger_office"], "fr")
    assert "unknown" not in office
    hours_label = catalog.text("service.label.hours", "fr").text.split("{")[0]
    assert hours_label not in office


def test_an_entry_that_can_be_reached_comes_before_one_that_cannot(mini: Path) -> None:
    (mini / "services.yml").write_text(
        MINI.replace(
            "      countries: [niger]\n", "      towns: [agadez]\n      countries: [niger]\n"
        ),
        encoding="utf-8",
    )
    catalog = load_catalog(mini)
    found = match(catalog, "return_help", country="niger", town="agadez", language="fr")
    assert ids(found)[:2] == ["niger_office", "agadez_centre"]


# --- sources ---------------------------------------------------------------------------------


def test_an_entry_without_sources_is_refused(mini: Path) -> None:
    services = mini / "services.yml"
    edit(
        services,
        '    sources:\n      - title: "Ministère"\n        url: https://example.ml/exterieur\n'
        "        gives: [entry, website]\n",
        "",
    )
    found = problems_of(mini)
    assert at(mini, "- id: abroad_line", "missing required key 'sources'") in found, found


def test_a_contact_no_source_gives_is_refused(mini: Path) -> None:
    services = mini / "services.yml"
    edit(services, 'phone: ["+22720000000"]', 'phone: ["+22720000000"]\n      email: a@b.ne')
    found = problems_of(mini)
    assert any("no source gives: email" in p for p in found), found


def test_languages_need_a_source_too(mini: Path) -> None:
    edit(mini / "services.yml", "gives: [entry, phone, languages]", "gives: [entry, phone]")
    found = problems_of(mini)
    assert any("no source gives: languages" in p for p in found), found


def test_a_source_must_say_the_entry_exists(mini: Path) -> None:
    edit(mini / "services.yml", "gives: [entry, website]", "gives: [website]")
    found = problems_of(mini)
    assert any("no source gives the entry itself" in p for p in found), found


def test_a_source_is_a_page_with_an_address(mini: Path) -> None:
    edit(mini / "services.yml", "url: https://example.org/niger", "url: example.org/niger")
    found = problems_of(mini)
    assert any(f":{line_of(mini / 'services.yml', 'url: example.org/niger')}: " in p for p in found)


def test_no_contact_and_no_nearest_is_refused(mini: Path) -> None:
    edit(mini / "services.yml", "    nearest: niger_office\n", "")
    found = problems_of(mini)
    assert any("no contact: say which service nearby has one" in p for p in found), found


def test_the_nearest_office_must_exist_and_have_a_contact(mini: Path) -> None:
    services = mini / "services.yml"
    edit(services, "nearest: niger_office", "nearest: nowhere")
    found = problems_of(mini)
    assert (
        at(mini, "nearest: nowhere", "nearest 'nowhere' is not a service with a contact of its own")
        in found
    )


def test_towns_are_towns_abroad_of_places_yml(mini: Path) -> None:
    services = mini / "services.yml"
    edit(services, "towns: [agadez]", "towns: [agadez, atlantis, kita]")
    found = problems_of(mini)
    line = line_of(services, "atlantis")
    assert any(f":{line}: unknown town 'atlantis'" in p for p in found), found
    assert any(f":{line}: 'kita' is in Mali" in p for p in found), found


def test_a_country_is_either_served_in_person_or_regionally(mini: Path) -> None:
    edit(mini / "services.yml", "regional: [niger, mauritania]", "regional: [niger, senegal]")
    found = problems_of(mini)
    assert any("both served in person and regionally: senegal" in p for p in found), found


def test_every_need_has_a_national_service(mini: Path) -> None:
    edit(mini / "services.yml", "consular, documents, ", "")
    found = problems_of(mini)
    assert any("no national service for need 'documents'" in p for p in found), found
    assert not any("need 'rights_abroad'" in p for p in found), "protection still answers it"


# --- freshness -------------------------------------------------------------------------------


def test_status_counts_what_is_to_check_and_lists_what_is_stale(mini: Path) -> None:
    catalog: Catalog = load_catalog(mini)
    report = freshness(catalog, date(2026, 12, 4))
    assert report.total == 5
    assert [e.id for e in report.to_check] == ["agadez_centre"]
    assert [e.id for e in report.stale] == ["regional_office"]  # verified 2025-01-15
    text = freshness_text(report)
    assert "5 entries, 1 marked TO CHECK, 1 not verified for more than 183 days" in text
    assert "2025-01-15  regional_office  Bureau régional" in text
    assert "agadez_centre: no contact published for the centre itself" in text
    # Six months to the day is not stale yet.
    edge = freshness(catalog, date(2025, 1, 15) + STALE_AFTER)
    assert edge.stale == []
    assert [e.id for e in freshness(catalog, date(2025, 1, 15) + STALE_AFTER + timedelta(1)).stale]


# --- other loader errors, each on its line ---------------------------------------------------


def test_a_bad_phone_number_is_reported_on_its_line(mini: Path) -> None:
    edit(mini / "services.yml", '"+22720000000"', '"20 00 00 00"')
    line = line_of(mini / "services.yml", "20 00 00 00")
    found = problems_of(mini)
    assert any(p.startswith(f"{mini / 'services.yml'}:{line}: ") and "phone" in p for p in found)


def test_unknown_places_and_mali_as_a_country(mini: Path) -> None:
    services = mini / "services.yml"
    edit(services, "      national: true\n", "      national: true\n      regions: [atlantis]\n")
    edit(services, "countries: [niger]", "countries: [niger, narnia]")
    edit(services, "regional: [niger, mauritania]", "regional: [niger, mali]")
    found = problems_of(mini)
    assert any(f":{line_of(services, 'atlantis')}: " in p and "unknown place" in p for p in found)
    assert any(f":{line_of(services, 'narnia')}: " in p and "'narnia'" in p for p in found)
    assert any(f":{line_of(services, 'niger, mali')}: " in p and "national" in p for p in found)


def test_duplicated_ids_are_reported(mini: Path) -> None:
    services = mini / "services.yml"
    edit(services, "- id: abroad_line", "- id: niger_office")
    first = line_of(services, "- id: niger_office")
    second = line_of(services, "- id: niger_office", first)
    expected = f"{services}:{second}: service id 'niger_office' is repeated (first at line {first})"
    assert expected in problems_of(mini)


def test_unknown_language_and_missing_texts(mini: Path) -> None:
    services = mini / "services.yml"
    edit(services, "languages: [fr]", "languages: [fr, xx]")
    edit(services, "hours: unknown", "hours: service.niger_office.opening")
    edit(services, "gives: [entry, phone]\n", "gives: [entry, phone, hours]\n")
    edit(services, "description: service.dgme.description", "description: service.dgme.about")
    found = problems_of(mini)
    assert at(mini, "[fr, xx]", "language 'xx' is not declared in languages.yml") in found
    assert (
        at(
            mini,
            "service.niger_office.opening",
            "message 'service.niger_office.opening' has no fr text",
        )
        in found
    )
    assert at(mini, "service.dgme.about", "message 'service.dgme.about' has no fr text") in found


def test_no_national_emergency_service(mini: Path) -> None:
    edit(mini / "services.yml", "categories: [emergency, ", "categories: [")
    found = problems_of(mini)
    assert any("no national service for category 'emergency'" in p for p in found), found


def test_a_referral_chat_in_content_is_refused(mini: Path) -> None:
    """Where a service's referrals go is deployment configuration (PARTNERS_FILE): a chat
    id in the content, which anyone editing content could change, is refused."""
    edit(
        mini / "services.yml",
        "    verified_on: 2026-12-01\n",
        "    accepts_referrals: true\n    partner_chat_id: -1001234\n    verified_on: 2026-12-01\n",
    )
    found = problems_of(mini)
    assert any("partner_chat_id is no longer content" in p for p in found), found


def test_services_file_is_required(mini: Path) -> None:
    (mini / "services.yml").unlink()
    assert any("services.yml:1: cannot read file" in p for p in problems_of(mini))
