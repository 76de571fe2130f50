"""What is kept about one person, read for them (their right of access: ``/mydata``).

One read, in the caller's transaction: the modules they opened, their referrals (with
what they typed into the form, which is theirs to see), their messages waiting in the NLU
review queue (masked as stored, found by their review key), and how many analytics events
and quiz answers are still linked to them. Their user row and conversation are loaded
by the caller already. Nothing here is about anyone else: every query is by ``user_id``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.models import Event, QuizAnswer, UserTopic
from bot.store.records import to_record
from bot.store.referrals import ReferralRecord, user_referrals
from bot.store.review import QueuedText, texts_of


@dataclass(frozen=True)
class TopicSeen:
    topic: str
    first_seen_at: datetime


@dataclass(frozen=True)
class KeptAbout:
    """What the store holds about one person besides their user row and conversation."""

    #: Modules opened (kept only with consent), first seen first.
    topics: tuple[TopicSeen, ...]
    #: Their referrals, newest first.
    referrals: tuple[ReferralRecord, ...]
    #: Analytics events still linked to them (unlinked after the retention period).
    linked_events: int
    #: Quiz answers still linked to them.
    quiz_answers: int
    #: Their messages waiting in the NLU review queue (kept only with consent), oldest first.
    unclear: tuple[QueuedText, ...] = ()


async def kept_about(session: AsyncSession, *, user_id: int) -> KeptAbout:
    """What is kept about ``user_id`` (see the module's docstring)."""
    topics = await session.scalars(
        select(UserTopic)
        .where(UserTopic.user_id == user_id)
        .order_by(UserTopic.first_seen_at, UserTopic.topic)
    )
    events = await session.scalar(
        select(func.count()).select_from(Event).where(Event.user_id == user_id)
    )
    answers = await session.scalar(
        select(func.count()).select_from(QuizAnswer).where(QuizAnswer.user_id == user_id)
    )
    return KeptAbout(
        topics=tuple(to_record(TopicSeen, row) for row in topics),
        referrals=tuple(await user_referrals(session, user_id=user_id)),
        linked_events=int(events or 0),
        quiz_answers=int(answers or 0),
        unclear=tuple(await texts_of(session, user_id=user_id)),
    )
