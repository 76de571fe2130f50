"""A second ``kunnafoni run`` polling the same bot on the same PostgreSQL database is
refused with a clear message and a non-zero status (Telegram allows one poller a token);
a poller that loses its lease while running stops polling and exits."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.config import PROJECT_ROOT
from bot.store.db import create_engine
from bot.store.locks import POLLING, PREFIX, Lease
from bot.telegram.service import LEASE_LOST
from tests.fakes.bot_api import FakeBotApi

pytestmark = pytest.mark.postgres


def poller_env(url: str, fake: FakeBotApi) -> dict[str, str]:
    """``kunnafoni run`` polling the fake Bot API, on the database at ``url``."""
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(PROJECT_ROOT), os.environ.get("PYTHONPATH", "")]),
        "KUNNAFONI_ENV": "test",
        "TELEGRAM_BOT_TOKEN": "123456:TEST",
        "TELEGRAM_API_URL": fake.root_url,
        "TELEGRAM_WEBHOOK_URL": "",
        "HTTP_PORT": "0",
        "DATABASE_URL": url,
        "CONTENT_RELOAD_SECONDS": "0",
    }


async def test_a_second_poller_is_refused(
    postgres_schema_url: str, fake: FakeBotApi, tmp_path: Path
) -> None:
    first = Lease(postgres_schema_url, POLLING)  # the poller already running
    assert await first.try_acquire()
    env = poller_env(postgres_schema_url, fake)
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


async def test_a_poller_that_loses_its_lease_stops_polling(
    postgres_schema_url: str, fake: FakeBotApi, tmp_path: Path
) -> None:
    """The connection holding the lease is cut while the bot polls (the database restarted,
    the backend was killed): PostgreSQL freed the lock, another process may poll now. The
    poller says so and exits with ``LEASE_LOST`` instead of polling beside it."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        env=poller_env(postgres_schema_url, fake),
        cwd=tmp_path,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(60):
            while not fake.requests_for("getUpdates"):
                assert process.returncode is None, "the poller stopped before polling"
                await asyncio.sleep(0.2)
        holder = await lease_holder(postgres_schema_url)
        assert holder is not None, "polling without the polling lease"
        await terminate(postgres_schema_url, holder)
        _, stderr = await asyncio.wait_for(process.communicate(), 60)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == LEASE_LOST, stderr.decode()[-2000:]
    assert "Lost the polling lease" in stderr.decode()
    # The lease is free for the next poller.
    successor = Lease(postgres_schema_url, POLLING)
    try:
        assert await successor.try_acquire()
    finally:
        await successor.release()


async def lease_holder(url: str) -> int | None:
    """The backend holding the polling lease (a bigint advisory lock: its high and low
    32 bits are in ``classid`` and ``objid``)."""
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            pid = await connection.scalar(
                text(
                    "SELECT l.pid FROM pg_locks l,"
                    " (SELECT hashtextextended(:key, 0) AS k) h"
                    " WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1"
                    " AND l.database = (SELECT oid FROM pg_database"
                    "                   WHERE datname = current_database())"
                    " AND l.classid::bigint = ((h.k >> 32) & 4294967295)"
                    " AND l.objid::bigint = (h.k & 4294967295)"
                ),
                {"key": PREFIX + POLLING},
            )
    finally:
        await engine.dispose()
    return None if pid is None else int(pid)


async def terminate(url: str, pid: int) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid})
    finally:
        await engine.dispose()
