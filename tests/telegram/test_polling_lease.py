"""A second ``kunnafoni run`` polling the same bot on the same PostgreSQL database is
refused with a clear message and a non-zero status (Telegram allows one poller a token)."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from bot.config import PROJECT_ROOT
from bot.store.locks import POLLING, Lease
from tests.fakes.bot_api import FakeBotApi

pytestmark = pytest.mark.postgres


async def test_a_second_poller_is_refused(
    postgres_schema_url: str, fake: FakeBotApi, tmp_path: Path
) -> None:
    first = Lease(postgres_schema_url, POLLING)  # the poller already running
    assert await first.try_acquire()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(PROJECT_ROOT), os.environ.get("PYTHONPATH", "")]),
        "KUNNAFONI_ENV": "test",
        "TELEGRAM_BOT_TOKEN": "123456:TEST",
        "TELEGRAM_API_URL": fake.root_url,
        "TELEGRAM_WEBHOOK_URL": "",
        "HTTP_PORT": "0",
        "DATABASE_URL": postgres_schema_url,
        "CONTENT_RELOAD_SECONDS": "0",
    }
    try:
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
        _, stderr = await asyncio.wait_for(process.communicate(), 60)
    finally:
        await first.release()
    assert process.returncode == 3
    assert "Another process is already polling" in stderr.decode()
    assert fake.requests_for("getUpdates") == []
