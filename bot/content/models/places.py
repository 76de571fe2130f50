"""``places.yml``: the towns and countries people name, and how they type them.

Each town has its country (a Malian town also its place in ``bot/places.py``, which
gives its region); each name has the spellings people type on a phone, without
accents or with a common mistake. The dialogue finds these names in free text, so a
place said in passing ("je suis a Kita", "n be paris") tells where someone is, and
the emergency contacts follow the country.
"""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import Field, StringConstraints, model_validator

from bot.content.models.common import (
    AnyCountryName,
    Identifier,
    LanguageCode,
    PlaceName,
    Strict,
)
from bot.nlu.normalise import fold
from bot.places import HOME_COUNTRY, PLACES

Latitude = Annotated[float, Field(ge=-90, le=90)]
Longitude = Annotated[float, Field(ge=-180, le=180)]

#: A name as typed: letters, digits, spaces, apostrophes and hyphens (folded when read).
TypedName = Annotated[str, StringConstraints(min_length=2, max_length=60)]


class KnownCountry(Strict):
    """A country and the names people type for it (French, Bambara, English...)."""

    id: AnyCountryName
    names: list[TypedName] = Field(min_length=1)
    #: The topic that answers someone thinking of going there (``topics/<id>.yml``):
    #: that route's risks, real costs and legal paths. None for Mali itself.
    route: Identifier | None = None


class KnownTown(Strict):
    """A town: its country; a Malian town is a place of ``bot/places.py`` or names the
    place (region) it lies in, so the services directory can cover it."""

    id: Identifier
    country: AnyCountryName
    #: For a Malian town that is not a place of ``bot/places.py``: the region it lies in.
    region: PlaceName | None = None
    names: list[TypedName] = Field(min_length=1)
    #: The town centre's public coordinates (latitude, longitude, in degrees): a location
    #: shared on the phone is read as the nearest known town.
    at: tuple[Latitude, Longitude] | None = None

    @model_validator(mode="after")
    def _malian_towns_are_known_places(self) -> Self:
        if self.country != HOME_COUNTRY:
            if self.region is not None:
                raise ValueError(f"town '{self.id}' is abroad: it has no Malian region")
        elif self.id not in PLACES and self.region is None:
            raise ValueError(
                f"Malian town '{self.id}' is not a place of bot/places.py: give its region"
                " (the services directory could not cover it)"
            )
        return self

    @property
    def place(self) -> str | None:
        """The ``bot/places.py`` name for the user's region (Malian towns only)."""
        if self.country != HOME_COUNTRY:
            return None
        return self.id if self.id in PLACES else self.region


class PlacesFile(Strict):
    countries: list[KnownCountry] = Field(min_length=1)
    towns: list[KnownTown] = Field(min_length=1)
    #: Words that ask for the emergency contacts again while an emergency is going on
    #: ("help", "dema", "qui appeler"): the numbers are repeated briefly, not the block.
    emergency_again: dict[LanguageCode, list[TypedName]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _each_name_once(self) -> Self:
        seen: dict[str, str] = {}
        entries = [(c.id, c.names) for c in self.countries] + [(t.id, t.names) for t in self.towns]
        ids = [entry_id for entry_id, _names in entries]
        repeated_ids = sorted({i for i in ids if ids.count(i) > 1})
        if repeated_ids:
            raise ValueError(f"ids repeated: {', '.join(repeated_ids)}")
        for entry_id, names in entries:
            for name in names:
                folded = fold(name)
                if not folded:
                    raise ValueError(f"{entry_id}: name '{name}' has no letters")
                other = seen.setdefault(folded, entry_id)
                if other != entry_id:
                    raise ValueError(f"name '{name}' is given to both '{other}' and '{entry_id}'")
        return self
