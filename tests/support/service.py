"""The bot as ``kunnafoni run`` serves it: uvicorn, the HTTP application and
python-telegram-bot in one event loop, against the fake Bot API, on a free loopback port."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from bot.budget import SendBudget
from bot.config import Settings
from bot.content.store import ContentStore
from bot.telegram.app import BotApplication, build_application
from bot.telegram.service import SECRET_HEADER, server_for, service_app
from tests.fakes.bot_api import FakeBotApi
from tests.support.environment import CONTENT_DIR
from tests.support.telegram import runtime_for

WEBHOOK_URL = "https://bot.example.org/telegram/updates"
SECRET = "Zq7-Wd2_pLx9Kc4Vr8Tn3Mh6Jb5Ys1Ge0"


@dataclass
class Serving:
    url: str
    http: httpx.AsyncClient
    application: BotApplication
    server: Any

    async def deliver(self, update: dict[str, Any], secret: str | None = SECRET) -> httpx.Response:
        """POST ``update`` to the webhook as Telegram would (with ``secret``, if any)."""
        headers = {SECRET_HEADER: secret} if secret is not None else {}
        return await self.http.post("/telegram/updates", json=update, headers=headers)


def made_update(fake: FakeBotApi, update_id: int) -> dict[str, Any]:
    """The update the fake built for ``update_id`` (pushed with its ``push_*`` helpers)."""
    for update in fake.pending_updates:
        if update["update_id"] == update_id:
            return update
    raise AssertionError(f"no update {update_id} queued")


@asynccontextmanager
async def serving(
    fake: FakeBotApi,
    engine: Any,
    content: ContentStore | None = None,
    *,
    webhook: bool = True,
    budget: SendBudget | None = None,
    **settings: Any,
) -> AsyncIterator[Serving]:
    """The service running until the block ends (then stopped as SIGTERM would).
    ``budget``: Telegram's send budget (default: the process's own, at
    ``TELEGRAM_SEND_RATE``)."""
    settings.setdefault("PURGE_EVERY_SECONDS", 0)
    # The worker's loops off too: its own tests drive it (tests/telegram/test_worker.py).
    settings.setdefault("WORKER_IN_PROCESS", False)
    if webhook:
        settings.setdefault("TELEGRAM_WEBHOOK_URL", WEBHOOK_URL)
        settings.setdefault("TELEGRAM_WEBHOOK_SECRET", SECRET)
    config = Settings(
        TELEGRAM_BOT_TOKEN="123456:TEST",
        TELEGRAM_API_URL=fake.root_url,
        HTTP_HOST="127.0.0.1",
        HTTP_PORT=0,
        SHUTDOWN_GRACE_SECONDS=10,
        **settings,
    )
    runtime = runtime_for(engine, content or ContentStore(CONTENT_DIR), config, budget=budget)
    application = build_application(config, runtime)
    server = server_for(config, service_app(config, runtime, application))
    task = asyncio.create_task(server.serve())
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while not server.started:
        if task.done():
            task.result()
            raise AssertionError("the service stopped while starting")
        assert loop.time() < deadline, "the service did not start"
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        try:
            yield Serving(url, http, application, server)
        finally:
            server.should_exit = True
            await asyncio.wait_for(task, 30)
