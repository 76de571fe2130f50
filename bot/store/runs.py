"""Broadcast runs (``broadcast_runs``): one per campaign sending, and where each one stands.

A run groups the outbox rows of one campaign (see ``outbox.py`` for the rows' life). Its
status goes ``planned`` -> ``sending`` (first claim) -> ``done`` (nothing left open) or
``cancelled``. Datetimes: SQLite returns naive values; every time read here is taken as UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update

from bot.store.db import Session
from bot.store.models import BroadcastRun, OutboxMessage, utcnow
from bot.store.outbox import CANCELLED, FAILED, OPEN, SENT, SKIPPED, STATUSES
from bot.store.records import rows_touched, to_record


@dataclass(frozen=True)
class RunInfo:
    id: int
    name: str
    kind: str
    status: str
    total: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


@dataclass(frozen=True)
class RunStatus:
    """Where a run stands: counts by row status, recent rate and the time left at that rate."""

    run: RunInfo
    counts: dict[str, int] = field(default_factory=dict)
    #: Messages sent per second over the last ``window`` seconds (None: nothing sent yet).
    rate: float | None = None
    #: Seconds left at that rate (None: unknown or nothing left).
    eta_seconds: float | None = None

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def delivered(self) -> int:
        return self.counts.get(SENT, 0)

    @property
    def failed(self) -> int:
        return self.counts.get(FAILED, 0)

    @property
    def skipped(self) -> int:
        return self.counts.get(SKIPPED, 0)

    @property
    def remaining(self) -> int:
        return sum(self.counts.get(status, 0) for status in OPEN)

    @property
    def finished(self) -> bool:
        return self.remaining == 0

    def as_json(self) -> dict[str, Any]:
        return {
            "run": self.run.id,
            "name": self.run.name,
            "kind": self.run.kind,
            "status": self.run.status,
            "total": self.total,
            "counts": {status: self.counts.get(status, 0) for status in STATUSES},
            "rate": None if self.rate is None else round(self.rate, 2),
            "eta_seconds": None if self.eta_seconds is None else round(self.eta_seconds),
            "started_at": _iso(self.run.started_at),
            "finished_at": _iso(self.run.finished_at),
        }


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


async def create_run(
    session: Session,
    *,
    name: str,
    kind: str = "oneoff",
    content_version: str | None = None,
    now: datetime | None = None,
) -> int:
    """A new run (status ``planned``) to enqueue into; returns its id."""
    run = BroadcastRun(
        name=name,
        kind=kind,
        status="planned",
        content_version=content_version,
        total=0,
        created_at=now or utcnow(),
    )
    session.add(run)
    await session.flush()
    return run.id


def _run_info(run: BroadcastRun) -> RunInfo:
    return to_record(RunInfo, run)


async def get_run(session: Session, run_id: int) -> RunInfo | None:
    run = await session.get(BroadcastRun, run_id, populate_existing=True)
    return _run_info(run) if run is not None else None


async def list_runs(session: Session, *, limit: int = 20) -> list[RunInfo]:
    rows = await session.scalars(select(BroadcastRun).order_by(BroadcastRun.id.desc()).limit(limit))
    return [_run_info(run) for run in rows]


async def campaign_run(session: Session, *, name: str, kind: str, version: str) -> int:
    """The campaign's run: the latest one not cancelled, or a new one."""
    run_id = await session.scalar(
        select(BroadcastRun.id)
        .where(BroadcastRun.name == name, BroadcastRun.status != "cancelled")
        .order_by(BroadcastRun.id.desc())
        .limit(1)
    )
    if run_id is not None:
        return int(run_id)
    return await create_run(session, name=name, kind=kind, content_version=version)


async def cancel_run(session: Session, run_id: int, *, now: datetime | None = None) -> int:
    """Stop a run: every row not sent yet is ``cancelled``; returns how many.

    A message already handed to Telegram by a running sender is still marked ``sent``
    when it is accepted; nothing is claimed after this commits.
    """
    result = await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.run_id == run_id, OutboxMessage.status.in_(OPEN))
        .values(status=CANCELLED, claimed_by=None)
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        update(BroadcastRun)
        .where(BroadcastRun.id == run_id, BroadcastRun.status.in_(("planned", "sending")))
        .values(status="cancelled", finished_at=now or utcnow())
        .execution_options(synchronize_session=False)
    )
    return rows_touched(result)


async def finish_run_if_done(session: Session, run_id: int, *, now: datetime | None = None) -> bool:
    """Mark the run ``done`` when no row is left to send; True if it is finished."""
    left = await session.scalar(
        select(func.count())
        .select_from(OutboxMessage)
        .where(OutboxMessage.run_id == run_id, OutboxMessage.status.in_(OPEN))
    )
    if left:
        return False
    await session.execute(
        update(BroadcastRun)
        .where(BroadcastRun.id == run_id, BroadcastRun.status.in_(("planned", "sending")))
        .values(status="done", finished_at=now or utcnow())
        .execution_options(synchronize_session=False)
    )
    return True


async def run_status(
    session: Session, run_id: int, *, now: datetime | None = None, window: float = 60.0
) -> RunStatus | None:
    """Counts by status, the send rate over the last ``window`` seconds, and the ETA."""
    run = await get_run(session, run_id)
    if run is None:
        return None
    now = now or utcnow()
    result = await session.execute(
        select(OutboxMessage.status, func.count())
        .where(OutboxMessage.run_id == run_id)
        .group_by(OutboxMessage.status)
    )
    counts = {str(status): int(count) for status, count in result.all()}
    since = now - timedelta(seconds=window)
    if run.started_at is not None and run.started_at > since:
        since = run.started_at
    recent = await session.scalar(
        select(func.count())
        .select_from(OutboxMessage)
        .where(
            OutboxMessage.run_id == run_id,
            OutboxMessage.status == SENT,
            OutboxMessage.sent_at > since,
        )
    )
    elapsed = (now - since).total_seconds()
    rate = (recent or 0) / elapsed if recent and elapsed > 0 else None
    status = RunStatus(run=run, counts=counts, rate=rate)
    if rate and status.remaining:
        status = RunStatus(run=run, counts=counts, rate=rate, eta_seconds=status.remaining / rate)
    return status


async def latest_run_cancelled(session: Session, *, name: str) -> bool:
    """Whether campaign ``name``'s latest run was cancelled (a manager stopped it: the drip
    scheduler must not start it again; ``broadcast send`` does, on purpose)."""
    status = await session.scalar(
        select(BroadcastRun.status)
        .where(BroadcastRun.name == name)
        .order_by(BroadcastRun.id.desc())
        .limit(1)
    )
    return status == "cancelled"
