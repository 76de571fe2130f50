"""Which services answer a user's need, where they are, in their language.

``match`` is deterministic: the same catalog, need, place and language always give
the same list, in the same order, with the same reasons. The rules (also in
docs/architecture.md, "Services matching"):

1. Candidates are the services having at least one category the need maps to (``NEEDS``).
2. Where the user is decides the tier of each candidate, nearest first:

   - in a country abroad: services in the very town the user named
     (``covers:town:<town>``), then those covering that country
     (``covers:country:<c>``), then regional offices whose area includes it
     (``regional:<c>``), then services for Malians in any country abroad (``abroad``).
     Services working only in Mali come only when none of those fit
     (``fallback:national``): a Malian toll-free number or a Bamako office does not
     help someone in Libya today.
   - in Mali, at a known place: services covering that very place
     (``covers:region:<place>``), then its region (``covers:region:<region>``), then
     national ones (``national``; ``fallback:national`` when nothing local fits).
   - in Mali, place unknown: national services (``national``).
   - location unknown: national services, then those for Malians abroad (``abroad``).

3. Within a tier: a service of the need's first category before one that only has a
   later one; then one whose main category (its first) is the need's before one that
   also does it; then one a person can reach directly before an entry that only points
   to its nearest office; then one speaking the user's language (or the nearest language
   of its fallback chain, ``speaks:<code>``; a service whose languages are not
   published speaks none); then by id.
4. At most ``limit`` (3) services, and never none: every need of ``NEEDS`` has a
   national service (the content loader requires it), the last resort anywhere.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from bot.content.catalog import Catalog
from bot.content.models import Service, ServiceCategory
from bot.content.needs import NEEDS
from bot.places import ABROAD, HOME_COUNTRY, PLACES, region_of

__all__ = ["NEEDS", "ServiceMatch", "match"]

logger = logging.getLogger(__name__)

#: How many service cards one answer shows at most.
MAX_SERVICES = 3


@dataclass(frozen=True)
class ServiceMatch:
    """A service chosen for a need, and why (machine-readable codes, for meta and logs)."""

    service: Service
    reasons: tuple[str, ...]

    @property
    def id(self) -> str:
        return self.service.id

    def as_meta(self) -> dict[str, object]:
        """The JSON shape for ``meta.services``: ``{"id": ..., "reasons": [...]}``."""
        return {"id": self.service.id, "reasons": list(self.reasons)}


#: Tier of a national service for someone abroad: shown only when nothing else fits.
_NATIONAL_ABROAD = 4


@dataclass(frozen=True)
class _Where:
    """The user's location, normalised: abroad in a country (and maybe a town of it),
    in Mali at a place, or unknown."""

    country: str | None  # a country abroad
    town: str | None  # a town of that country (places.yml)
    place: str | None  # a known Malian place
    in_mali: bool


def _where(catalog: Catalog, region: str | None, country: str | None, town: str | None) -> _Where:
    country = country.strip().lower() if country else None
    place = region.strip().lower() if region else None
    if country in ABROAD:
        # Abroad now: a Malian place said earlier is where they come from, not where they are.
        town = _town_in(catalog, town, country)
        return _Where(country=country, town=town, place=None, in_mali=False)
    known_place = place if place in PLACES else None
    in_mali = country == HOME_COUNTRY or known_place is not None
    return _Where(country=None, town=None, place=known_place, in_mali=in_mali)


def _town_in(catalog: Catalog, town: str | None, country: str) -> str | None:
    """``town`` if places.yml knows it in ``country`` (a town of another country is
    from an older message: the country said last wins)."""
    if town is None or catalog.places is None:
        return None
    known = next((t for t in catalog.places.towns if t.id == town), None)
    return town if known is not None and known.country == country else None


def _tier(service: Service, where: _Where) -> tuple[int, str] | None:
    """(rank, reason) of the service's coverage for this user; ``None``: not for them."""
    area = service.coverage
    if where.country is not None:
        if where.town is not None and where.town in area.towns:
            return 0, f"covers:town:{where.town}"
        if where.country in area.countries:
            return 1, f"covers:country:{where.country}"
        if where.country in area.regional:
            return 2, f"regional:{where.country}"
        if area.abroad:
            return 3, "abroad"
        if area.national:
            return _NATIONAL_ABROAD, "national"  # used only as a fallback, see match()
        return None
    if where.place is not None:
        if where.place in area.regions:
            return 0, f"covers:region:{where.place}"
        region = region_of(where.place)
        if region is not None and region in area.regions:
            return 1, f"covers:region:{region}"
        if area.national:
            return 2, "national"
        return None
    if area.national:
        return 2, "national"
    if area.abroad and not where.in_mali:
        return 3, "abroad"
    return None


def match(
    catalog: Catalog,
    need: str,
    *,
    region: str | None = None,
    country: str | None = None,
    town: str | None = None,
    language: str | None = None,
    limit: int = MAX_SERVICES,
) -> list[ServiceMatch]:
    """The services for ``need`` (an intent or topic of ``NEEDS``), best first.

    ``region`` is a ``place_ml`` value, ``country`` a ``country`` value (both as the
    NLU entities give them, or ``None``), ``town`` a town of ``places.yml`` in that
    country (abroad), ``language`` the user's language code.
    A need outside ``NEEDS`` asks nothing of the directory: the list is empty.
    """
    categories = NEEDS.get(need)
    if categories is None or limit < 1:
        return []
    where = _where(catalog, region, country, town)
    chain = catalog.chain(language)

    ranked: list[tuple[tuple[int, int, int, int, int, str], ServiceMatch]] = []
    for service in catalog.services.values():
        matched = [c for c in categories if c in service.categories]
        if not matched:
            continue
        tier = _tier(service, where)
        if tier is None:
            continue
        rank, coverage_reason = tier
        spoken = _spoken(service, chain)
        reasons = (
            *(f"category:{c.value}" for c in matched),
            coverage_reason,
            *((f"speaks:{spoken}",) if spoken is not None else ()),
        )
        category_rank = _category_rank(categories, matched)
        key = (
            rank,
            category_rank,
            # A service whose main kind of help this is, before one that also does it.
            0 if service.categories[0] is categories[category_rank] else 1,
            0 if service.contacts.reachable else 1,
            chain.index(spoken) if spoken is not None else len(chain),
            service.id,
        )
        ranked.append((key, ServiceMatch(service, reasons)))
    ranked.sort(key=lambda pair: pair[0])

    if where.country is not None:
        local = [m for key, m in ranked if key[0] < _NATIONAL_ABROAD]
        # Abroad: services working only in Mali come only when nothing else fits.
        chosen = local or [m for key, m in ranked if key[0] == _NATIONAL_ABROAD]
    else:
        local = [m for key, m in ranked if key[0] < 2]
        chosen = [m for _key, m in ranked]
    if not local and (where.country is not None or where.place is not None):
        chosen = [_as_fallback(m) for m in chosen]
    result = chosen[:limit]
    logger.info(
        "Services for %s: %s",
        need,
        "; ".join(f"{m.id} ({', '.join(m.reasons)})" for m in result) or "none",
    )
    return result


def _spoken(service: Service, chain: Sequence[str]) -> str | None:
    """The first language of the user's chain that the service speaks."""
    return next((code for code in chain if code in service.spoken), None)


def _category_rank(
    categories: Sequence[ServiceCategory], matched: Sequence[ServiceCategory]
) -> int:
    return min(categories.index(c) for c in matched)


def _as_fallback(found: ServiceMatch) -> ServiceMatch:
    reasons = tuple("fallback:national" if r == "national" else r for r in found.reasons)
    return ServiceMatch(found.service, reasons)
