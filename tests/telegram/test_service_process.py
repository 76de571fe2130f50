"""``kunnafoni run`` in webhook mode as a real process, stopped by SIGTERM while an update
is being handled: it stops accepting at once, still answers that update, then exits."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from aiohttp import web

from bot.config import PROJECT_ROOT
from tests.fakes.bot_api import FakeBotApi
from tests.support.service import SECRET, WEBHOOK_URL, made_update

CHAT = 5550011
#: How long the slow NLU server takes to answer a parse.
PARSE_SECONDS = 1.5


@pytest.fixture
async def slow_nlu() -> AsyncIterator[str]:
    """A Rasa stand-in on loopback that takes its time."""

    async def parse(request: web.Request) -> web.Response:
        body = await request.json()
        await asyncio.sleep(PARSE_SECONDS)
        intent = {"name": "greet", "confidence": 0.95}
        return web.json_response(
            {"text": body["text"], "intent": intent, "entities": [], "intent_ranking": [intent]}
        )

    app = web.Application()
    app.router.add_post("/model/parse", parse)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_sigterm_stops_accepting_and_finishes_the_update_in_flight(
    fake: FakeBotApi, slow_nlu: str, tmp_path: Path
) -> None:
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(PROJECT_ROOT), os.environ.get("PYTHONPATH", "")]),
        "KUNNAFONI_ENV": "test",
        "TELEGRAM_BOT_TOKEN": "123456:TEST",
        "TELEGRAM_API_URL": fake.root_url,
        "TELEGRAM_WEBHOOK_URL": WEBHOOK_URL,
        "TELEGRAM_WEBHOOK_SECRET": SECRET,
        "HTTP_PORT": str(port),
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
        "RASA_URL": slow_nlu,
        "RASA_TIMEOUT": "5",
        "CONTENT_RELOAD_SECONDS": "0",
        "PURGE_EVERY_SECONDS": "0",
    }
    env.pop("RASA_TOKEN", None)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        env=env,
        cwd=tmp_path,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=url, timeout=5) as http:
            for _ in range(300):  # migrations and start-up: a few seconds
                try:
                    if (await http.get("/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
            else:
                raise AssertionError("the service did not start")
            await fake.wait_for("setWebhook")
            update = made_update(fake, fake.push_text(CHAT, "bonjour"))
            answer = await http.post(
                "/telegram/updates",
                json=update,
                headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
            )
            assert answer.status_code == 200
        await asyncio.sleep(0.3)  # the update is waiting for its parse
        assert fake.requests_for("sendMessage", chat_id=CHAT) == []
        process.send_signal(signal.SIGTERM)
        await asyncio.sleep(0.3)
        # No new connection is accepted...
        async with httpx.AsyncClient(base_url=url, timeout=2) as late:
            with pytest.raises(httpx.TransportError):
                await late.get("/healthz")
        # ...but the update in flight is answered before the process ends.
        status = await asyncio.wait_for(process.wait(), 30)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.stderr is not None
    logged = (await process.stderr.read()).decode()
    assert status in (0, -signal.SIGTERM), logged[-3000:]
    assert len(fake.requests_for("sendMessage", chat_id=CHAT)) >= 1, logged[-3000:]
    assert "Traceback" not in logged, logged[-3000:]
