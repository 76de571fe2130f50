"""What the running service asks of the database: webhook deliveries recorded once (with,
for several replicas, each chat's updates waiting to be handled in id order), and
the cheap aggregates of ``/readyz`` and ``/metrics`` (counts and ages, never a person)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.handovers import OPEN as HANDOVER_OPEN
from bot.store.models import Handover, OutboxMessage, ReceivedUpdate, Referral, utcnow
from bot.store.outbox import OPEN as OUTBOX_OPEN


async def record_received_update(
    session: AsyncSession,
    *,
    channel: str,
    update_id: int,
    chat_id: int | None = None,
    body: str | None = None,
) -> bool:
    """Record that ``update_id`` arrived; False when it had already (a redelivery, or a
    delivery another replica took). One atomic insert, safe across processes.

    ``chat_id`` and ``body`` (the update's JSON): kept until :func:`mark_update_handled`,
    for whichever replica holds the chat's turn to handle it (:func:`pending_updates`)."""
    dialect = session.get_bind().dialect.name
    insert_: Any = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}.get(dialect, insert)
    stmt = insert_(ReceivedUpdate).values(
        channel=channel, update_id=update_id, received_at=utcnow(), chat_id=chat_id, body=body
    )
    if dialect in ("postgresql", "sqlite"):
        stmt = stmt.on_conflict_do_nothing()
    inserted = await session.scalar(stmt.returning(ReceivedUpdate.update_id))
    return inserted is not None


@dataclass(frozen=True)
class PendingUpdate:
    """An update of a chat received and not yet handled: its id and body (JSON)."""

    update_id: int
    body: str


async def pending_updates(
    session: AsyncSession, *, channel: str, chat_id: int, limit: int = 50
) -> list[PendingUpdate]:
    """The first ``limit`` updates of ``chat_id`` received and not yet handled, by id."""
    rows = await session.execute(
        select(ReceivedUpdate.update_id, ReceivedUpdate.body)
        .where(
            ReceivedUpdate.channel == channel,
            ReceivedUpdate.chat_id == chat_id,
            ReceivedUpdate.handled_at.is_(None),
            ReceivedUpdate.body.is_not(None),
        )
        .order_by(ReceivedUpdate.update_id)
        .limit(limit)
    )
    return [PendingUpdate(int(update_id), str(body)) for update_id, body in rows.all()]


async def latest_handled_update(session: AsyncSession, *, channel: str, chat_id: int) -> int | None:
    """The highest id of ``chat_id``'s updates already handled (None: none yet)."""
    latest = await session.scalar(
        select(func.max(ReceivedUpdate.update_id)).where(
            ReceivedUpdate.channel == channel,
            ReceivedUpdate.chat_id == chat_id,
            ReceivedUpdate.handled_at.is_not(None),
        )
    )
    return None if latest is None else int(latest)


async def mark_update_handled(session: AsyncSession, *, channel: str, update_id: int) -> None:
    """``update_id`` was handled: its body (personal data) goes, the row stays for
    de-duplication until the retention purge."""
    await session.execute(
        update(ReceivedUpdate)
        .where(ReceivedUpdate.channel == channel, ReceivedUpdate.update_id == update_id)
        .values(handled_at=utcnow(), body=None)
    )


async def ping(session: AsyncSession) -> None:
    """One round trip to the database (raises when it cannot answer)."""
    await session.execute(text("SELECT 1"))


@dataclass(frozen=True)
class ServiceGauges:
    """What ``/metrics`` shows about the work waiting in the database."""

    outbox_open: int
    referrals_by_status: dict[str, int]
    oldest_unacknowledged_seconds: float | None
    handovers_open: int


async def service_gauges(
    session: AsyncSession, *, unacknowledged: Collection[str], now: datetime | None = None
) -> ServiceGauges:
    """Counts over indexed columns: the outbox still to send, referrals per status, the age
    of the oldest referral in one of the ``unacknowledged`` statuses, relays open."""
    at = now or utcnow()
    outbox_open = await session.scalar(
        select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status.in_(OUTBOX_OPEN))
    )
    rows = await session.execute(select(Referral.status, func.count()).group_by(Referral.status))
    by_status = {str(status): int(count) for status, count in rows.all()}
    oldest = await session.scalar(
        select(func.min(Referral.created_at)).where(Referral.status.in_(tuple(unacknowledged)))
    )
    handovers = await session.scalar(
        select(func.count()).select_from(Handover).where(Handover.status == HANDOVER_OPEN)
    )
    return ServiceGauges(
        outbox_open=int(outbox_open or 0),
        referrals_by_status=by_status,
        oldest_unacknowledged_seconds=_age(oldest, at),
        handovers_open=int(handovers or 0),
    )


def _age(moment: Any, now: datetime) -> float | None:
    if moment is None:
        return None
    if isinstance(moment, str):  # an aggregate over SQLite comes back as text
        moment = datetime.fromisoformat(moment)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=now.tzinfo)
    return max(0.0, float((now - moment).total_seconds()))
