"""Queries over referrals and their status history. Plain data in, plain data out.

The rules (which statuses follow which, which referrals are delivered or reminded and
when) live in :mod:`bot.referrals`; these functions take the statuses and moments as
arguments.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.models import Referral, ReferralEvent, User, utcnow
from bot.store.records import rows_touched, to_record


@dataclass(frozen=True)
class ReferralRecord:
    id: int
    reference: str
    #: None once the person's data was erased.
    user_id: int | None
    service_id: str
    need: str
    status: str
    language: str
    first_name: str | None
    phone: str | None
    location: str | None
    description: str | None
    #: The person said they are 15-17 (the partner applies child-protection procedures).
    minor: bool
    partner_chat_id: int | None
    partner_message_id: int | None
    created_at: datetime
    updated_at: datetime
    reminded_at: datetime | None
    delivery_attempts: int = 0
    next_attempt_at: datetime | None = None
    #: The console account following the case for its partner, if any.
    assigned_to: int | None = None

    def __repr__(self) -> str:  # never print the sensitive fields by accident
        return f"ReferralRecord(id={self.id}, reference={self.reference!r}, status={self.status!r})"


@dataclass(frozen=True)
class StatusChange:
    status_from: str | None
    status_to: str
    actor: str
    created_at: datetime


def _record(row: Referral) -> ReferralRecord:
    return to_record(ReferralRecord, row)


async def create_referral(
    session: AsyncSession,
    *,
    reference: str,
    user_id: int,
    service_id: str,
    need: str,
    status: str,
    language: str,
    first_name: str | None,
    phone: str | None,
    location: str | None,
    description: str | None,
    minor: bool = False,
) -> ReferralRecord | None:
    """Store a referral and its first status; None when ``reference`` is already taken."""
    try:
        async with session.begin_nested():
            row = Referral(
                reference=reference,
                user_id=user_id,
                service_id=service_id,
                need=need,
                status=status,
                language=language,
                first_name=first_name,
                phone=phone,
                location=location,
                description=description,
                minor=minor,
            )
            session.add(row)
            await session.flush()
    except IntegrityError:
        return None
    session.add(ReferralEvent(referral_id=row.id, status_from=None, status_to=status, actor="user"))
    await session.flush()
    return _record(row)


async def get_referral(
    session: AsyncSession, referral_id: int, *, for_update: bool = False
) -> ReferralRecord | None:
    query = select(Referral).where(Referral.id == referral_id)
    if for_update:
        query = query.with_for_update()
    row = await session.scalar(query)
    return _record(row) if row else None


async def by_reference(session: AsyncSession, reference: str) -> ReferralRecord | None:
    row = await session.scalar(select(Referral).where(Referral.reference == reference))
    return _record(row) if row else None


async def user_referrals(session: AsyncSession, *, user_id: int) -> list[ReferralRecord]:
    rows = await session.scalars(
        select(Referral)
        .where(Referral.user_id == user_id)
        # Newest first; the id breaks ties, so pages of /mycases never repeat or skip one.
        .order_by(Referral.created_at.desc(), Referral.id.desc())
    )
    return [_record(r) for r in rows]


@dataclass(frozen=True)
class ReferralCounts:
    """A person's referrals that count against their limits."""

    open_now: int
    last_day: int


async def counts(
    session: AsyncSession, *, user_id: int, open_statuses: Iterable[str], since: datetime
) -> ReferralCounts:
    """How many of the person's referrals are open, and how many they sent since ``since``."""
    statuses = list(open_statuses)
    row = (
        await session.execute(
            select(
                func.count().filter(Referral.status.in_(statuses)),
                func.count().filter(Referral.created_at >= since),
            ).where(Referral.user_id == user_id)
        )
    ).one()
    return ReferralCounts(open_now=int(row[0] or 0), last_day=int(row[1] or 0))


async def set_status(
    session: AsyncSession, *, referral_id: int, status_from: str, status_to: str, actor: str
) -> bool:
    """Move a referral from ``status_from`` to ``status_to``; False if it was not there."""
    result = await session.execute(
        update(Referral)
        .where(Referral.id == referral_id, Referral.status == status_from)
        .values(status=status_to, updated_at=utcnow())
    )
    if rows_touched(result) != 1:
        return False
    session.add(
        ReferralEvent(
            referral_id=referral_id, status_from=status_from, status_to=status_to, actor=actor
        )
    )
    await session.flush()
    return True


async def history(session: AsyncSession, *, referral_id: int) -> list[StatusChange]:
    rows = await session.scalars(
        select(ReferralEvent)
        .where(ReferralEvent.referral_id == referral_id)
        .order_by(ReferralEvent.id)
    )
    return [to_record(StatusChange, r) for r in rows]


async def mark_delivered(
    session: AsyncSession, *, referral_id: int, chat_id: int, message_id: int
) -> None:
    await session.execute(
        update(Referral)
        .where(Referral.id == referral_id)
        .values(partner_chat_id=chat_id, partner_message_id=message_id)
    )


async def mark_reminded(session: AsyncSession, *, referral_id: int) -> None:
    await session.execute(
        update(Referral).where(Referral.id == referral_id).values(reminded_at=utcnow())
    )


async def due_for_delivery(
    session: AsyncSession, *, status: str, now: datetime, limit: int = 50
) -> list[ReferralRecord]:
    """Referrals in ``status`` (pending) whose next delivery attempt is due, those never
    tried first, then by when they are due: one that keeps failing is pushed back by its
    backoff and never holds the others up."""
    due_at = func.coalesce(Referral.next_attempt_at, Referral.created_at)
    rows = await session.scalars(
        select(Referral)
        .where(
            Referral.status == status,
            (Referral.next_attempt_at.is_(None)) | (Referral.next_attempt_at <= now),
        )
        .order_by(Referral.next_attempt_at.is_not(None), due_at, Referral.id)
        .limit(limit)
    )
    return [_record(r) for r in rows]


async def record_failed_attempt(
    session: AsyncSession, *, referral_id: int, next_attempt_at: datetime | None
) -> int:
    """Count a failed delivery and set when to try again; the number of failures so far."""
    await session.execute(
        update(Referral)
        .where(Referral.id == referral_id)
        .values(
            delivery_attempts=Referral.delivery_attempts + 1,
            next_attempt_at=next_attempt_at,
            updated_at=utcnow(),
        )
    )
    attempts = await session.scalar(
        select(Referral.delivery_attempts).where(Referral.id == referral_id)
    )
    return int(attempts or 0)


async def reroute(
    session: AsyncSession, *, referral_id: int, service_id: str, status_from: str, status_to: str
) -> bool:
    """Send a referral that could not be delivered to another service: back to
    ``status_to`` (pending) with no attempt counted. False if it was not in ``status_from``."""
    result = await session.execute(
        update(Referral)
        .where(Referral.id == referral_id, Referral.status == status_from)
        .values(
            service_id=service_id,
            status=status_to,
            delivery_attempts=0,
            next_attempt_at=None,
            reminded_at=None,
            updated_at=utcnow(),
        )
    )
    if rows_touched(result) != 1:
        return False
    session.add(
        ReferralEvent(
            referral_id=referral_id,
            status_from=status_from,
            status_to=status_to,
            actor=f"reroute:{service_id}"[:64],
        )
    )
    await session.flush()
    return True


async def in_statuses(
    session: AsyncSession, *, statuses: Collection[str], limit: int = 50
) -> list[ReferralRecord]:
    """Referrals in one of ``statuses``, oldest first (what the admins have to look at)."""
    rows = await session.scalars(
        select(Referral)
        .where(Referral.status.in_(tuple(statuses)))
        .order_by(Referral.id)
        .limit(limit)
    )
    return [_record(r) for r in rows]


async def overdue(
    session: AsyncSession, *, statuses: Collection[str], before: datetime, limit: int = 50
) -> list[ReferralRecord]:
    """Referrals still in one of ``statuses`` since before ``before`` and not yet reminded,
    delivered to a partner or not."""
    rows = await session.scalars(
        select(Referral)
        .where(
            Referral.status.in_(tuple(statuses)),
            Referral.created_at <= before,
            Referral.reminded_at.is_(None),
        )
        .order_by(Referral.id)
        .limit(limit)
    )
    return [_record(r) for r in rows]


async def user_address(session: AsyncSession, *, user_id: int | None) -> tuple[str, str] | None:
    """(channel, external id) of a user, to notify them; None if erased."""
    if user_id is None:
        return None
    row = (
        await session.execute(select(User.channel, User.external_id).where(User.id == user_id))
    ).first()
    return (str(row[0]), str(row[1])) if row else None
