"""Queries over human handovers (the ``handovers`` table). Each takes the caller's session.

A handover relays one user's private chat to the agents' chat, in one of two modes:

- **forum**: the agents' chat is a forum supergroup; the user has a topic of their own and
  ``thread_id`` is its ``message_thread_id``;
- **reply thread**: the chat has no topics (or the bot may not create them); the bot posts a
  header message and the agents answer in its reply thread. ``thread_id`` then holds the
  header's message id *negated*, so the mode is read from the row without another column.

Telegram message ids are positive and unique within a chat, so a topic id and a header id of
the same chat never collide; :func:`open_for_thread` looks up both forms of a thread key.
At most one handover per user is open: :func:`open_handover` locks the user's row
(``FOR UPDATE`` on PostgreSQL) and refuses a second one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.models import Handover, User, utcnow
from bot.store.records import to_record

OPEN = "open"
CLOSED = "closed"


@dataclass(frozen=True)
class HandoverRecord:
    """A handover with what the relay needs to reach its user."""

    id: int
    user_id: int
    status: str
    agent_chat_id: int
    #: The topic id (forum mode) or the header message id (reply-thread mode), as Telegram
    #: knows it: always positive here.
    thread_id: int
    #: True when ``thread_id`` is a forum topic, False for a reply thread.
    forum: bool
    opened_at: datetime
    closed_at: datetime | None
    closed_by: str | None
    #: The user's channel and id on it (for Telegram, their private chat id).
    channel: str
    external_id: str
    language: str | None
    last_activity_at: datetime | None = None

    @property
    def is_open(self) -> bool:
        return self.status == OPEN


def _stored_thread(thread_id: int, *, forum: bool) -> int:
    if thread_id <= 0:
        raise ValueError(f"a thread id is a positive message id, not {thread_id}")
    return thread_id if forum else -thread_id


def _record(row: Handover, user: User) -> HandoverRecord:
    stored = row.thread_id or 0
    return to_record(
        HandoverRecord,
        row,
        thread_id=abs(stored),
        forum=stored > 0,
        channel=user.channel,
        external_id=user.external_id,
        language=user.language,
    )


def _with_user() -> Select[Handover, User]:
    return select(Handover, User).join(User, User.id == Handover.user_id)


async def _first(session: AsyncSession, query: Select[Handover, User]) -> HandoverRecord | None:
    row = (await session.execute(query.order_by(Handover.id.desc()).limit(1))).first()
    return _record(row[0], row[1]) if row is not None else None


async def open_for_user(session: AsyncSession, *, user_id: int) -> HandoverRecord | None:
    """The open handover of a user (by internal id), if any."""
    return await _first(
        session, _with_user().where(Handover.user_id == user_id, Handover.status == OPEN)
    )


async def open_for_external(
    session: AsyncSession, *, channel: str, external_id: str
) -> HandoverRecord | None:
    """The open handover of a user known by their channel id (a Telegram chat id)."""
    return await _first(
        session,
        _with_user().where(
            User.channel == channel, User.external_id == external_id, Handover.status == OPEN
        ),
    )


async def open_for_thread(
    session: AsyncSession, *, agent_chat_id: int, thread_id: int
) -> HandoverRecord | None:
    """The open handover whose topic or reply thread in ``agent_chat_id`` is ``thread_id``."""
    if thread_id <= 0:
        return None
    return await _first(
        session,
        _with_user().where(
            Handover.agent_chat_id == agent_chat_id,
            Handover.thread_id.in_((thread_id, -thread_id)),
            Handover.status == OPEN,
        ),
    )


async def get_handover(session: AsyncSession, *, handover_id: int) -> HandoverRecord | None:
    return await _first(session, _with_user().where(Handover.id == handover_id))


async def open_handover(
    session: AsyncSession, *, user_id: int, agent_chat_id: int, thread_id: int, forum: bool
) -> HandoverRecord | None:
    """Open a handover for a user; None when they already have an open one.

    The user's row is locked first (PostgreSQL), so two replicas opening a handover for
    the same user at once end with one open handover, not two.
    """
    await session.execute(select(User.id).where(User.id == user_id).with_for_update())
    if await open_for_user(session, user_id=user_id) is not None:
        return None
    row = Handover(
        user_id=user_id,
        last_activity_at=utcnow(),
        status=OPEN,
        agent_chat_id=agent_chat_id,
        thread_id=_stored_thread(thread_id, forum=forum),
    )
    session.add(row)
    await session.flush()
    return await get_handover(session, handover_id=row.id)


async def close_handover(
    session: AsyncSession, *, handover_id: int, closed_by: str, at: datetime | None = None
) -> bool:
    """Close an open handover; False when it was not open (already closed, or unknown).

    ``closed_by``: ``"user"``, ``"agent:<telegram user id>"`` or ``"system"``.
    """
    result = await session.execute(
        update(Handover)
        .where(Handover.id == handover_id, Handover.status == OPEN)
        .values(status=CLOSED, closed_at=at or utcnow(), closed_by=closed_by)
        .returning(Handover.id)
    )
    return result.first() is not None


async def touch(session: AsyncSession, *, handover_id: int, at: datetime | None = None) -> None:
    """A message went through the relay: it is not idle."""
    await session.execute(
        update(Handover).where(Handover.id == handover_id).values(last_activity_at=at or utcnow())
    )


async def idle_since(
    session: AsyncSession, *, before: datetime, limit: int = 50
) -> list[HandoverRecord]:
    """Open handovers with no message since before ``before``, oldest first."""
    last = func.coalesce(Handover.last_activity_at, Handover.opened_at)
    rows = await session.execute(
        _with_user()
        .where(Handover.status == OPEN, last < before)
        .order_by(last, Handover.id)
        .limit(limit)
    )
    return [_record(handover, user) for handover, user in rows.all()]
