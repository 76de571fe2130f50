"""The services directory: ``services.yml``, the organisations the bot points people to."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, Any, Literal, Self

from pydantic import Field, StringConstraints, model_validator

from bot.content.models.common import (
    CountryName,
    Identifier,
    LanguageCode,
    MessageKey,
    PlaceName,
    Strict,
    unique,
)


class ServiceCategory(StrEnum):
    """What kind of help a service gives; the matching maps user needs to these."""

    RETURN_ASSISTANCE = "return_assistance"
    REINTEGRATION = "reintegration"
    PSYCHOSOCIAL = "psychosocial"
    FAMILY_TRACING = "family_tracing"
    CONSULAR = "consular"
    DOCUMENTS = "documents"
    DIASPORA_MONEY = "diaspora_money"
    EMPLOYMENT = "employment"
    LEGAL_MIGRATION = "legal_migration"
    EMERGENCY = "emergency"
    SHELTER = "shelter"
    CHILD_PROTECTION = "child_protection"
    #: Asylum and refugee protection (UNHCR and the organisations it works with).
    PROTECTION = "protection"
    #: Health care a migrant can get, whatever their papers.
    HEALTH = "health"
    #: Free legal advice: rights, papers, detention, expulsion.
    LEGAL_AID = "legal_aid"


#: E.164: a plus, a country code and at most 15 digits in all, no spaces.
PhoneNumber = Annotated[str, StringConstraints(pattern=r"^\+[1-9][0-9]{6,14}$")]
#: A number dialled inside a country only (112, 17, 197, a free-phone 900 202 202...):
#: no plus, 2 to 10 digits, written as dialled.
ShortNumber = Annotated[str, StringConstraints(pattern=r"^[0-9]{2,10}$")]
#: A website as its source gives it (https preferred; some offices publish only http).
HttpsUrl = Annotated[
    str, StringConstraints(pattern=r"^https?://[A-Za-z0-9.-]+\.[A-Za-z]{2,}(/[^\s]*)?$")
]
Email = Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$")]
ProperName = Annotated[str, StringConstraints(min_length=2, max_length=120)]
#: The address of a public page a fact was read on (http or https).
PageUrl = Annotated[
    str, StringConstraints(pattern=r"^https?://[A-Za-z0-9.-]+\.[A-Za-z]{2,}(:[0-9]+)?(/[^\s]*)?$")
]
#: A town of ``places.yml`` (checked against it by the loader).
TownId = Identifier
#: Said of what an organisation does not publish (its languages, its hours): not guessed.
UNKNOWN = "unknown"
Unknown = Literal["unknown"]


class Fact(StrEnum):
    """What a source page supports about a service."""

    #: The service exists and does what its entry says (categories, coverage).
    ENTRY = "entry"
    PHONE = "phone"
    EMERGENCY = "emergency"
    WHATSAPP = "whatsapp"
    ADDRESS = "address"
    WEBSITE = "website"
    EMAIL = "email"
    HOURS = "hours"
    LANGUAGES = "languages"


class Source(Strict):
    """A public page, named by its title and address, and what it supports."""

    title: Annotated[str, StringConstraints(min_length=3, max_length=600)]
    url: PageUrl
    gives: list[Fact] = Field(min_length=1)

    @model_validator(mode="after")
    def _no_repeats(self) -> Self:
        unique([fact.value for fact in self.gives], "facts")
        return self


class ServiceArea(Strict):
    """Where a service helps people: all of Mali, Malian places, countries abroad."""

    #: Anywhere in Mali.
    national: bool = False
    #: Malians in any country abroad (a phone line or office that serves them all).
    abroad: bool = False
    #: Malian places (regions or towns) where it has an office or works.
    regions: list[PlaceName] = Field(default_factory=list)
    #: Towns abroad (ids of ``places.yml``) where it has an office or a centre.
    towns: list[TownId] = Field(default_factory=list)
    #: Countries abroad where it has an office or works (Mali is ``national``).
    countries: list[CountryName] = Field(default_factory=list)
    #: A regional office: countries of its area, served from elsewhere. It comes after
    #: the services in the country itself.
    regional: list[CountryName] = Field(default_factory=list)

    @model_validator(mode="after")
    def _no_repeats(self) -> Self:
        unique(self.regions, "places")
        unique(self.towns, "towns")
        unique(self.countries, "countries")
        unique(self.regional, "regional countries")
        both = sorted(set(self.countries) & set(self.regional))
        if both:
            raise ValueError(f"countries both served in person and regionally: {', '.join(both)}")
        return self

    @model_validator(mode="after")
    def _somewhere(self) -> Self:
        if not (
            self.national
            or self.abroad
            or self.regions
            or self.towns
            or self.countries
            or self.regional
        ):
            raise ValueError(
                "covers nowhere: give national, abroad, regions, towns, countries or regional"
            )
        return self


class Contacts(Strict):
    """How to reach a service. Only contacts with a source; never an invented one."""

    phone: list[PhoneNumber] = Field(default_factory=list)
    #: Emergency short numbers dialled inside the country the service covers (112, 17...).
    emergency: list[ShortNumber] = Field(default_factory=list)
    whatsapp: list[PhoneNumber] = Field(default_factory=list)
    #: A postal or street address, as written locally (a proper name, not translated).
    address: ProperName | None = None
    website: HttpsUrl | None = None
    email: Email | None = None
    #: Opening hours: user-facing text, so a message key (``service.<id>.hours``);
    #: ``unknown`` when the organisation does not publish them.
    hours: Unknown | MessageKey | None = None

    @model_validator(mode="after")
    def _no_repeats(self) -> Self:
        unique(self.phone, "phone numbers")
        unique(self.emergency, "emergency numbers")
        unique(self.whatsapp, "WhatsApp numbers")
        return self

    def given(self) -> list[Fact]:
        """The kinds of contact filled in (each needs a source that gives it)."""
        filled = {
            Fact.PHONE: self.phone,
            Fact.EMERGENCY: self.emergency,
            Fact.WHATSAPP: self.whatsapp,
            Fact.ADDRESS: self.address,
            Fact.WEBSITE: self.website,
            Fact.EMAIL: self.email,
            Fact.HOURS: self.hours not in (None, UNKNOWN),
        }
        return [fact for fact, value in filled.items() if value]

    @property
    def reachable(self) -> bool:
        """Something a person can use to reach the service: a number, an address, a site."""
        return any(fact is not Fact.HOURS for fact in self.given())


class Service(Strict):
    id: Identifier
    #: The organisation's proper name, shown as is in every language.
    organisation: ProperName
    #: What it does for the user: a message key (``service.<id>.description``).
    description: MessageKey
    categories: list[ServiceCategory] = Field(min_length=1)
    coverage: ServiceArea
    #: Languages its staff serve people in (codes declared in languages.yml), as a
    #: source says; ``unknown`` when the organisation does not publish them.
    languages: Unknown | list[LanguageCode]
    contacts: Contacts = Field(default_factory=Contacts)
    #: Whether it has agreed to receive referrals from the bot. Where they go (its chat,
    #: its staff) is deployment configuration, never content: ``PARTNERS_FILE``.
    accepts_referrals: bool = False
    #: The pages the entry and each of its contacts come from.
    sources: list[Source] = Field(min_length=1)
    #: When someone last read those pages (``kunnafoni content status`` lists entries
    #: not verified for more than six months).
    verified_on: date
    #: Why the entry needs a person to check it (a contact read only in a press article,
    #: an old page...). Counted and listed by ``kunnafoni content status``.
    to_check: Annotated[str, StringConstraints(min_length=3, max_length=1500)] | None = None
    #: For an entry with no contact of its own: the nearest service that has one, which
    #: its card points to.
    nearest: Identifier | None = None

    @model_validator(mode="before")
    @classmethod
    def _no_chat_in_content(cls, data: Any) -> Any:
        if isinstance(data, dict) and "partner_chat_id" in data:
            raise ValueError(
                "partner_chat_id is no longer content: where a service's referrals go is set by"
                " the deployment in PARTNERS_FILE (see bot/partners.py); remove it here"
            )
        return data

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        unique([c.value for c in self.categories], "categories")
        if self.languages != UNKNOWN:
            if not self.languages:
                raise ValueError("languages: list them as a source gives them, or say unknown")
            unique(list(self.languages), "languages")
        return self

    @model_validator(mode="after")
    def _sourced(self) -> Self:
        given = {fact for source in self.sources for fact in source.gives}
        if Fact.ENTRY not in given:
            raise ValueError("no source gives the entry itself: add `entry` to a source's gives")
        needed = list(self.contacts.given())
        if self.languages != UNKNOWN:
            needed.append(Fact.LANGUAGES)
        missing = [fact.value for fact in needed if fact not in given]
        if missing:
            raise ValueError(
                f"no source gives: {', '.join(missing)} (every contact needs the page it was"
                " read on; remove what no page gives)"
            )
        if self.contacts.reachable and self.nearest is not None:
            raise ValueError("nearest is only for an entry without a contact of its own")
        if not self.contacts.reachable and self.nearest is None:
            raise ValueError("no contact: say which service nearby has one (nearest: <service id>)")
        return self

    @property
    def spoken(self) -> tuple[str, ...]:
        """The languages a source says its staff speak (none when unknown)."""
        return () if self.languages == UNKNOWN else tuple(self.languages)


class ServicesFile(Strict):
    services: list[Service] = Field(min_length=1)
