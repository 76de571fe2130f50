"""The NLU review queue's rows (``nlu_review_items``): messages the bot did not understand,
masked and linked to nobody (see :class:`bot.store.models.NluReviewItem`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.models import Conversation, NluReviewItem, this_hour
from bot.store.records import rows_touched, to_record

#: The key of ``conversations.data`` holding the person's review key.
REVIEW_KEY = "review_key"


@dataclass(frozen=True)
class ReviewItem:
    """A queued message as the console shows it: no person in it."""

    id: int
    text: str
    reason: str
    intent: str | None
    confidence: float
    entities: list[dict[str, Any]]
    language: str | None
    created_at: datetime


async def add_item(
    session: AsyncSession,
    *,
    person_key: str,
    text: str,
    reason: str,
    intent: str | None,
    confidence: float,
    entities: list[dict[str, Any]],
    language: str | None,
) -> None:
    """One insert, in the step's transaction."""
    session.add(
        NluReviewItem(
            person_key=person_key,
            text=text,
            reason=reason,
            intent=intent,
            confidence=confidence,
            entities=entities,
            language=language,
            created_at=this_hour(),
        )
    )


_COLUMNS = (
    NluReviewItem.id,
    NluReviewItem.text,
    NluReviewItem.reason,
    NluReviewItem.intent,
    NluReviewItem.confidence,
    NluReviewItem.entities,
    NluReviewItem.language,
    NluReviewItem.created_at,
)


async def pending(session: AsyncSession, *, limit: int) -> list[ReviewItem]:
    """The oldest ``limit`` queued messages, oldest first (the person key never read)."""
    rows = await session.execute(
        select(*_COLUMNS).order_by(NluReviewItem.created_at, NluReviewItem.id).limit(limit)
    )
    return [to_record(ReviewItem, row) for row in rows]


async def count(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(NluReviewItem)) or 0)


async def get_item(session: AsyncSession, item_id: int) -> ReviewItem | None:
    row = (await session.execute(select(*_COLUMNS).where(NluReviewItem.id == item_id))).first()
    return to_record(ReviewItem, row) if row is not None else None


async def remove_item(session: AsyncSession, item_id: int) -> bool:
    """Delete one message (labelled or discarded); False when it is already gone."""
    result = await session.execute(delete(NluReviewItem).where(NluReviewItem.id == item_id))
    return rows_touched(result) > 0


async def review_key_of(session: AsyncSession, *, user_id: int) -> str | None:
    """The person's review key, kept in their conversation, if they have one."""
    data = await session.scalar(select(Conversation.data).where(Conversation.user_id == user_id))
    key = data.get(REVIEW_KEY) if isinstance(data, dict) else None
    return key if isinstance(key, str) and key else None


@dataclass(frozen=True)
class QueuedText:
    """One of a person's texts waiting in the queue, as stored (masked), for their /mydata."""

    text: str
    created_at: datetime


async def texts_of(session: AsyncSession, *, user_id: int) -> list[QueuedText]:
    """The queued texts of ``user_id`` (found by their review key), oldest first."""
    key = await review_key_of(session, user_id=user_id)
    if key is None:
        return []
    rows = await session.execute(
        select(NluReviewItem.text, NluReviewItem.created_at)
        .where(NluReviewItem.person_key == key)
        .order_by(NluReviewItem.created_at, NluReviewItem.id)
    )
    return [to_record(QueuedText, row) for row in rows]


async def forget_person(session: AsyncSession, *, user_id: int) -> int:
    """Delete the queued messages of ``user_id`` (erasure, consent withdrawn); the count."""
    key = await review_key_of(session, user_id=user_id)
    if key is None:
        return 0
    result = await session.execute(delete(NluReviewItem).where(NluReviewItem.person_key == key))
    return rows_touched(result)
