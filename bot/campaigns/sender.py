"""The broadcast sender: claims outbox rows, sends them at Telegram's limits, marks each one.

How a row goes out (:class:`BroadcastSender`):

1. A feeder claims a batch (``outbox.claim``, committed) whenever the local queue runs low.
2. ``concurrency`` workers take rows from that queue. Each waits for the :class:`RateLimiter`
   (global rate, one message per chat per second, pause after a 429), sends the text of the
   row's ``message_key`` in the row's language (the catalog's fallback chain), and waits
   until the row is marked ``sent`` before it takes the next one. Marks of rows accepted at
   about the same time share one commit (group commit): a commit costs more than a send.
3. The feeder renews the lease of rows it holds, so a long pause never lets another sender
   take them over, and stops when the run has nothing left.

Errors (the transport's, ``bot/errors.py``; ``bot/telegram/transport.py`` maps Telegram's):

- **429** (``RateLimited``): every worker pauses for its ``seconds``; the row is sent again
  after the pause (a 429 is not an attempt).
- **5xx and network errors** (``NetworkFailure``, ``TimedOut``): the row goes back to the
  queue, due after an exponential backoff (``backoff_base * 2**(attempts-1)``, capped);
  after ``max_attempts`` claims it is ``failed``. A timed-out request may have been
  delivered: its retry is the one case where a message can arrive twice without a crash.
- **403** (``RecipientBlocked``): the user blocked the bot: ``users.blocked_at`` is set,
  ``subscribed`` turned off, the row ``skipped``; their later rows are skipped at claim.
- **other 400s** (``BadRequest``, ``ChatNotFound``): recorded on the row and ``skipped``.
- a refused token (``TransportRefused``) stops the sender: nothing can be sent.

**Crash (SIGKILL) at any point.** Rows claimed by the dead sender come back when their lease
expires and are sent by the next sender. A row is marked ``sent`` right after Telegram
accepted it; the only messages that can be delivered twice are those accepted by Telegram
and not yet marked when the process died: at most one per worker, so at most
``concurrency`` messages (the in-flight bound).

**Two senders at once** never send the same row: a row is sent only by the sender whose
claim took it (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, a single-writer ``UPDATE ...
RETURNING`` on SQLite). They share the work; each holds its own rate limit, so run one
sender per bot token, or give each a share of the rate.

Logs name users by pseudonym (``u<id>``), never by chat id, and never contain the text.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from bot.budget import Priority, SendBudget
from bot.campaigns.ratelimit import Clock, MonotonicClock, RateLimiter
from bot.campaigns.transport import CampaignTransport
from bot.content.catalog import Catalog
from bot.errors import (
    BadRequest,
    DeliveryError,
    KunnafoniError,
    NetworkFailure,
    RateLimited,
    RecipientBlocked,
    TransportRefused,
)
from bot.store import Database, audience, outbox, runs
from bot.store.outbox import Claimed

logger = logging.getLogger(__name__)

#: Without paid broadcasts Telegram allows about this many messages per second in bulk.
FREE_RATE_LIMIT = 30.0
#: With ``allow_paid_broadcast`` (Telegram Stars are charged per message above the free rate).
PAID_RATE_LIMIT = 1000.0


@dataclass(frozen=True)
class SenderSettings:
    """How fast and how hard a sender tries. Defaults: Telegram's free bulk limits."""

    rate: float = FREE_RATE_LIMIT
    paid: bool = False
    #: Sends in flight at once: also the most messages a SIGKILL can make arrive twice.
    concurrency: int = 8
    #: Seconds a claim is held before another sender may take the row over.
    lease: float = 60.0
    #: Rows claimed at once (None: about two seconds of sending, at least 2 x concurrency).
    batch: int | None = None
    per_chat_interval: float = 1.0
    max_attempts: int = 5
    backoff_base: float = 1.0
    backoff_cap: float = 300.0
    #: How often to look for due rows when none is ready (retries, a drip not yet due).
    idle_poll: float = 1.0

    def __post_init__(self) -> None:
        if self.rate <= 0:
            raise ValueError("rate must be positive")
        # Above FREE_RATE_LIMIT without paid broadcasts Telegram answers 429s; the settings
        # refuse it (BROADCAST_PAID), tests and benchmarks against a fake server may not.
        if self.rate > PAID_RATE_LIMIT:
            raise ValueError(f"Telegram allows at most {PAID_RATE_LIMIT:g} messages/s")
        if self.concurrency < 1:
            raise ValueError("concurrency must be at least 1")

    @property
    def claim_batch(self) -> int:
        if self.batch is not None:
            return self.batch
        return max(2 * self.concurrency, int(self.rate * 2))


@dataclass
class SendReport:
    """What one sender did (the database holds the whole run: ``runs.run_status``)."""

    sent: int = 0
    failed: int = 0
    skipped: int = 0
    blocked: int = 0
    retried: int = 0
    throttled: int = 0
    claimed: int = 0
    errors: dict[str, int] = field(default_factory=dict)


def default_sender_id() -> str:
    return f"{socket.gethostname()[:32]}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class _SentMarker:
    """Group commit of ``sent`` marks: one transaction for every row accepted meanwhile.

    A worker waits for its row's mark to be committed before it takes another row, so a
    worker never holds more than one accepted-but-unmarked message (the in-flight bound
    stays ``concurrency``), while one commit serves many rows: a database commit costs
    more than a send on a small disk.
    """

    def __init__(self, database: Database) -> None:
        self.database = database
        self._waiting: list[tuple[int, asyncio.Future[None]]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def sent(self, row_id: int) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._commit_loop())
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((row_id, future))
        self._wake.set()
        await future

    async def _commit_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            batch, self._waiting = self._waiting, []
            if not batch:
                continue
            try:
                async with self.database.transaction() as session:
                    await outbox.mark_sent(session, [row_id for row_id, _ in batch])
            except Exception as error:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(error)
            else:
                for _, future in batch:
                    if not future.done():
                        future.set_result(None)

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


class Fatal(KunnafoniError):
    """Nothing can be sent (the token is refused): stop the sender."""


class BroadcastSender:
    """Sends due outbox rows through ``transport`` until the run (or the outbox) is done."""

    def __init__(
        self,
        database: Database,
        transport: CampaignTransport,
        catalog: Callable[[], Catalog],
        *,
        settings: SenderSettings | None = None,
        sender_id: str | None = None,
        clock: Clock | None = None,
        limiter: RateLimiter | None = None,
        budget: SendBudget | None = None,
    ) -> None:
        self.database = database
        self.transport = transport
        self.catalog = catalog
        self.settings = settings or SenderSettings()
        self.sender_id = sender_id or default_sender_id()
        self.clock: Clock = clock or MonotonicClock()
        self.limiter = limiter or RateLimiter(
            self.settings.rate,
            per_chat_interval=self.settings.per_chat_interval,
            clock=self.clock,
        )
        #: Telegram's rate shared with the replies and the other processes: a broadcast
        #: takes a slot only when one is free (``bot/budget.py``); None: this sender alone.
        self.budget = budget
        self.report = SendReport()
        self._queue: asyncio.Queue[Claimed | None] = asyncio.Queue()
        self._held: set[int] = set()
        self._runs: set[int] = set()
        self._marker = _SentMarker(database)
        self._fatal: BaseException | None = None

    async def run(self, run_id: int | None = None, *, until_done: bool = True) -> SendReport:
        """Send until nothing is left to send (``until_done``) or until cancelled.

        With ``run_id``, only that run's rows; otherwise any due row of any run. Rows that
        wait for a retry keep the sender alive until they are sent or failed.
        """
        concurrency = self.settings.concurrency
        workers = [asyncio.create_task(self._worker()) for _ in range(concurrency)]
        try:
            await self._feed(run_id, until_done=until_done)
        finally:
            await self._release_queued()
            for _ in workers:
                self._queue.put_nowait(None)
            done, pending = await asyncio.wait(workers, timeout=None)
            for task in pending:  # pragma: no cover - wait(timeout=None) returns all
                task.cancel()
            for task in done:
                if not task.cancelled() and task.exception() is not None:
                    logger.error("broadcast worker failed: %r", task.exception())
            await self._marker.aclose()
        if self._fatal is not None:
            raise Fatal(str(self._fatal)) from self._fatal
        return self.report

    # -- feeding ---------------------------------------------------------------------------

    async def _feed(self, run_id: int | None, *, until_done: bool) -> None:
        settings = self.settings
        low_water = max(settings.concurrency, settings.claim_batch // 2)
        renew_every = settings.lease / 3
        last_renewal = self.clock.now()
        while self._fatal is None:
            if self.clock.now() - last_renewal >= renew_every and self._held:
                async with self.database.transaction() as session:
                    await outbox.renew_leases(session, sender_id=self.sender_id)
                last_renewal = self.clock.now()
            if self._queue.qsize() >= low_water:
                await self.clock.sleep(0.05)
                continue
            async with self.database.transaction() as session:
                rows = await outbox.claim(
                    session,
                    sender_id=self.sender_id,
                    batch=settings.claim_batch,
                    lease=settings.lease,
                    run_id=run_id,
                )
            if rows:
                self.report.claimed += len(rows)
                for row in rows:
                    self._runs.add(row.run_id)
                    self._held.add(row.id)
                    self._queue.put_nowait(row)
                continue
            if self._held:  # rows in hand: they may yet come back for a retry
                await self.clock.sleep(0.05)
                continue
            async with self.database.transaction() as session:
                left = await outbox.open_rows(session, run_id=run_id)
                for seen in self._runs | ({run_id} if run_id is not None else set()):
                    await runs.finish_run_if_done(session, seen)
                due = await outbox.next_due(session, run_id=run_id)
            if left == 0 and until_done:
                return
            wait = settings.idle_poll
            if due is not None:
                wait = min(wait, max(0.0, (due - datetime.now(UTC)).total_seconds()))
            await self.clock.sleep(max(wait, 0.01))

    async def _release_queued(self) -> None:
        """Stopping early: rows claimed but not started go back to the queue at once."""
        ids: list[int] = []
        while not self._queue.empty():
            row = self._queue.get_nowait()
            if row is not None:
                ids.append(row.id)
                self._held.discard(row.id)
        if not ids:
            return
        try:
            async with self.database.transaction() as session:
                await outbox.release(session, ids)
        except Exception:  # their lease brings them back anyway
            logger.warning("could not release %d claimed rows; their lease will", len(ids))

    # -- sending ---------------------------------------------------------------------------

    async def _worker(self) -> None:
        while True:
            row = await self._queue.get()
            if row is None:
                return
            try:
                if self._fatal is None:
                    await self._deliver(row)
            except Fatal:
                pass
            except Exception:
                # A database hiccup while marking: the lease brings the row back.
                logger.exception("broadcast row %s: unexpected error", row.id)
            finally:
                self._held.discard(row.id)

    async def _deliver(self, row: Claimed) -> None:
        try:
            text = self.catalog().text(row.message_key, row.language).text
        except KeyError:
            await self._close(row, "unknown_message_key", permanent=True)
            return
        while True:
            await self.limiter.acquire(row.chat_id)
            if self.budget is not None:
                await self.budget.acquire(Priority.BROADCAST)
            try:
                await self.transport.send_text(row.chat_id, text, paid=self.settings.paid)
            except RateLimited as error:
                seconds = error.seconds
                self.report.throttled += 1
                self.limiter.pause(seconds)
                if self.budget is not None:
                    await self.budget.pause(seconds)
                logger.warning("429 from Telegram: all sending paused for %.0f s", seconds)
                continue
            except RecipientBlocked:
                await self._blocked(row)
            except BadRequest as error:
                await self._close(row, error.label, permanent=False)
            except TransportRefused as error:
                self._fatal = error
                logger.error("the bot token was refused: broadcast stopped")
                raise Fatal(str(error)) from error
            except NetworkFailure as error:  # 5xx, timeouts, connection errors
                await self._retry(row, error)
            except DeliveryError as error:
                await self._close(row, error.label, permanent=False)
            else:
                await self._marker.sent(row.id)
                self.report.sent += 1
            return

    async def _blocked(self, row: Claimed) -> None:
        async with self.database.transaction() as session:
            await audience.mark_user_blocked(session, row.user_id)
            await outbox.mark_failed(session, row.id, error=outbox.ERROR_BLOCKED, permanent=False)
        self.report.blocked += 1
        self.report.skipped += 1
        logger.info("u%s blocked the bot: marked, skipped from now on", row.user_id)

    async def _close(self, row: Claimed, error: str, *, permanent: bool) -> None:
        async with self.database.transaction() as session:
            await outbox.mark_failed(session, row.id, error=error, permanent=permanent)
        if permanent:
            self.report.failed += 1
        else:
            self.report.skipped += 1
        self.report.errors[error] = self.report.errors.get(error, 0) + 1
        logger.info("row %s for u%s not delivered: %s", row.id, row.user_id, error)

    async def _retry(self, row: Claimed, error: NetworkFailure) -> None:
        word = error.label
        settings = self.settings
        if row.attempts >= settings.max_attempts:
            await self._close(row, f"gave_up:{word}", permanent=True)
            return
        delay = min(settings.backoff_cap, settings.backoff_base * 2 ** (row.attempts - 1))
        async with self.database.transaction() as session:
            await outbox.retry_later(
                session, row.id, not_before=datetime.now(UTC) + timedelta(seconds=delay), error=word
            )
        self.report.retried += 1
        logger.info(
            "row %s for u%s: %s, retry %d in %.1f s", row.id, row.user_id, word, row.attempts, delay
        )
