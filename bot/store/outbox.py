"""The durable outbox: one row per recipient and step, claimed in batches, sent, then marked.

Life of a row (``outbox.status``)::

    pending --claim--> claimed --mark_sent--> sent
       ^                  |  \\--mark_failed--> failed | skipped
       |                  |
       +--retry_later-----+      (and a claim whose lease expired is claimed again)
    pending | claimed --cancel_run--> cancelled

**Claiming.** A sender takes up to ``batch`` rows that are ``pending`` and due
(``not_before <= now``), or ``claimed`` by a sender whose lease ran out (it crashed, or was
killed): those are taken over, which is how a killed sender's rows get delivered.

- PostgreSQL: ``SELECT ... FOR UPDATE SKIP LOCKED`` picks rows no other transaction holds,
  then one ``UPDATE`` marks them ``claimed`` by this sender, in the same transaction. Two
  senders claiming at once get disjoint rows; neither waits for the other.
- SQLite: one statement, ``UPDATE outbox SET status='claimed' ... WHERE id IN (SELECT id ...
  LIMIT n) AND <still eligible> RETURNING ...``. SQLite lets one writer at a time hold the
  database (the others wait, up to ``busy_timeout``), and a write statement that opens its
  transaction reads the newest data under that lock. So the sub-select and the update see
  the same rows, and a second sender's claim runs strictly after the first committed, when
  those rows are no longer eligible. The repeated condition in the outer ``WHERE`` keeps it
  safe even if the statement were ever run after an earlier read in the same transaction.

The caller commits the claim before sending anything, and marks each row in its own short
transaction right after Telegram accepted the message: a crash can then only repeat a
message that was accepted but not yet marked (``bot/campaigns/sender.py`` gives the bound).
Runs, which group the rows of one campaign, are in ``runs.py``.

A claim also skips rows of users who opted out or blocked the bot since the row was
enqueued (status ``skipped``), so opting out stops delivery at once.

Datetimes: SQLite returns naive values; every time read here is taken as UTC.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import and_, case, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from bot.store.db import Session
from bot.store.models import BroadcastRun, OutboxMessage, User, utcnow
from bot.store.records import rows_touched, to_record

PENDING = "pending"
CLAIMED = "claimed"
SENT = "sent"
FAILED = "failed"
SKIPPED = "skipped"
CANCELLED = "cancelled"
STATUSES = (PENDING, CLAIMED, SENT, FAILED, SKIPPED, CANCELLED)
#: Rows a sender still has to deal with.
OPEN = (PENDING, CLAIMED)

#: Errors recorded on rows (machine words, never user text).
ERROR_BLOCKED = "blocked"
ERROR_UNSUBSCRIBED = "unsubscribed"

#: Rows per INSERT: well under SQLite's bound-parameter limit (11 columns per row).
_INSERT_CHUNK = 500


class RecipientLike(Protocol):
    """What enqueueing needs of a recipient (``audience.Recipient`` fits)."""

    @property
    def user_id(self) -> int: ...

    @property
    def chat_id(self) -> str: ...

    @property
    def language(self) -> str | None: ...


#: ``(recipient, step, message_key, not_before)``, as ``due_messages`` of
#: ``bot/campaigns/definitions.py`` yields; ``not_before`` None means "now".
DueMessage = tuple[RecipientLike, int, str, datetime | None]


@dataclass(frozen=True)
class Claimed:
    """A row a sender holds: everything needed to send it."""

    id: int
    run_id: int
    user_id: int
    step: int
    message_key: str
    language: str
    chat_id: str
    attempts: int


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


async def enqueue(session: Session, run_id: int, items: Iterable[DueMessage]) -> int:
    """Add one row per ``(recipient, step)`` to the run; returns how many were new.

    Idempotent: the unique index on ``(run_id, user_id, step)`` turns a repeated item into
    nothing (``ON CONFLICT DO NOTHING``), so enqueueing the same audience twice, or again
    after a crash midway, never makes a second row.
    """
    now = utcnow()
    values = [
        {
            "run_id": run_id,
            "user_id": recipient.user_id,
            "step": step,
            "message_key": message_key,
            # Empty: the user never chose; the catalog's default language serves.
            "language": recipient.language or "",
            "chat_id": str(recipient.chat_id),
            "status": PENDING,
            "attempts": 0,
            "not_before": not_before or now,
        }
        for recipient, step, message_key, not_before in items
    ]
    insert = postgresql.insert if _dialect(session) == "postgresql" else sqlite.insert
    added = 0
    for start in range(0, len(values), _INSERT_CHUNK):
        statement = (
            insert(OutboxMessage)
            .values(values[start : start + _INSERT_CHUNK])
            .on_conflict_do_nothing(index_elements=["run_id", "user_id", "step"])
            .returning(OutboxMessage.id)
        )
        added += len((await session.execute(statement)).all())
    total = await session.scalar(
        select(func.count()).select_from(OutboxMessage).where(OutboxMessage.run_id == run_id)
    )
    await session.execute(
        update(BroadcastRun).where(BroadcastRun.id == run_id).values(total=total or 0)
    )
    return added


# --- claiming --------------------------------------------------------------------------------


def _eligible(now: datetime, lease: timedelta, run_id: int | None) -> Any:
    condition = or_(
        and_(OutboxMessage.status == PENDING, OutboxMessage.not_before <= now),
        and_(OutboxMessage.status == CLAIMED, OutboxMessage.claimed_at < now - lease),
    )
    if run_id is not None:
        condition = and_(OutboxMessage.run_id == run_id, condition)
    return condition


_CLAIMED_COLUMNS = (
    OutboxMessage.id,
    OutboxMessage.run_id,
    OutboxMessage.user_id,
    OutboxMessage.step,
    OutboxMessage.message_key,
    OutboxMessage.language,
    OutboxMessage.chat_id,
    OutboxMessage.attempts,
)


async def claim(
    session: Session,
    *,
    sender_id: str,
    batch: int,
    now: datetime | None = None,
    lease: float | timedelta = 60.0,
    run_id: int | None = None,
) -> list[Claimed]:
    """Take up to ``batch`` due rows for ``sender_id``; commit before sending them.

    Each claim counts as an attempt. Rows of users who opted out or blocked the bot are
    marked ``skipped`` instead and not returned.
    """
    now = now or utcnow()
    lease = lease if isinstance(lease, timedelta) else timedelta(seconds=lease)
    eligible = _eligible(now, lease, run_id)
    marks = {
        "status": CLAIMED,
        "claimed_by": sender_id,
        "claimed_at": now,
        "attempts": OutboxMessage.attempts + 1,
    }
    if _dialect(session) == "postgresql":
        ids = list(
            await session.scalars(
                select(OutboxMessage.id)
                .where(eligible)
                .order_by(OutboxMessage.id)
                .limit(batch)
                .with_for_update(skip_locked=True)
            )
        )
        if not ids:
            return []
        statement = update(OutboxMessage).where(OutboxMessage.id.in_(ids))
    else:
        picked = select(OutboxMessage.id).where(eligible).order_by(OutboxMessage.id).limit(batch)
        statement = update(OutboxMessage).where(OutboxMessage.id.in_(picked.scalar_subquery()))
        statement = statement.where(eligible)
    result = await session.execute(
        statement.values(**marks)
        .returning(*_CLAIMED_COLUMNS)
        .execution_options(synchronize_session=False)
    )
    rows = sorted((to_record(Claimed, row) for row in result.all()), key=lambda row: row.id)
    if not rows:
        return []
    await _mark_runs_started(session, {row.run_id for row in rows}, now)
    gone = await _unreachable_users(session, {row.user_id for row in rows})
    if not gone:
        return rows
    for reason in (ERROR_BLOCKED, ERROR_UNSUBSCRIBED):
        ids = [row.id for row in rows if gone.get(row.user_id) == reason]
        if ids:
            await session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_(ids))
                .values(status=SKIPPED, error=reason, claimed_by=None)
                .execution_options(synchronize_session=False)
            )
    return [row for row in rows if row.user_id not in gone]


async def _unreachable_users(session: Session, user_ids: set[int]) -> dict[int, str]:
    """Users among ``user_ids`` who blocked the bot or are not subscribed any more."""
    result = await session.execute(
        select(User.id, User.blocked_at, User.subscribed).where(
            User.id.in_(user_ids), or_(User.blocked_at.is_not(None), User.subscribed.is_(False))
        )
    )
    return {
        user_id: ERROR_BLOCKED if blocked_at is not None else ERROR_UNSUBSCRIBED
        for user_id, blocked_at, _subscribed in result.all()
    }


async def _mark_runs_started(session: Session, run_ids: set[int], now: datetime) -> None:
    await session.execute(
        update(BroadcastRun)
        .where(BroadcastRun.id.in_(run_ids), BroadcastRun.status == "planned")
        .values(status="sending", started_at=now)
        .execution_options(synchronize_session=False)
    )


async def renew_leases(session: Session, *, sender_id: str, now: datetime | None = None) -> int:
    """Push back the lease of every row ``sender_id`` still holds (a long 429 pause)."""
    result = await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.status == CLAIMED, OutboxMessage.claimed_by == sender_id)
        .values(claimed_at=now or utcnow())
        .execution_options(synchronize_session=False)
    )
    return rows_touched(result)


# --- outcomes --------------------------------------------------------------------------------


async def mark_sent(
    session: Session, ids: int | Sequence[int], *, now: datetime | None = None
) -> None:
    """Telegram accepted these messages. Whatever the row's state, this is now a fact."""
    id_list = [ids] if isinstance(ids, int) else list(ids)
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(id_list))
        .values(status=SENT, sent_at=now or utcnow(), error=None)
        .execution_options(synchronize_session=False)
    )


async def mark_failed(session: Session, row_id: int, *, error: str, permanent: bool = True) -> None:
    """Record why the row was not delivered.

    ``permanent``: ``failed`` (given up on a retryable error, or an unknown message key);
    otherwise ``skipped`` (Telegram refused this recipient: a 400, a 403). Either way the row
    is closed and never sent again.
    """
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == row_id, OutboxMessage.status.in_(OPEN))
        .values(status=FAILED if permanent else SKIPPED, error=error[:200], claimed_by=None)
        .execution_options(synchronize_session=False)
    )


async def retry_later(
    session: Session, row_id: int, *, not_before: datetime, error: str | None = None
) -> None:
    """Hand the row back to the queue, due again at ``not_before`` (backoff)."""
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == row_id, OutboxMessage.status == CLAIMED)
        .values(
            status=PENDING,
            not_before=not_before,
            claimed_by=None,
            claimed_at=None,
            error=None if error is None else error[:200],
        )
        .execution_options(synchronize_session=False)
    )


async def release(session: Session, ids: Sequence[int]) -> None:
    """Give claimed rows back untouched (a sender stopping before it sent them)."""
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(list(ids)), OutboxMessage.status == CLAIMED)
        .values(
            status=PENDING,
            claimed_by=None,
            claimed_at=None,
            attempts=case((OutboxMessage.attempts > 0, OutboxMessage.attempts - 1), else_=0),
        )
        .execution_options(synchronize_session=False)
    )


async def next_due(session: Session, *, run_id: int | None = None) -> datetime | None:
    """When the earliest pending row becomes due (None: nothing pending)."""
    query = select(func.min(OutboxMessage.not_before)).where(OutboxMessage.status == PENDING)
    if run_id is not None:
        query = query.where(OutboxMessage.run_id == run_id)
    value = await session.scalar(query)
    return value


async def open_rows(session: Session, *, run_id: int | None = None) -> int:
    """Rows pending or claimed (by anyone)."""
    query = select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status.in_(OPEN))
    if run_id is not None:
        query = query.where(OutboxMessage.run_id == run_id)
    return int(await session.scalar(query) or 0)
