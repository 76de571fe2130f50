"""Who a campaign reaches: the subscribers matching a segment, in SQL.

Built with SQLAlchemy expressions only, so SQLite and PostgreSQL give the same rows.
Only users who said yes to campaign messages (``subscribed``), have not blocked the bot
(``blocked_at`` is null) and are on Telegram are ever recipients; a user who blocked
the bot is taken out of every audience here too (:func:`mark_user_blocked`). People in
an age bracket the segment excludes (minors, unless the campaign allows them) are left out.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from sqlalchemy import ColumnElement, and_, exists, func, or_, select, update

from bot.places import PLACES
from bot.store.db import Session
from bot.store.models import User, UserTopic, utcnow
from bot.store.records import to_record

__all__ = [
    "CHANNEL",
    "Recipient",
    "SegmentLike",
    "audience",
    "base_conditions",
    "conditions",
    "count",
    "mark_user_blocked",
]

#: The only channel campaigns go out on.
CHANNEL = "telegram"


class SegmentLike(Protocol):
    """The criteria a segment gives (``bot.content.models.Segment`` fits; see its fields).

    A protocol, so that the store does not depend on the content models it is given.
    """

    @property
    def languages(self) -> Sequence[str]: ...
    @property
    def regions(self) -> Sequence[str]: ...
    @property
    def countries(self) -> Sequence[str]: ...
    @property
    def age_brackets(self) -> Sequence[str]: ...
    @property
    def situations(self) -> Sequence[str]: ...
    @property
    def sources(self) -> Sequence[str]: ...
    @property
    def source_prefixes(self) -> Sequence[str]: ...
    @property
    def topics_seen(self) -> Sequence[str]: ...
    @property
    def topics_not_seen(self) -> Sequence[str]: ...
    @property
    def active_within_days(self) -> int | None: ...
    @property
    def inactive_for_days(self) -> int | None: ...
    @property
    def excluded_age_brackets(self) -> Sequence[str]: ...


@dataclass(frozen=True)
class Recipient:
    user_id: int
    #: The Telegram chat to send to (a private chat: the user's Telegram id).
    chat_id: str
    #: The user's chosen language (``None``: never chose; the default language serves).
    language: str | None
    #: When the user last opted in (drip days count from it), in UTC.
    subscribed_at: datetime | None


def _places_in(regions: Sequence[str]) -> list[str]:
    """The places themselves and, for a region, every town in it."""
    wanted = set(regions)
    return sorted(wanted | {place for place, region in PLACES.items() if region in wanted})


def base_conditions() -> list[ColumnElement[bool]]:
    """Every campaign recipient: subscribed, not blocked, on Telegram."""
    return [
        User.subscribed.is_(True),
        User.blocked_at.is_(None),
        User.channel == CHANNEL,
    ]


def conditions(segment: SegmentLike, *, now: datetime) -> list[ColumnElement[bool]]:
    """One SQL condition per criterion the segment gives (all must hold)."""
    now = now.astimezone(UTC)
    found: list[ColumnElement[bool]] = []
    if segment.languages:
        found.append(User.language.in_(segment.languages))
    if segment.regions or segment.countries:
        where: list[ColumnElement[bool]] = []
        if segment.regions:
            where.append(User.region.in_(_places_in(segment.regions)))
        if segment.countries:
            where.append(User.country.in_(segment.countries))
        found.append(or_(*where))
    if segment.age_brackets:
        found.append(User.age_bracket.in_([str(a) for a in segment.age_brackets]))
    if segment.excluded_age_brackets:
        # Unknown ages stay in: only people who said they are in such a bracket go.
        found.append(
            or_(User.age_bracket.is_(None), User.age_bracket.not_in(segment.excluded_age_brackets))
        )
    if segment.situations:
        found.append(User.situation.in_([str(s) for s in segment.situations]))
    if segment.sources or segment.source_prefixes:
        source: list[ColumnElement[bool]] = []
        if segment.sources:
            source.append(User.acquisition_source.in_(segment.sources))
        for prefix in segment.source_prefixes:
            # autoescape: "_" in a payload is a letter here, not LIKE's wildcard.
            source.append(User.acquisition_source.startswith(prefix, autoescape=True))
        found.append(or_(*source))
    if segment.topics_seen:
        found.append(_seen(segment.topics_seen))
    if segment.topics_not_seen:
        found.append(~_seen(segment.topics_not_seen))
    if segment.active_within_days is not None:
        found.append(User.last_seen_at >= now - timedelta(days=segment.active_within_days))
    if segment.inactive_for_days is not None:
        found.append(User.last_seen_at < now - timedelta(days=segment.inactive_for_days))
    return found


def _seen(topics: Sequence[str]) -> ColumnElement[bool]:
    return exists().where(and_(UserTopic.user_id == User.id, UserTopic.topic.in_(topics)))


#: Recipients read at once when a whole audience is gone through: memory stays bounded
#: whatever the audience (a campaign to a million subscribers).
PAGE = 5_000


async def audience_pages(
    session: Session, segment: SegmentLike, *, now: datetime, size: int = PAGE
) -> AsyncIterator[list[Recipient]]:
    """The recipients of ``segment`` now, by user id, ``size`` at a time (keyset pages)."""
    after: int | None = None
    while True:
        query = (
            select(
                User.id.label("user_id"),
                User.external_id.label("chat_id"),
                User.language,
                User.subscribed_at,
            )
            .where(
                *base_conditions(),
                *conditions(segment, now=now),
                *([User.id > after] if after is not None else []),
            )
            .order_by(User.id)
            .limit(size)
        )
        page = [to_record(Recipient, row) for row in await session.execute(query)]
        if page:
            yield page
        if len(page) < size:
            return
        after = page[-1].user_id


async def audience(session: Session, segment: SegmentLike, *, now: datetime) -> list[Recipient]:
    """The recipients of ``segment`` now, by user id, all at once (small audiences and
    tests: a whole campaign goes through :func:`audience_pages`)."""
    return [r async for page in audience_pages(session, segment, now=now) for r in page]


async def languages(session: Session, segment: SegmentLike, *, now: datetime) -> dict[str, int]:
    """How many recipients ``segment`` has now per language (``-``: none chosen)."""
    language = func.coalesce(User.language, "-")
    query = (
        select(language, func.count())
        .select_from(User)
        .where(*base_conditions(), *conditions(segment, now=now))
        .group_by(language)
    )
    return {str(code): int(n) for code, n in await session.execute(query)}


async def count(session: Session, segment: SegmentLike, *, now: datetime) -> int:
    """How many recipients ``segment`` has now."""
    query = (
        select(func.count())
        .select_from(User)
        .where(*base_conditions(), *conditions(segment, now=now))
    )
    return int(await session.scalar(query) or 0)


async def mark_user_blocked(session: Session, user_id: int, *, now: datetime | None = None) -> None:
    """Telegram answered 403: the user blocked the bot; never message them again."""
    await session.execute(
        update(User)
        .where(User.id == user_id, User.blocked_at.is_(None))
        .values(blocked_at=now or utcnow(), subscribed=False)
        .execution_options(synchronize_session=False)
    )
