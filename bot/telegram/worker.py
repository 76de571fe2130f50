"""``kunnafoni worker``: the work that is not an answer to someone, in loops.

- **broadcast sender** (every copy): sends the outbox's due rows of every run
  (``bot/campaigns/sender.py``); copies share the rows through their claims (``FOR UPDATE
  SKIP LOCKED`` on PostgreSQL) and never send one twice.
- **schedulers** (one elected copy at a time, see below):

  - **drips**: every ``DRIP_EVERY_SECONDS``, each drip campaign of the live content queues
    what it owes its audience now (idempotent: the outbox's unique (run, user, step)), so
    no outside cron job is needed; a drip whose latest run was cancelled stays stopped;
  - **referral checks**: every ``REFERRAL_CHECK_SECONDS``, deliveries that failed are
    tried again and referrals not acknowledged in time are reminded and flagged;
  - **privacy purge**: every ``PURGE_EVERY_SECONDS``, what is past its retention period;
  - **dashboard roll-up**: every ten minutes, the days that are over are counted into
    ``event_days`` for the console (``bot/store/dashboard.py``), one day per transaction;
    most passes find nothing to do.

**Election.** The schedulers run in the copy that holds the ``scheduler`` lease (a
PostgreSQL advisory lock held by an open connection, ``bot/store/locks.py``). The others
try to take it every ``WORKER_ELECTION_SECONDS``: when the holder dies its connection
closes, PostgreSQL frees the lock, and the next copy to try takes over. On SQLite (one
process) the only copy always holds it.

``kunnafoni run`` runs the same loops in its own process unless ``WORKER_IN_PROCESS=false``.
Cancelling :meth:`Worker.run` (SIGTERM) lets the sender finish the sends in flight and give
back the rows it holds, and releases the lease at once for another copy.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from starlette.applications import Starlette
from telegram import Bot

from bot.campaigns.enqueue import enqueue_campaign
from bot.campaigns.sender import BroadcastSender, SenderSettings
from bot.config import Settings
from bot.content.models import CampaignKind
from bot.privacy.retention import Periods, Retention
from bot.runtime import Runtime
from bot.store import dashboard, runs
from bot.store.locks import Lease
from bot.telegram.referrals import ReferralDesk
from bot.telegram.transport import TelegramTransport
from bot.web.app import build_web_app

logger = logging.getLogger(__name__)

#: The lease of the schedulers.
SCHEDULER = "scheduler"
#: Seconds a loop that failed waits before it starts again.
RESTART_AFTER = 10.0


@dataclass(frozen=True)
class WorkerTimings:
    """How often each loop runs (``Settings`` gives them; tests shorten them)."""

    drip_every: float = 300.0
    referral_every: float = 300.0
    purge_every: float = 3600.0
    election_every: float = 5.0
    #: The dashboard's count of the days that are over (a new day appears once a day;
    #: 0: never, for tests).
    rollup_every: float = 600.0

    @classmethod
    def from_settings(cls, settings: Settings) -> WorkerTimings:
        return cls(
            drip_every=settings.drip_every_seconds,
            referral_every=settings.referral_check_seconds,
            purge_every=settings.purge_every_seconds,
            election_every=settings.worker_election_seconds,
        )


async def enqueue_drips(runtime: Runtime, *, now: datetime | None = None) -> int:
    """Queue what every drip campaign owes its audience now; the rows newly queued."""
    catalog = runtime.content.current()
    moment = now or datetime.now(UTC)
    added = 0
    for name, campaign in sorted(catalog.campaigns.items()):
        if campaign.kind != CampaignKind.DRIP:
            continue
        async with runtime.database.transaction() as session:
            if await runs.latest_run_cancelled(session, name=name):
                continue
            result = await enqueue_campaign(session, catalog, name, now=moment)
        if result.added:
            logger.info("Drip %s: %d message(s) queued", name, result.added)
        added += result.added
    return added


class Worker:
    """The loops of the module's docstring, over one runtime."""

    def __init__(
        self,
        settings: Settings,
        runtime: Runtime,
        *,
        desk_bot: Bot,
        desk: ReferralDesk | None = None,
        timings: WorkerTimings | None = None,
        sender_settings: SenderSettings | None = None,
        lease_name: str = SCHEDULER,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.settings = settings
        self.runtime = runtime
        self.desk_bot = desk_bot
        self.desk = desk or ReferralDesk(
            runtime.database,
            runtime.engine.catalog,
            admin_ids=settings.admin_telegram_ids,
            ack_after=timedelta(hours=settings.referral_ack_hours),
            partners=runtime.partners,
        )
        self.timings = timings or WorkerTimings.from_settings(settings)
        self.sender_settings = sender_settings or SenderSettings(
            rate=settings.broadcast_rate,
            paid=settings.broadcast_paid,
            concurrency=settings.broadcast_concurrency,
            lease=settings.broadcast_lease_seconds,
        )
        self.lease = Lease(runtime.database.url, lease_name)
        #: What time the drips are computed for (tests fix it).
        self.clock = clock or (lambda: datetime.now(UTC))
        #: Whether this copy runs the schedulers now (for tests and logs).
        self.elected = asyncio.Event()

    async def run(self) -> None:
        """Every loop, until cancelled."""
        tasks = [
            asyncio.create_task(self._again(self._send, "broadcast sender"), name="sender"),
            asyncio.create_task(self._schedulers(), name="schedulers"),
        ]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.lease.release()

    async def _again(self, loop: Callable[[], Awaitable[None]], what: str) -> None:
        """Run ``loop``; when it fails, log and start it again a little later."""
        while True:
            try:
                await loop()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("Worker: the %s failed; again in %.0f s", what, RESTART_AFTER)
            await asyncio.sleep(RESTART_AFTER)

    async def _send(self) -> None:
        # A bot of its own: the sender handles 429s itself, the replies' bot waits them out.
        assert self.settings.telegram_bot_token is not None
        token = self.settings.telegram_bot_token.get_secret_value()
        async with Bot(token, base_url=self.settings.bot_api_base_url) as bot:
            sender = BroadcastSender(
                self.runtime.database,
                TelegramTransport(bot),
                self.runtime.content.current,
                settings=self.sender_settings,
                budget=self.runtime.budget,
            )
            await sender.run(None, until_done=False)

    # -- the elected copy ------------------------------------------------------------------

    async def _schedulers(self) -> None:
        every = self.timings.election_every
        while True:
            try:
                elected = await self.lease.try_acquire()
            except Exception:
                logger.exception("Worker: the scheduler lease could not be asked for")
                elected = False
            if not elected:
                await asyncio.sleep(every)
                continue
            logger.info("Worker: this copy runs the schedulers")
            self.elected.set()
            loops = [self._again(self._every(self.timings.drip_every, self._drips), "drips")]
            loops.append(
                self._again(self._every(self.timings.referral_every, self._referrals), "referrals")
            )
            if self.timings.purge_every > 0:
                loops.append(
                    self._again(self._every(self.timings.purge_every, self._purge), "purge")
                )
            if self.timings.rollup_every > 0:
                loops.append(
                    self._again(self._every(self.timings.rollup_every, self._roll_up), "roll-up")
                )
            tasks = [asyncio.create_task(loop) for loop in loops]
            if self.lease.enabled:
                tasks.append(asyncio.create_task(self.lease.hold_until_lost(every)))
            try:
                await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                self.elected.clear()
            logger.warning("Worker: the scheduler lease was lost; trying to take it again")

    def _every(
        self, seconds: float, work: Callable[[], Awaitable[None]]
    ) -> Callable[[], Awaitable[None]]:
        async def loop() -> None:
            while True:
                await work()
                await asyncio.sleep(seconds)

        return loop

    async def _drips(self) -> None:
        await enqueue_drips(self.runtime, now=self.clock())

    async def _referrals(self) -> None:
        delivered, reminded = await self.desk.check(self.desk_bot)
        if delivered or reminded:
            logger.info("Referral checks: %d delivered, %d reminded", delivered, reminded)

    async def _purge(self) -> None:
        await Retention(self.runtime.database, Periods.from_settings(self.settings)).run()

    async def _roll_up(self) -> None:
        days = await dashboard.roll_up(self.runtime.database, today=self.clock().date())
        if days:
            logger.info("Dashboard: %d day(s) counted into event_days", days)


async def serve_worker(settings: Settings, runtime: Runtime) -> None:
    """``kunnafoni worker``'s body: the runtime started, the loops run until cancelled."""
    assert settings.telegram_bot_token is not None
    token = settings.telegram_bot_token.get_secret_value()
    await runtime.start()
    try:
        async with Bot(token, base_url=settings.bot_api_base_url) as desk_bot:
            worker = Worker(settings, runtime, desk_bot=desk_bot)
            with contextlib.suppress(asyncio.CancelledError):
                await worker.run()
    finally:
        await runtime.aclose()


def worker_app(settings: Settings, runtime: Runtime) -> Starlette:
    """``kunnafoni worker`` as an ASGI application: ``/healthz``, ``/readyz`` and
    ``/metrics`` (no console), the worker's loops running for the application's life. uvicorn
    owns the signals: on SIGTERM it stops serving, and the lifespan's exit stops the loops
    (the sends in flight finish, claimed rows are given back, the lease is released)."""

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        task = asyncio.create_task(serve_worker(settings, runtime))
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    return build_web_app(runtime, lifespan=lifespan, console=False)
