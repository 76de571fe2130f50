"""The bot as ``kunnafoni run`` builds it, long-polling the fake Bot API server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from bot.budget import LocalBudget, SendBudget
from bot.config import Settings
from bot.content.publish import ContentPublisher
from bot.content.store import ContentStore
from bot.partners import Partners
from bot.runtime import Runtime
from bot.telegram.app import build_application
from tests.fakes.bot_api import FakeBotApi
from tests.support.environment import CONTENT_DIR

CHAT = 5550001


def runtime_for(
    engine: Any, content: ContentStore, settings: Settings, *, budget: SendBudget | None = None
) -> Runtime:
    """The runtime `kunnafoni run` would build, around the test's engine and content.
    ``budget``: Telegram's send budget (default: this process's own, at
    ``TELEGRAM_SEND_RATE``)."""
    database: Any = getattr(engine, "database", None)
    return Runtime(
        settings=settings,
        database=database,
        content=content,
        nlu=getattr(engine, "nlu", None),  # type: ignore[arg-type]
        engine=engine,
        publisher=ContentPublisher(content, database),
        # Where referrals go: the deployment's partners, as the engine was given them.
        partners=getattr(engine, "partners", None) or Partners(),
        budget=budget or LocalBudget(settings.telegram_send_rate),
    )


@asynccontextmanager
async def polling(
    fake: FakeBotApi,
    engine: Any,
    content: ContentStore | None = None,
    *,
    token: str = "123456:TEST",
    **settings: Any,
) -> AsyncIterator[Any]:
    """The bot as `kunnafoni run` builds it, long-polling the fake server (the retention
    purge and the worker off unless asked: their tests call them)."""
    settings.setdefault("PURGE_EVERY_SECONDS", 0)
    # The worker's loops off too: its own tests drive it (tests/telegram/test_worker.py).
    settings.setdefault("WORKER_IN_PROCESS", False)
    config = Settings(TELEGRAM_BOT_TOKEN=token, TELEGRAM_API_URL=fake.root_url, **settings)
    store = content or ContentStore(CONTENT_DIR)
    application = build_application(config, runtime_for(engine, store, config))
    async with application:
        # run_polling() calls post_init between initialize() and start(); so do we.
        if application.post_init is not None:
            await application.post_init(application)
        await application.start()
        assert application.updater is not None
        await application.updater.start_polling(poll_interval=0.0, timeout=1)
        try:
            yield application
        finally:
            await application.updater.stop()
            await application.stop()
            # ...and post_shutdown after stop(): it ends the bot's background tasks.
            if application.post_shutdown is not None:
                await application.post_shutdown(application)
