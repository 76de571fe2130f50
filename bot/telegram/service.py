"""``kunnafoni run`` with a token: the bot and its HTTP server in one event loop.

uvicorn serves one Starlette application (``bot/web``): ``/healthz``, ``/readyz``,
``/metrics`` and, with ``TELEGRAM_WEBHOOK_URL``, Telegram's webhook at that URL's path.
The application's lifespan drives python-telegram-bot's ``Application`` by hand:
initialise, start, then either register the webhook (``setWebhook``) or start long
polling; on the way out, the reverse. uvicorn handles SIGTERM and SIGINT: it stops
accepting connections, finishes the requests in flight, then the lifespan ends, which
stops polling and lets python-telegram-bot finish every update already accepted (up to
``SHUTDOWN_GRACE_SECONDS``) before the bot and the runtime close.

The webhook is not deleted on the way out: other replicas may still serve it, and
Telegram keeps undelivered updates (and retries) until one answers.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from telegram import Bot, Update
from telegram.error import TelegramError

from bot.config import Environment, Settings
from bot.metrics import UPDATES, WEBHOOK_REFUSED
from bot.runtime import Runtime, build_runtime
from bot.store import service as service_store
from bot.store.db import upgrade_database
from bot.store.locks import POLLING, Lease
from bot.telegram.app import CHANNEL, BotApplication, build_application
from bot.telegram.ordering import PerChatProcessor, chat_key, update_kind
from bot.telegram.referrals import TelegramNotifier
from bot.web.app import CheckResult, ReadinessCheck, build_web_app

logger = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
#: A webhook body larger than this is refused (Telegram's updates are a few kilobytes).
MAX_BODY = 1024 * 1024


class TelegramReachability:
    """``getMe``, remembered for a while: readiness asks often, Telegram need not answer
    each time."""

    def __init__(self, bot: Bot, *, ttl: float = 60.0, failed_ttl: float = 10.0) -> None:
        self.bot = bot
        self.ttl = ttl
        self.failed_ttl = failed_ttl
        self._result: CheckResult | None = None
        self._until = 0.0
        self._lock = asyncio.Lock()

    async def check(self) -> CheckResult:
        async with self._lock:
            now = time.monotonic()
            if self._result is not None and now < self._until:
                return self._result
            try:
                await self.bot.get_me()
                self._result, self._until = CheckResult(True), now + self.ttl
            except TelegramError as exc:
                self._result = CheckResult(False, type(exc).__name__)
                self._until = now + self.failed_ttl
            return self._result


def webhook_route(settings: Settings, runtime: Runtime, application: BotApplication) -> Route:
    """``POST <path of TELEGRAM_WEBHOOK_URL>``: Telegram's deliveries.

    No secret header: 401; a wrong one: 403 (compared in constant time). An update id
    seen before (a retry, or a delivery another replica took): 200, not processed again.
    Otherwise the id is recorded and the update queued for processing; the answer (200)
    does not wait for the processing, only, in a flood, for room in the backlog.
    """
    assert settings.telegram_webhook_secret is not None and settings.webhook_path is not None
    expected = settings.telegram_webhook_secret.get_secret_value().encode()
    given = application.update_processor
    processor = given if isinstance(given, PerChatProcessor) else None

    async def receive(request: Request) -> Response:
        given = request.headers.get(SECRET_HEADER)
        if given is None:
            WEBHOOK_REFUSED.labels("secret").inc()
            return JSONResponse({"error": "missing secret token"}, status_code=401)
        if not hmac.compare_digest(given.encode(), expected):
            WEBHOOK_REFUSED.labels("secret").inc()
            return JSONResponse({"error": "wrong secret token"}, status_code=403)
        body = await request.body()
        try:
            if len(body) > MAX_BODY:
                raise ValueError("too large")
            update = Update.de_json(json.loads(body), application.bot)
            if not isinstance(update.update_id, int):
                raise ValueError("no update id")
        except (ValueError, TypeError, KeyError):
            WEBHOOK_REFUSED.labels("body").inc()
            return JSONResponse({"error": "not an update"}, status_code=400)
        # Before the id is recorded: if Telegram gives up waiting, it delivers again.
        if processor is not None:
            await processor.wait_for_room()

        # Several replicas: the chat and body too, for whichever holds the chat's turn.
        chat = chat_key(update) if processor is not None and processor.drain else None
        kept = body.decode() if chat is not None else None

        async def record() -> bool:
            async with runtime.database.transaction() as session:
                return await service_store.record_received_update(
                    session, channel=CHANNEL, update_id=update.update_id, chat_id=chat, body=kept
                )

        first = await runtime.database.retrying(record)
        if not first:
            UPDATES.labels(update_kind(update), "duplicate").inc()
            logger.info("Update %s delivered again; answered once", update.update_id)
            return Response(status_code=200)
        await application.update_queue.put(update)
        return Response(status_code=200)

    return Route(settings.webhook_path, receive, methods=["POST"])


def service_app(
    settings: Settings,
    runtime: Runtime,
    application: BotApplication,
    *,
    owns_runtime: bool = False,
) -> Starlette:
    """The ASGI application of ``kunnafoni run``: health, metrics, the webhook if set,
    and a lifespan that runs the bot (and starts and closes ``runtime`` if it owns it:
    uvicorn re-raises SIGTERM once the lifespan is over, so nothing after it runs)."""
    reachability = TelegramReachability(application.bot)
    routes = []
    if settings.telegram_webhook_url is not None:
        routes.append(webhook_route(settings, runtime, application))

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        try:
            if owns_runtime:
                await runtime.start()
            async with running_bot(settings, application):
                yield
        finally:
            if owns_runtime:
                await runtime.aclose()

    return build_web_app(
        runtime,
        checks=[ReadinessCheck("telegram", reachability.check)],
        routes=routes,
        lifespan=lifespan,
        # The console's case pages tell the person and redraw the partner's card here.
        notifier=TelegramNotifier(
            application.bot, runtime.content.current, settings.admin_telegram_ids
        ),
    )


@asynccontextmanager
async def running_bot(settings: Settings, application: BotApplication) -> AsyncIterator[None]:
    """python-telegram-bot's application, started by hand (as ``run_polling`` and
    ``run_webhook`` do, minus their own event loop and signal handling)."""
    allowed = list(settings.telegram_allowed_updates)
    await application.initialize()
    try:
        if application.post_init is not None:
            await application.post_init(application)
        await application.start()
        if settings.telegram_webhook_url is not None:
            assert settings.telegram_webhook_secret is not None
            await application.bot.set_webhook(
                url=settings.telegram_webhook_url,
                secret_token=settings.telegram_webhook_secret.get_secret_value(),
                allowed_updates=allowed,
                max_connections=settings.telegram_webhook_max_connections,
            )
            logger.info("Webhook registered; receiving updates at %s", settings.webhook_path)
        else:
            assert application.updater is not None
            await application.updater.start_polling(allowed_updates=allowed)
            logger.info("Polling %s for updates", settings.telegram_api_url)
        try:
            yield
        finally:
            await stop_bot(settings, application)
    finally:
        await application.shutdown()


async def stop_bot(settings: Settings, application: BotApplication) -> None:
    """Stop taking updates, finish those accepted (within the grace period), stop."""
    if application.updater is not None and application.updater.running:
        await application.updater.stop()
    if application.running:
        try:
            await asyncio.wait_for(application.stop(), settings.shutdown_grace_seconds)
        except TimeoutError:
            logger.warning(
                "Updates still in flight after %.0f s; stopping anyway",
                settings.shutdown_grace_seconds,
            )
    if application.post_shutdown is not None:
        await application.post_shutdown(application)


def server_for(settings: Settings, app: Any) -> uvicorn.Server:
    """uvicorn serving ``app`` on ``HTTP_HOST:HTTP_PORT``, logging through our handlers."""
    config = uvicorn.Config(
        app,
        host=settings.http_host,
        port=settings.http_port,
        lifespan="on",
        log_config=None,  # keep the root handler of bot/logs.py (redacting, JSON or text)
        access_log=False,
        server_header=False,
        proxy_headers=False,
        timeout_graceful_shutdown=max(1, int(settings.shutdown_grace_seconds)),
    )
    return uvicorn.Server(config)


#: The exit status when another process already polls the token.
ANOTHER_POLLER = 3
#: The exit status when the polling lease was lost while polling (its connection dropped).
LEASE_LOST = 4
#: How often a poller checks that it still holds the polling lease (seconds).
LEASE_CHECK_SECONDS = 5.0


async def stop_when_lease_lost(
    lease: Lease, server: uvicorn.Server, application: BotApplication, *, every: float
) -> bool:
    """Watch the polling lease; once it is lost, stop polling at once and ask the server to
    shut down. True when the lease was lost.

    The lease is an advisory lock held by one PostgreSQL connection: when that connection
    drops (a network cut, the backend killed, a database restart), PostgreSQL frees the
    lock and another process may take it and poll. Two pollers would fight for updates
    (Telegram answers 409 to one of them) and could each take some of one chat's updates,
    so this process stops and exits with ``LEASE_LOST`` for its supervisor to restart it.
    """
    await lease.hold_until_lost(every)
    logger.error(
        "Lost the polling lease (its database connection closed): stopping polling so that"
        " only one process polls Telegram for this bot; exiting with status %d",
        LEASE_LOST,
    )
    if application.updater is not None and application.updater.running:
        await application.updater.stop()
    server.should_exit = True
    return True


async def serve(settings: Settings) -> int:
    """Run the bot and its HTTP server until SIGTERM or SIGINT; the exit status.

    Polling on PostgreSQL first takes the ``polling`` lease (an advisory lock held for the
    life of the process): Telegram allows one poller per token, so a second one is refused
    with a clear message and status 3 instead of fighting the first for updates (409)."""
    if settings.environment in (Environment.LOCAL, Environment.TEST):
        await upgrade_database(settings.database_url)
    lease = Lease(settings.database_url, POLLING)
    if settings.telegram_webhook_url is None and not await lease.try_acquire():
        logger.error(
            "Another process is already polling Telegram for this bot (it holds the polling"
            " lease in the database): not starting. Stop it first, or run replicas in"
            " webhook mode (TELEGRAM_WEBHOOK_URL)."
        )
        await lease.release()
        return ANOTHER_POLLER
    watch: asyncio.Task[bool] | None = None
    try:
        runtime = build_runtime(settings)
        application = build_application(settings, runtime)
        server = server_for(
            settings, service_app(settings, runtime, application, owns_runtime=True)
        )
        if settings.telegram_webhook_url is None and lease.enabled:
            watch = asyncio.create_task(
                stop_when_lease_lost(lease, server, application, every=LEASE_CHECK_SECONDS)
            )
        await server.serve()
    finally:
        lost = watch is not None and watch.done() and not watch.cancelled() and watch.result()
        if watch is not None and not watch.done():
            watch.cancel()
        await lease.release()
    if lost:
        return LEASE_LOST
    return 0 if server.started else 1


def run_service(settings: Settings) -> int:
    """``serve`` in its own event loop. uvicorn raises the signal it caught again once all
    is closed: SIGTERM then ends the process (status 143), Ctrl-C arrives here."""
    try:
        return asyncio.run(serve(settings))
    except KeyboardInterrupt:
        return 0
