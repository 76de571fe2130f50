"""Campaigns: ``broadcasts/<name>.yml``, who gets which message and when."""

from __future__ import annotations

from datetime import time
from enum import StrEnum
from typing import Annotated, Self

from pydantic import AwareDatetime, Field, StringConstraints, model_validator

from bot.content.models.common import (
    AnyCountryName,
    Identifier,
    LanguageCode,
    MessageKey,
    PlaceName,
    Strict,
    unique,
)


class AgeBracket(StrEnum):
    """Asked, optionally, when a user subscribes."""

    TEEN = "15-17"
    YOUNG = "18-24"
    ADULT = "25-34"
    OLDER = "35+"


#: The brackets of people under 18: minors (docs/privacy.md, "Minors").
MINOR_BRACKETS: frozenset[str] = frozenset({AgeBracket.TEEN.value})


def is_minor(age_bracket: str | None) -> bool:
    """Whether a stored age bracket is a minor's (unknown: not known to be one)."""
    return age_bracket in MINOR_BRACKETS


class Minors(StrEnum):
    """Whether a campaign may reach people who said they are 15-17."""

    #: The default: people who said they are 15-17 are left out of the audience.
    EXCLUDED = "excluded"
    #: Declared in the campaign file after checking its messages suit 15-17-year-olds.
    ALLOWED = "allowed"


class Situation(StrEnum):
    """Asked, optionally, when a user subscribes: where they stand with migration."""

    RESIDENT = "resident"
    RETURNEE = "returnee"
    DIASPORA = "diaspora"
    #: A parent (or relative) of a young person: never asked their own age.
    PARENT = "parent"


#: A deep-link payload (``t.me/<bot>?start=<payload>``), or the start of one.
SourcePayload = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
Days = Annotated[int, Field(ge=1, le=3650)]


class Segment(Strict):
    """Who a campaign is for, among subscribers who have not blocked the bot.

    Each criterion given narrows the audience (AND); the values of one criterion are
    alternatives (OR). ``regions`` and ``countries`` form one criterion (where the user
    said they are), as do ``sources`` and ``source_prefixes``. No criterion: every subscriber.
    """

    #: The user's chosen language.
    languages: list[LanguageCode] = Field(default_factory=list)
    #: Malian places; a region also matches the towns in it (bot/places.py).
    regions: list[PlaceName] = Field(default_factory=list)
    #: Countries, ``mali`` included (every user who said they are in Mali).
    countries: list[AnyCountryName] = Field(default_factory=list)
    age_brackets: list[AgeBracket] = Field(default_factory=list)
    situations: list[Situation] = Field(default_factory=list)
    #: The deep-link payload that first brought the user, exactly ...
    sources: list[SourcePayload] = Field(default_factory=list)
    #: ... or starting with one of these (``radio_`` matches ``radio_kayes``).
    source_prefixes: list[SourcePayload] = Field(default_factory=list)
    #: Users who opened at least one of these modules.
    topics_seen: list[Identifier] = Field(default_factory=list)
    #: Users who opened none of these modules.
    topics_not_seen: list[Identifier] = Field(default_factory=list)
    #: Users who wrote or tapped within this many days ...
    active_within_days: Days | None = None
    #: ... or who have been silent for at least this many days.
    inactive_for_days: Days | None = None
    #: People who said they are 15-17 are left out unless this says ``allowed``.
    minors: Minors = Minors.EXCLUDED

    @property
    def excluded_age_brackets(self) -> list[str]:
        """Age brackets never in the audience (the minors', unless allowed)."""
        return [] if self.minors is Minors.ALLOWED else sorted(MINOR_BRACKETS)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, list):
                unique([str(v) for v in value], name)
        chosen = {str(a) for a in self.age_brackets}
        if chosen & MINOR_BRACKETS and self.minors is not Minors.ALLOWED:
            raise ValueError(
                "age_brackets selects minors (15-17): the campaign must say `minors: allowed`"
                " once its messages were checked as suitable for them"
            )
        if (
            self.active_within_days is not None
            and self.inactive_for_days is not None
            and self.inactive_for_days >= self.active_within_days
        ):
            raise ValueError(
                "inactive_for_days must be below active_within_days: nobody can match both"
            )
        return self


class QuietHours(Strict):
    """No campaign message between ``start`` and ``end``, Mali time (may span midnight)."""

    start: time = time(21, 0)
    end: time = time(8, 0)

    @model_validator(mode="after")
    def _not_empty(self) -> Self:
        if self.start == self.end:
            raise ValueError("quiet_hours: start and end are the same time")
        return self


class CampaignKind(StrEnum):
    #: One message, to everyone in the segment, at ``when``.
    ONEOFF = "oneoff"
    #: Messages at day offsets after each user subscribed.
    DRIP = "drip"


class DripStep(Strict):
    #: Days after the user subscribed (0: the day they subscribe).
    day: int = Field(ge=0, le=3650)
    message: MessageKey


class CampaignFile(Strict):
    """A campaign, as written in ``content/broadcasts/<name>.yml``."""

    kind: CampaignKind
    segment: Segment = Field(default_factory=Segment)
    #: One-off: when to send, an ISO date and time with its offset (Mali: ``+00:00``).
    when: AwareDatetime | None = None
    #: One-off: the message key sent.
    message: MessageKey | None = None
    #: Drip: the messages, each at its day after the user subscribed.
    steps: list[DripStep] = Field(default_factory=list)
    quiet_hours: QuietHours = Field(default_factory=QuietHours)
    #: Drip: a step still goes out this many days after its day, then no more (people
    #: who subscribed long before the campaign began do not get all its steps at once).
    catch_up_days: int = Field(default=2, ge=0, le=30)

    @model_validator(mode="after")
    def _shape_of_kind(self) -> Self:
        if self.kind is CampaignKind.ONEOFF:
            if self.when is None or self.message is None:
                raise ValueError("a oneoff campaign needs when and message")
            if self.steps:
                raise ValueError("a oneoff campaign has no steps (that is a drip)")
        else:
            if not self.steps:
                raise ValueError("a drip campaign needs steps")
            if self.when is not None or self.message is not None:
                raise ValueError("a drip campaign has steps, not when or message")
        return self


class Campaign(CampaignFile):
    """A validated campaign; ``name`` is its file name without ``.yml``."""

    name: Identifier
