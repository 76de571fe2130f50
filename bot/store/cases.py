"""Queries of the partners' inbox in the console: cases, notes, assignment, response times.

Every query that can return a case takes ``services``: the service ids the reader may see
(a partner account's own), or None for every service (admins). The scope is applied in SQL,
in the same query that finds the case: a case of another service is simply not found.
The list never carries the person's name, phone or words; only :func:`case` does, for the
one page where the partner reads them.
"""

from __future__ import annotations

import statistics
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.models import ConsoleAccount, Handover, Referral, ReferralEvent, ReferralNote, User
from bot.store.records import rows_touched, to_record
from bot.store.referrals import ReferralRecord

#: Cases shown on one page of the inbox, and the most an export holds.
PAGE_SIZE = 50
EXPORT_LIMIT = 5000


@dataclass(frozen=True)
class CaseFilters:
    """What the inbox is narrowed to; None: no filter."""

    status: str | None = None
    service: str | None = None
    need: str | None = None
    language: str | None = None
    #: A reference (or part of one) or a part of the place.
    search: str | None = None
    #: Only the open cases waiting since before this moment (the SLA badge's).
    waiting_since: datetime | None = None
    #: Only the open cases in these statuses created before this moment (not acknowledged
    #: in time: flagged to the admins).
    unacknowledged: tuple[Collection[str], datetime] | None = None
    statuses: tuple[str, ...] | None = None


@dataclass(frozen=True)
class CaseRow:
    """One line of the inbox: no name, no phone, no words."""

    id: int
    reference: str
    service_id: str
    need: str
    status: str
    language: str
    location: str | None
    minor: bool
    created_at: datetime
    updated_at: datetime
    assignee: str | None


@dataclass(frozen=True)
class Note:
    id: int
    author: str
    text: str
    created_at: datetime

    def __repr__(self) -> str:  # the text may name the person
        return f"Note(id={self.id}, author={self.author!r})"


def _scoped(query: Select, services: Sequence[str] | None) -> Select:  # type: ignore[type-arg]
    if services is not None:
        query = query.where(Referral.service_id.in_(list(services)))
    return query


def _filtered(query: Select, filters: CaseFilters) -> Select:  # type: ignore[type-arg]
    if filters.status:
        query = query.where(Referral.status == filters.status)
    if filters.statuses is not None:
        query = query.where(Referral.status.in_(filters.statuses))
    if filters.service:
        query = query.where(Referral.service_id == filters.service)
    if filters.need:
        query = query.where(Referral.need == filters.need)
    if filters.language:
        query = query.where(Referral.language == filters.language)
    if filters.search:
        # LIKE's wildcards typed by the reader are taken literally.
        words = filters.search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{words.lower()}%"
        query = query.where(
            or_(
                func.lower(Referral.reference).like(pattern, escape="\\"),
                func.lower(Referral.location).like(pattern, escape="\\"),
            )
        )
    if filters.waiting_since is not None:
        query = query.where(Referral.updated_at < filters.waiting_since)
    if filters.unacknowledged is not None:
        statuses, before = filters.unacknowledged
        query = query.where(Referral.status.in_(tuple(statuses)), Referral.created_at < before)
    return query


def _rows_query() -> Select:  # type: ignore[type-arg]
    return select(
        Referral.id,
        Referral.reference,
        Referral.service_id,
        Referral.need,
        Referral.status,
        Referral.language,
        Referral.location,
        Referral.minor,
        Referral.created_at,
        Referral.updated_at,
        ConsoleAccount.name,
    ).outerjoin(ConsoleAccount, ConsoleAccount.id == Referral.assigned_to)


async def list_cases(
    session: AsyncSession,
    *,
    services: Sequence[str] | None,
    filters: CaseFilters,
    limit: int = PAGE_SIZE,
    offset: int = 0,
) -> tuple[list[CaseRow], int]:
    """The cases in scope matching ``filters``, newest change first, and how many in all."""
    query = _filtered(_scoped(_rows_query(), services), filters)
    total = await session.scalar(
        _filtered(_scoped(select(func.count()).select_from(Referral), services), filters)
    )
    rows = await session.execute(
        query.order_by(Referral.updated_at.desc(), Referral.id.desc()).limit(limit).offset(offset)
    )
    return [CaseRow(*row) for row in rows], int(total or 0)


async def case(
    session: AsyncSession, *, reference: str, services: Sequence[str] | None
) -> ReferralRecord | None:
    """The case ``reference`` when it is in scope, with the person's fields; else None."""
    row = await session.scalar(
        _scoped(select(Referral).where(Referral.reference == reference), services)
    )
    return to_record(ReferralRecord, row) if row is not None else None


async def choices(session: AsyncSession, *, services: Sequence[str] | None) -> dict[str, list[str]]:
    """The values the inbox's filters offer: only those of cases in scope."""
    found: dict[str, list[str]] = {}
    for name, column in (
        ("service", Referral.service_id),
        ("need", Referral.need),
        ("language", Referral.language),
    ):
        query = _scoped(select(column).distinct(), services).order_by(column)
        found[name] = [str(v) for v in await session.scalars(query)]
    return found


async def notes(session: AsyncSession, *, referral_id: int) -> list[Note]:
    rows = await session.scalars(
        select(ReferralNote)
        .where(ReferralNote.referral_id == referral_id)
        .order_by(ReferralNote.id)
    )
    return [to_record(Note, r) for r in rows]


async def add_note(session: AsyncSession, *, referral_id: int, author: str, text: str) -> None:
    session.add(ReferralNote(referral_id=referral_id, author=author[:64], text=text))
    await session.flush()


async def staff_for(session: AsyncSession, *, service_id: str) -> list[tuple[int, str]]:
    """(id, name) of the active partner accounts whose scope holds ``service_id``."""
    rows = await session.execute(
        select(ConsoleAccount.id, ConsoleAccount.name, ConsoleAccount.services)
        .where(ConsoleAccount.role == "partner", ConsoleAccount.disabled_at.is_(None))
        .order_by(ConsoleAccount.name)
    )
    return [(int(i), str(n)) for i, n, s in rows if service_id in str(s or "").split()]


async def assign(session: AsyncSession, *, referral_id: int, account_id: int | None) -> bool:
    result = await session.execute(
        update(Referral).where(Referral.id == referral_id).values(assigned_to=account_id)
    )
    return rows_touched(result) == 1


# --- Partners' response times ----------------------------------------------------------


@dataclass(frozen=True)
class ResponseTimes:
    """One service's cases created since a moment, and the medians of its answers."""

    service_id: str
    cases: int
    acknowledged: int
    median_hours_to_acknowledge: float | None
    closed: int
    median_hours_to_close: float | None


async def response_times(
    session: AsyncSession,
    *,
    since: datetime,
    acknowledged: Collection[str],
    closed: str,
    at_least: int = 5,
) -> list[ResponseTimes]:
    """Per service, of the referrals created since ``since``: how many, how many reached
    ``acknowledged`` (and ``closed``), and the median hours from creation to the first
    such move, shown only over ``at_least`` cases (fewer: None)."""
    first_ack = (
        select(ReferralEvent.referral_id, func.min(ReferralEvent.created_at).label("at"))
        .where(ReferralEvent.status_to.in_(tuple(acknowledged)))
        .group_by(ReferralEvent.referral_id)
        .subquery()
    )
    first_close = (
        select(ReferralEvent.referral_id, func.min(ReferralEvent.created_at).label("at"))
        .where(ReferralEvent.status_to == closed)
        .group_by(ReferralEvent.referral_id)
        .subquery()
    )
    rows = await session.execute(
        select(Referral.service_id, Referral.created_at, first_ack.c.at, first_close.c.at)
        .outerjoin(first_ack, first_ack.c.referral_id == Referral.id)
        .outerjoin(first_close, first_close.c.referral_id == Referral.id)
        .where(Referral.created_at >= since)
    )
    by_service: dict[str, tuple[list[float], list[float], list[int]]] = {}
    for service_id, created, acked, done in rows:
        acks, closes, count = by_service.setdefault(str(service_id), ([], [], [0]))
        count[0] += 1
        if acked is not None:
            acks.append((acked - created).total_seconds() / 3600)
        if done is not None:
            closes.append((done - created).total_seconds() / 3600)

    def median(values: list[float]) -> float | None:
        return round(statistics.median(values), 1) if len(values) >= at_least else None

    return [
        ResponseTimes(
            service_id,
            count[0],
            len(acks),
            median(acks),
            len(closes),
            median(closes),
        )
        for service_id, (acks, closes, count) in sorted(by_service.items())
    ]


# --- Handover desk ---------------------------------------------------------------------


@dataclass(frozen=True)
class WaitingRelay:
    """An open relay as the desk shows it: who (a pseudonym), since when, which language."""

    handover_id: int
    user_id: int
    language: str | None
    opened_at: datetime
    last_activity_at: datetime | None
    agent_chat_id: int
    thread_id: int | None


async def open_relays(
    session: AsyncSession, *, status: str, limit: int = 200
) -> list[WaitingRelay]:
    """Relays in ``status`` (open), the longest waiting first."""
    rows = await session.execute(
        select(
            Handover.id,
            Handover.user_id,
            User.language,
            Handover.opened_at,
            Handover.last_activity_at,
            Handover.agent_chat_id,
            Handover.thread_id,
        )
        .join(User, User.id == Handover.user_id)
        .where(Handover.status == status)
        .order_by(Handover.opened_at, Handover.id)
        .limit(limit)
    )
    return [WaitingRelay(*row) for row in rows]
