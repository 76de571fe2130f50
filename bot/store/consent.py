"""The consent ledger and the anonymous deep-link counts.

Every data-consent event of a person (asked, given, refused, withdrawn) is one
``consent_events`` row with the language and the SHA-256 of the exact text shown; the
dialogue decides the kinds and computes the hashes. Deep links opened are counted per
source and day in ``acquisition_counts``, a table that names nobody.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.models import AcquisitionCount, ConsentEvent, utcnow
from bot.store.records import to_record


@dataclass(frozen=True)
class ConsentEventRecord:
    kind: str
    language: str
    text_hash: str
    at: datetime


async def record_consent_event(
    session: AsyncSession,
    *,
    user_id: int,
    kind: str,
    language: str,
    text_hash: str,
    at: datetime | None = None,
) -> None:
    session.add(
        ConsentEvent(
            user_id=user_id,
            kind=kind,
            language=language,
            text_hash=text_hash,
            at=at or utcnow(),
        )
    )


async def consent_events(session: AsyncSession, *, user_id: int) -> list[ConsentEventRecord]:
    """The person's ledger, oldest first."""
    rows = await session.scalars(
        select(ConsentEvent)
        .where(ConsentEvent.user_id == user_id)
        .order_by(ConsentEvent.at, ConsentEvent.id)
    )
    return [to_record(ConsentEventRecord, row) for row in rows]


async def last_consent_event(
    session: AsyncSession, *, user_id: int, kind: str
) -> ConsentEventRecord | None:
    """The person's latest event of ``kind`` (e.g. the consent they gave last)."""
    row = await session.scalar(
        select(ConsentEvent)
        .where(ConsentEvent.user_id == user_id, ConsentEvent.kind == kind)
        .order_by(ConsentEvent.at.desc(), ConsentEvent.id.desc())
        .limit(1)
    )
    return to_record(ConsentEventRecord, row) if row is not None else None


async def count_acquisition(session: AsyncSession, *, source: str, day: date) -> None:
    """One more deep link of ``source`` opened on ``day``; nothing about who opened it."""
    dialect = session.get_bind().dialect.name
    insert_: Any = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}.get(dialect)
    if insert_ is not None:
        stmt = insert_(AcquisitionCount).values(source=source, day=day, count=1)
        await session.execute(
            stmt.on_conflict_do_update(
                index_elements=["source", "day"],
                set_={"count": AcquisitionCount.count + 1},
            )
        )
        return
    existing = await session.get(AcquisitionCount, (source, day))
    if existing is None:
        await session.execute(insert(AcquisitionCount).values(source=source, day=day, count=1))
    else:
        await session.execute(
            update(AcquisitionCount)
            .where(AcquisitionCount.source == source, AcquisitionCount.day == day)
            .values(count=AcquisitionCount.count + 1)
        )


async def acquisition_counts(session: AsyncSession, *, since: date | None = None) -> dict[str, int]:
    """Deep links opened per source (from ``since``, a UTC day, when given)."""
    query = select(AcquisitionCount.source, AcquisitionCount.count)
    if since is not None:
        query = query.where(AcquisitionCount.day >= since)
    totals: dict[str, int] = {}
    for source, count in await session.execute(query):
        totals[source] = totals.get(source, 0) + int(count)
    return totals
