"""Places said in free text: the table of content/places.yml, and who is there."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.content import ContentError, load_catalog
from bot.content.catalog import Catalog
from bot.places import PLACES
from bot.routing.places import (
    Mention,
    PlaceFinder,
    Who,
    distance_km,
    finder,
    is_destination,
    leaver,
    speaker,
    speaker_before,
)
from tests.support.files import edit


@pytest.fixture(scope="module")
def places(catalog: Catalog) -> PlaceFinder:
    return finder(catalog)


def first(places: PlaceFinder, text: str) -> Mention | None:
    found = places.mentions(text)
    return found[0] if found else None


@pytest.mark.parametrize(
    ("text", "town", "country"),
    [
        ("je suis à Kita", "kita", "mali"),
        ("jsuis a laayoune", "laayoune", "morocco"),
        ("n be paris, n ka pasipori banna", "paris", "france"),
        ("on est bloqués a Agadez", "agadez", "niger"),
        ("je suis à Tamanraset", "tamanrasset", "algeria"),
        ("on est a in khalil", "in_khalil", "mali"),
        ("je suis a barcelona", "barcelone", "spain"),
        ("n bɛ Las Palmas", "las_palmas", "spain"),
        ("ici a SFAX la police nous cherche", "sfax", "tunisia"),
        ("chui a nouadhibou", "nouadhibou", "mauritania"),
        ("je vis a Montreuil", "montreuil", "france"),
        ("je suis à Diéma", "diema", "mali"),
        ("je suis à Yélimané", "yelimane", "mali"),
        ("on est a Sabha", "sabha", "libya"),
        ("n bɛ Abidjan", "abidjan", "cote_divoire"),
        ("je suis en espagne", None, "spain"),
        ("n bɛ Libi", None, "libya"),
    ],
)
def test_towns_and_countries_are_found_as_typed(
    places: PlaceFinder, text: str, town: str | None, country: str
) -> None:
    found = first(places, text)
    assert found is not None
    assert (found.country, found.town, found.who) == (country, town, Who.USER)


def test_a_malian_town_gives_its_place_for_the_region(places: PlaceFinder) -> None:
    kita = first(places, "je suis à Kita")
    assert kita is not None and kita.region == "kita" and PLACES["kita"] == "kayes"
    paris = first(places, "n be paris")
    assert paris is not None and paris.region is None
    # In Khalil is not a place of bot/places.py: its region stands for it.
    in_khalil = first(places, "on est a in khalil")
    assert in_khalil is not None and in_khalil.region == "kidal"


@pytest.mark.parametrize(
    "text",
    [
        "mon ami il est arrivé en espagne",
        "mon frère est à Tripoli",
        "ma soeur vit a Paris",
        "mon cousin est bloqué a Agadez",
        "n teri bɛ Faransi",
        "n balima be tripoli",
        "a bɛ Libi",
        "u be espagne",
        "il est en Libye depuis 2 ans",
        "ma famille est a Kayes",
    ],
)
def test_a_place_said_about_someone_else_is_not_the_users(places: PlaceFinder, text: str) -> None:
    found = places.mentions(text)
    assert found and all(m.who is Who.OTHER for m in found)


@pytest.mark.parametrize(
    "text",
    [
        "je veux partir en Libye",
        "jveu aller a paris",
        "n b'a fɛ ka taa Faransi",
        "je suis rentré de Libye",
        "j'étais à Tripoli l'an dernier",
        "comment envoyer de l'argent au mali",
        "expulsé d'Algérie",
    ],
)
def test_where_someone_goes_or_comes_from_is_not_a_location(places: PlaceFinder, text: str) -> None:
    assert places.mentions(text) == []


def test_the_user_and_someone_else_in_one_message(places: PlaceFinder) -> None:
    found = places.mentions("mon frère est à Tripoli et moi je suis à Sabha")
    assert [(m.town, m.who) for m in found] == [("tripoli", Who.OTHER), ("sabha", Who.USER)]
    found = places.mentions("je suis a bamako et je veux partir en libye")
    assert [(m.town, m.who) for m in found] == [("bamako", Who.USER)]
    # "il y a" is no one, and a name alone says nothing of who is there.
    found = places.mentions("il y a la police partout a Sfax")
    assert [(m.town, m.who) for m in found] == [("sfax", Who.UNKNOWN)]
    found = places.mentions("libye")
    assert [(m.country, m.who) for m in found] == [("libya", Who.UNKNOWN)]


def test_whole_words_only(places: PlaceFinder) -> None:
    assert places.mentions("je suis malien") == []
    assert places.mentions("parisien") == []
    assert places.mentions("san 2019") == []  # "san" (a town) is also "year": not listed


def test_speaker_reads_the_nearest_subject() -> None:
    assert speaker(["je", "suis", "a"]) is Who.USER
    assert speaker(["mon", "frere", "est", "a"]) is Who.OTHER
    assert speaker(["n", "be"]) is Who.USER
    assert speaker(["n", "teri", "be"]) is Who.OTHER
    assert speaker([]) is Who.UNKNOWN
    assert speaker(["ici", "a"]) is Who.USER
    text = "je suis a Kayi mon frere est en Libi"
    assert speaker_before(text, text.index("Libi")) is Who.OTHER
    assert speaker_before(text, text.index("Kayi")) is Who.USER


def test_names_are_checked_by_the_loader(tree: Path) -> None:
    places = tree / "places.yml"
    edit(
        places,
        "{id: kita, country: mali, names: [kita]",
        "{id: kita, country: mali, names: [paris]",
    )
    with pytest.raises(ContentError, match="paris"):
        load_catalog(tree)


def test_a_malian_town_must_be_a_known_place_or_give_its_region(tree: Path) -> None:
    places = tree / "places.yml"
    edit(places, "{id: kita, country: mali", "{id: kitaa, country: mali")
    with pytest.raises(ContentError, match="kitaa"):
        load_catalog(tree)
    edit(places, "{id: kitaa, country: mali", "{id: kitaa, country: mali, region: kayes")
    load_catalog(tree)
    edit(places, "{id: paris, country: france", "{id: paris, country: france, region: kayes")
    with pytest.raises(ContentError, match="abroad"):
        load_catalog(tree)


def test_the_file_is_optional(tree: Path) -> None:
    (tree / "places.yml").unlink()
    catalog = load_catalog(tree)
    assert catalog.places is None
    assert PlaceFinder(None).mentions("je suis à Kita") == []


# --- Destinations, who is leaving, shared locations ---------------------------------------


@pytest.mark.parametrize(
    ("text", "country", "who"),
    [
        ("jveu partir en espagne cmt faire", "spain", Who.USER),
        ("n b'a fe ka taa faransi", "france", Who.USER),
        ("je suis a bamako et je veux partir en libye", "libya", Who.USER),
        ("mon fils veut partir en libye", "libya", Who.OTHER),
        ("n denke b'a fe ka taa libi", "libya", Who.OTHER),
        ("partir au maroc", "morocco", Who.UNKNOWN),
    ],
)
def test_a_destination_and_who_goes_there(
    places: PlaceFinder, text: str, country: str, who: Who
) -> None:
    found = places.destinations(text)
    assert [(d.country, d.who) for d in found] == [(country, who)]
    assert all(m.country != country for m in places.mentions(text))


def test_family_pushing_the_user_to_go_is_the_users_destination(places: PlaceFinder) -> None:
    text = "ma mere veut que je parte en libye"
    assert places.mentions(text) == []  # never where the user is
    assert [(d.country, d.who) for d in places.destinations(text)] == [("libya", Who.USER)]
    assert leaver(text) is Who.USER


def test_coming_back_is_not_a_destination(places: PlaceFinder) -> None:
    assert places.destinations("je suis rentre de libye") == []
    assert places.destinations("mon ami est en espagne") == []


def test_who_is_leaving_is_the_subject_of_the_going_word() -> None:
    assert leaver("mon frere veut aller en europe") is Who.OTHER
    assert leaver("ma fille veut partir") is Who.OTHER
    assert leaver("je veux partir") is Who.USER
    assert leaver("jveu partir") is Who.USER
    assert leaver("c quoi les chemins legaux") is None


def test_an_entity_after_a_going_word_is_a_destination() -> None:
    text = "je veux partir en espagne"
    assert is_destination(text, text.index("espagne"))
    text = "je suis en espagne"
    assert not is_destination(text, text.index("espagne"))


def test_a_shared_location_is_the_nearest_town_within_reach(places: PlaceFinder) -> None:
    kita = places.nearest(13.05, -9.45)
    assert kita is not None and (kita.id, kita.place) == ("kita", "kita")
    sfax = places.nearest(34.80, 10.70)
    assert sfax is not None and sfax.country == "tunisia"
    # Agadez is about 150 km away: still Niger.
    agadez = places.nearest(17.5, 9.0)
    assert agadez is not None and agadez.country == "niger"
    assert places.nearest(0.0, -30.0) is None  # the middle of the Atlantic
    assert places.nearest(-33.9, 18.4) is None  # Cape Town: far from every known town


def test_distances_are_great_circle_kilometres() -> None:
    # Bamako to Dakar is about 1,050 km as the crow flies.
    assert 1000 < distance_km((12.64, -8.00), (14.69, -17.44)) < 1100
    assert distance_km((12.64, -8.00), (12.64, -8.00)) == 0


def test_every_known_town_has_coordinates_inside_its_country_s_reach(catalog: Catalog) -> None:
    assert catalog.places is not None
    for town in catalog.places.towns:
        assert town.at is not None, town.id
        nearest = finder(catalog).nearest(*town.at)
        assert nearest is not None and nearest.country == town.country, town.id


def test_a_country_route_must_be_a_known_topic(tree: Path) -> None:
    edit(tree / "places.yml", "route: leave_sea", "route: leave_nowhere")
    with pytest.raises(ContentError, match="leave_nowhere"):
        load_catalog(tree)
