"""The services directory: ``services.yml``, the organisations the bot points people to."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, Any, Self

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


#: E.164: a plus, a country code and at most 15 digits in all, no spaces.
PhoneNumber = Annotated[str, StringConstraints(pattern=r"^\+[1-9][0-9]{6,14}$")]
#: A short number dialled inside a country (112, 17, 197...): no plus, 2 to 5 digits.
ShortNumber = Annotated[str, StringConstraints(pattern=r"^[0-9]{2,5}$")]
HttpsUrl = Annotated[
    str, StringConstraints(pattern=r"^https://[A-Za-z0-9.-]+\.[A-Za-z]{2,}(/[^\s]*)?$")
]
Email = Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$")]
ProperName = Annotated[str, StringConstraints(min_length=2, max_length=120)]


class ServiceArea(Strict):
    """Where a service helps people: all of Mali, Malian places, countries abroad."""

    #: Anywhere in Mali.
    national: bool = False
    #: Malians in any country abroad (a phone line or office that serves them all).
    abroad: bool = False
    #: Malian places (regions or towns) where it has an office or works.
    regions: list[PlaceName] = Field(default_factory=list)
    #: Countries abroad where it has an office or works (Mali is ``national``).
    countries: list[CountryName] = Field(default_factory=list)

    @model_validator(mode="after")
    def _no_repeats(self) -> Self:
        unique(self.regions, "places")
        unique(self.countries, "countries")
        return self

    @model_validator(mode="after")
    def _somewhere(self) -> Self:
        if not (self.national or self.abroad or self.regions or self.countries):
            raise ValueError("covers nowhere: give national, abroad, regions or countries")
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
    #: Opening hours: user-facing text, so a message key (``service.<id>.hours``).
    hours: MessageKey | None = None

    @model_validator(mode="after")
    def _no_repeats(self) -> Self:
        unique(self.phone, "phone numbers")
        unique(self.emergency, "emergency numbers")
        unique(self.whatsapp, "WhatsApp numbers")
        return self


class Service(Strict):
    id: Identifier
    #: The organisation's proper name, shown as is in every language.
    organisation: ProperName
    #: What it does for the user: a message key (``service.<id>.description``).
    description: MessageKey
    categories: list[ServiceCategory] = Field(min_length=1)
    coverage: ServiceArea
    #: Languages its staff serve people in (codes declared in languages.yml).
    languages: list[LanguageCode] = Field(min_length=1)
    contacts: Contacts = Field(default_factory=Contacts)
    #: Whether it has agreed to receive referrals from the bot. Where they go (its chat,
    #: its staff) is deployment configuration, never content: ``PARTNERS_FILE``.
    accepts_referrals: bool = False
    #: Where the contacts and the description come from, and when someone last checked.
    source: Annotated[str, StringConstraints(min_length=3)]
    verified_on: date

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
        unique(self.languages, "languages")
        return self


class ServicesFile(Strict):
    services: list[Service] = Field(min_length=1)
