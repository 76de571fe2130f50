"""Canonical place and country values: the ones the NLU entities produce.

``place_ml`` and ``country`` entities are normalised by the synonym blocks of
``nlu/data/nlu.yml`` to the lower-case values below; the services directory
(``content/services.yml``) and the matching use exactly the same values, so a
place the NLU recognises is a place a service can cover. Kept here, in one place;
a test holds this list and the NLU synonyms together. A leaf in the lowest layer,
because rooms on several floors read it: the content models validate against it
(services, campaign segments), the store's audience queries expand regions to towns
with it, and the matching and the dialogue name places with it.
"""

from __future__ import annotations

#: Mali itself, as the ``country`` entity names it.
HOME_COUNTRY = "mali"

#: Every Malian place the ``place_ml`` entity knows -> the region it lies in
#: (the Bamako district and the eight regions as people commonly name them; a
#: region maps to itself). A service covering a region covers the places in it.
PLACES: dict[str, str] = {
    # Regions (and the Bamako district).
    "bamako": "bamako",
    "kayes": "kayes",
    "koulikoro": "koulikoro",
    "sikasso": "sikasso",
    "segou": "segou",
    "mopti": "mopti",
    "tombouctou": "tombouctou",
    "gao": "gao",
    "kidal": "kidal",
    # Towns and circles.
    "kita": "kayes",
    "nioro": "kayes",
    "yelimane": "kayes",
    "diema": "kayes",
    "kenieba": "kayes",
    "bafoulabe": "kayes",
    "kati": "koulikoro",
    "bougouni": "sikasso",
    "koutiala": "sikasso",
    "san": "segou",
    "niono": "segou",
    "djenne": "mopti",
    "bandiagara": "mopti",
    "douentza": "mopti",
    "ansongo": "gao",
    "bourem": "gao",
    # Regions created since 2016, under the region they were carved from, which is
    # how the services directory names where organisations work.
    "menaka": "gao",
    "taoudeni": "tombouctou",
}

#: The regions, each once, in the order above.
REGIONS: tuple[str, ...] = tuple(dict.fromkeys(PLACES.values()))

#: Every country the ``country`` entity knows, Mali included.
COUNTRIES: frozenset[str] = frozenset(
    {
        HOME_COUNTRY,
        "algeria",
        "burkina_faso",
        "canada",
        "cote_divoire",
        "france",
        "guinea",
        "italy",
        "libya",
        "mauritania",
        "morocco",
        "niger",
        "senegal",
        "spain",
        "tunisia",
    }
)

#: Countries a Malian can be abroad in.
ABROAD: frozenset[str] = COUNTRIES - {HOME_COUNTRY}


def region_of(place: str | None) -> str | None:
    """The region a known Malian place lies in; ``None`` for an unknown place."""
    return PLACES.get(place) if place is not None else None
