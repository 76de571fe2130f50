"""Retention: what is deleted or unlinked once it is older than its period.

Each purge works in batches of ``batch`` rows, one short transaction per batch, so that a
purge of a year's backlog never holds locks for long; running it twice deletes nothing
more (idempotent). With ``apply=False`` it only counts what would go (``--dry-run``).

The periods and which statuses are final come in as arguments: the rules are in
:mod:`bot.privacy`.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, delete, func, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.db import Database
from bot.store.models import (
    Conversation,
    Event,
    NluReviewItem,
    OutboxMessage,
    ProcessedUpdate,
    QuizAnswer,
    ReceivedUpdate,
    Referral,
    ReferralNote,
)
from bot.store.records import rows_touched


@dataclass(frozen=True)
class Purged:
    """How many rows one rule touched (or would touch, in a dry run)."""

    rule: str
    rows: int


async def _count(session: AsyncSession, query: Select[Any]) -> int:
    return int(await session.scalar(select(func.count()).select_from(query.subquery())) or 0)


async def _in_batches(
    database: Database,
    rule: str,
    ids: Select[Any] | Any,
    act: Any,
    *,
    apply: bool,
    batch: int,
) -> Purged:
    """Count ``ids``; when applying, ``act(session, ids.limit(batch))`` until none are left."""
    if not apply:
        async with database.transaction() as session:
            return Purged(rule, await _count(session, ids))
    total = 0
    while True:
        async with database.transaction() as session:
            done = int(await act(session, ids.limit(batch)) or 0)
        total += done
        if done < batch:
            return Purged(rule, total)


async def forget_abandoned_forms(
    database: Database, *, keys: Collection[str], before: datetime, apply: bool, batch: int
) -> Purged:
    """Drop ``keys`` (forms, questions held for later) from conversations idle since ``before``."""
    stale = select(Conversation.user_id).where(Conversation.updated_at < before)
    candidates: list[int] = []
    async with database.transaction() as session:
        for user_id, data in (
            await session.execute(
                select(Conversation.user_id, Conversation.data).where(
                    Conversation.user_id.in_(stale)
                )
            )
        ).all():
            if isinstance(data, dict) and any(key in data for key in keys):
                candidates.append(int(user_id))
        found = len(candidates)
    if not apply:
        return Purged("abandoned_forms", found)
    changed = 0
    for start in range(0, len(candidates), batch):
        async with database.transaction() as session:
            rows = (
                await session.scalars(
                    select(Conversation)
                    .where(
                        Conversation.user_id.in_(candidates[start : start + batch]),
                        Conversation.updated_at < before,  # not touched since we looked
                    )
                    .with_for_update()
                )
            ).all()
            for row in rows:
                row.data = {k: v for k, v in (row.data or {}).items() if k not in keys}
            changed += len(rows)
    return Purged("abandoned_forms", changed)


async def unlink_old_events(
    database: Database, *, before: datetime, apply: bool, batch: int
) -> list[Purged]:
    """Events and quiz answers older than ``before`` lose their link to a person."""
    results = []
    for rule, model, moment in (
        ("linked_events", Event, Event.created_at),
        ("linked_quiz_answers", QuizAnswer, QuizAnswer.answered_at),
    ):
        ids = select(model.id).where(model.user_id.is_not(None), moment < before)

        async def act(session: AsyncSession, some: Select[Any], model: Any = model) -> int:
            result = await session.execute(
                update(model).where(model.id.in_(some)).values(user_id=None)
            )
            return rows_touched(result)

        results.append(await _in_batches(database, rule, ids, act, apply=apply, batch=batch))
    return results


def _has_personal_fields() -> ColumnElement[bool]:
    return or_(
        Referral.first_name.is_not(None),
        Referral.phone.is_not(None),
        Referral.location.is_not(None),
        Referral.description.is_not(None),
    )


async def wipe_finished_referrals(
    database: Database,
    *,
    final_statuses: Collection[str],
    before: datetime,
    apply: bool,
    batch: int,
) -> Purged:
    """Referrals finished before ``before`` keep their statuses, not the person's details."""
    noted = select(ReferralNote.referral_id)
    ids = select(Referral.id).where(
        Referral.status.in_(final_statuses),
        Referral.updated_at < before,
        or_(_has_personal_fields(), Referral.id.in_(noted)),
    )

    async def act(session: AsyncSession, some: Select[Any]) -> int:
        chosen = list(await session.scalars(some))
        if not chosen:
            return 0
        # The partner's notes may name the person: they go with the details.
        await session.execute(delete(ReferralNote).where(ReferralNote.referral_id.in_(chosen)))
        await session.execute(
            update(Referral)
            .where(Referral.id.in_(chosen))
            .values(first_name=None, phone=None, location=None, description=None)
        )
        return len(chosen)

    return await _in_batches(database, "referral_details", ids, act, apply=apply, batch=batch)


async def delete_finished_outbox(
    database: Database,
    *,
    final_statuses: Collection[str],
    before: datetime,
    apply: bool,
    batch: int,
) -> Purged:
    """Outbox rows settled (sent, skipped, failed, cancelled) before ``before``."""
    settled = func.coalesce(OutboxMessage.sent_at, OutboxMessage.not_before)
    ids = select(OutboxMessage.id).where(OutboxMessage.status.in_(final_statuses), settled < before)

    async def act(session: AsyncSession, some: Select[Any]) -> int:
        result = await session.execute(delete(OutboxMessage).where(OutboxMessage.id.in_(some)))
        return rows_touched(result)

    return await _in_batches(database, "outbox", ids, act, apply=apply, batch=batch)


async def delete_processed_updates(
    database: Database, *, before: datetime, apply: bool, batch: int
) -> Purged:
    """Ids of updates processed (or received over the webhook) before ``before``: past any
    redelivery, no longer needed. One rule for both tables: they hold the same ids."""
    processed = await _delete_update_ids(
        database, ProcessedUpdate, ProcessedUpdate.processed_at, before, apply, batch
    )
    received = await _delete_update_ids(
        database, ReceivedUpdate, ReceivedUpdate.received_at, before, apply, batch
    )
    return Purged("processed_updates", processed.rows + received.rows)


async def _delete_update_ids(
    database: Database,
    model: type[ProcessedUpdate] | type[ReceivedUpdate],
    moment: Any,
    before: datetime,
    apply: bool,
    batch: int,
) -> Purged:
    keys = select(model.channel, model.update_id).where(moment < before)

    async def act(session: AsyncSession, some: Select[Any]) -> int:
        result = await session.execute(
            delete(model).where(tuple_(model.channel, model.update_id).in_(some))
        )
        return rows_touched(result)

    return await _in_batches(database, "processed_updates", keys, act, apply=apply, batch=batch)


async def delete_old_review_items(
    database: Database, *, before: datetime, apply: bool, batch: int
) -> Purged:
    """Messages of the NLU review queue queued before ``before`` and never labelled."""
    ids = select(NluReviewItem.id).where(NluReviewItem.created_at < before)

    async def act(session: AsyncSession, some: Select[Any]) -> int:
        result = await session.execute(delete(NluReviewItem).where(NluReviewItem.id.in_(some)))
        return rows_touched(result)

    return await _in_batches(database, "review_queue", ids, act, apply=apply, batch=batch)
