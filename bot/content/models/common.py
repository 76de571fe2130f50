"""What every content model shares: strict models, key and id shapes, place names.

Every model forbids unknown keys, so a typo in a content file is an error with its
file and line, not a silently ignored field.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints, WithJsonSchema

from bot.places import ABROAD, COUNTRIES, HOME_COUNTRY, PLACES

KEY_PATTERN = r"^[a-z0-9_]+(\.[a-z0-9_]+)*$"
ID_PATTERN = r"^[a-z0-9_]+$"

MessageKey = Annotated[str, StringConstraints(pattern=KEY_PATTERN, max_length=80)]
Identifier = Annotated[str, StringConstraints(pattern=ID_PATTERN, max_length=40)]
LanguageCode = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}$")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def unique(values: list[str], what: str) -> None:
    """Refuse a list naming the same value twice (for a validator: raises ValueError)."""
    repeated = sorted({v for v in values if values.count(v) > 1})
    if repeated:
        raise ValueError(f"{what} repeated: {', '.join(repeated)}")


def _known_place(place: str) -> str:
    if place not in PLACES:
        raise ValueError(f"unknown place '{place}' (known: {', '.join(PLACES)})")
    return place


def _known_country(country: str) -> str:
    if country == HOME_COUNTRY:
        raise ValueError(f"'{HOME_COUNTRY}' is not abroad: use national: true")
    if country not in ABROAD:
        raise ValueError(f"unknown country '{country}' (known: {', '.join(sorted(ABROAD))})")
    return country


def _any_country(country: str) -> str:
    if country not in COUNTRIES:
        raise ValueError(f"unknown country '{country}' (known: {', '.join(sorted(COUNTRIES))})")
    return country


#: A Malian place (region or town) as the ``place_ml`` entity names it (bot/places.py).
PlaceName = Annotated[
    str, AfterValidator(_known_place), WithJsonSchema({"type": "string", "enum": list(PLACES)})
]
#: A country abroad as the ``country`` entity names it (bot/places.py).
CountryName = Annotated[
    str,
    AfterValidator(_known_country),
    WithJsonSchema({"type": "string", "enum": sorted(ABROAD)}),
]
#: Any country the ``country`` entity knows, Mali included.
AnyCountryName = Annotated[
    str,
    AfterValidator(_any_country),
    WithJsonSchema({"type": "string", "enum": sorted(COUNTRIES)}),
]
