"""Queries over referrals and their status history. Plain data in, plain data out.

The rules (which statuses follow which, which referrals are delivered or reminded and
when) live in :mod:`bot.referrals`; these functions take the statuses and moments as
arguments.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
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
        select(Referral).where(Referral.user_id == user_id).order_by(Referral.created_at.desc())
    )
    return [_record(r) for r in rows]


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


async def undelivered(
    session: AsyncSession, *, statuses: Collection[str], limit: int = 50
) -> list[ReferralRecord]:
    """Referrals in one of ``statuses`` not yet posted to a partner chat, oldest first."""
    rows = await session.scalars(
        select(Referral)
        .where(Referral.partner_message_id.is_(None), Referral.status.in_(tuple(statuses)))
        .order_by(Referral.id)
        .limit(limit)
    )
    return [_record(r) for r in rows]


async def overdue(
    session: AsyncSession, *, status: str, before: datetime, limit: int = 50
) -> list[ReferralRecord]:
    """Delivered referrals still in ``status`` since before ``before`` and not yet reminded."""
    rows = await session.scalars(
        select(Referral)
        .where(
            Referral.status == status,
            Referral.created_at <= before,
            Referral.reminded_at.is_(None),
            Referral.partner_message_id.is_not(None),
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
