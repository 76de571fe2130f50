"""What the running service asks of the database: webhook deliveries recorded once, and
the cheap aggregates of ``/readyz`` and ``/metrics`` (counts and ages, never a person)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.handovers import OPEN as HANDOVER_OPEN
from bot.store.models import Handover, OutboxMessage, ReceivedUpdate, Referral, utcnow
from bot.store.outbox import OPEN as OUTBOX_OPEN


async def record_received_update(session: AsyncSession, *, channel: str, update_id: int) -> bool:
    """Record that ``update_id`` arrived; False when it had already (a redelivery, or a
    delivery another replica took). One atomic insert, safe across processes."""
    dialect = session.get_bind().dialect.name
    insert_: Any = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}.get(dialect, insert)
    stmt = insert_(ReceivedUpdate).values(
        channel=channel, update_id=update_id, received_at=utcnow()
    )
    if dialect in ("postgresql", "sqlite"):
        stmt = stmt.on_conflict_do_nothing()
    inserted = await session.scalar(stmt.returning(ReceivedUpdate.update_id))
    return inserted is not None


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
