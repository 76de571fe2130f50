"""``kunnafoni worker``: drips queued and sent without cron, one elected copy running the
schedulers, and another taking over when it stops or is killed (PostgreSQL)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import socket
import sys
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import delete, func, select, update
from telegram import Bot

from bot.campaigns.sender import SenderSettings
from bot.config import PROJECT_ROOT, Settings
from bot.content.store import ContentStore
from bot.runtime import Runtime
from bot.store.db import Database
from bot.store.models import Event, EventDay, EventDayRolled, User
from bot.telegram.referrals import ReferralDesk
from bot.telegram.worker import SCHEDULER, Worker, WorkerTimings
from tests.fakes.bot_api import FakeBotApi
from tests.support.broadcasts import TOKEN, add_people, committed, limited
from tests.support.environment import CONTENT_DIR

__all__ = ["committed", "limited"]

#: Noon in Bamako, outside the drips' quiet hours, a day ago: what the drips are computed for.
NOON = (datetime.now(UTC) - timedelta(days=1)).replace(hour=12, minute=0, second=0, microsecond=0)
FAST = WorkerTimings(
    drip_every=0.2, referral_every=0.2, purge_every=0.5, election_every=0.2, rollup_every=0
)


def worker_for(database: Database, fake: FakeBotApi, *, lease: str = "scheduler") -> Worker:
    settings = Settings(TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_URL=fake.root_url)
    content = ContentStore(CONTENT_DIR)
    runtime = Runtime(
        settings=settings,
        database=database,
        content=content,
        nlu=None,  # type: ignore[arg-type]
        engine=None,  # type: ignore[arg-type]
        publisher=None,  # type: ignore[arg-type]
    )
    return Worker(
        settings,
        runtime,
        desk_bot=Bot(TOKEN, base_url=settings.bot_api_base_url),
        desk=ReferralDesk(database, content.current),
        timings=FAST,
        sender_settings=SenderSettings(rate=200, paid=True, concurrency=4, lease=5),
        lease_name=lease,
        clock=lambda: NOON,
    )


@contextlib.asynccontextmanager
async def running(worker: Worker) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(worker.run())
    try:
        yield task
    finally:
        await stop(task)


async def test_drips_are_queued_and_sent_without_cron(
    committed: Database, limited: FakeBotApi
) -> None:
    people = await add_people(committed, 3)
    async with committed.transaction() as session:
        await session.execute(update(User).values(subscribed_at=NOON - timedelta(days=2)))
    worker = worker_for(committed, limited, lease=f"test-{secrets.token_hex(4)}")
    async with running(worker):
        await asyncio.wait_for(worker.elected.wait(), 5)
        for person in people:
            await limited.wait_for("sendMessage", chat_id=person.chat_id, timeout=10)
        # Queued again and again: nobody gets the step twice.
        await asyncio.sleep(0.6)
    for person in people:
        assert len(limited.requests_for("sendMessage", chat_id=person.chat_id)) == 1


@pytest.mark.postgres
async def test_worker_takeover_when_a_copy_stops(
    postgres_schema_url: str, fake: FakeBotApi
) -> None:
    """Two copies: one runs the schedulers; when it stops (SIGTERM), the other takes over."""
    lease = f"test-{secrets.token_hex(4)}"
    database = Database(postgres_schema_url)
    first, second = (worker_for(database, fake, lease=lease) for _ in range(2))
    tasks: list[asyncio.Task[None]] = []
    try:
        tasks.append(asyncio.create_task(first.run()))
        await asyncio.wait_for(first.elected.wait(), 5)
        tasks.append(asyncio.create_task(second.run()))
        await asyncio.sleep(1.0)  # five elections: the lease stays with the first
        assert not second.elected.is_set()
        await stop(tasks[0])
        await asyncio.wait_for(second.elected.wait(), 5)
    finally:
        for task in tasks:
            await stop(task)
        await database.dispose()


@pytest.mark.postgres
async def test_worker_takeover_when_a_copy_is_killed(
    postgres_schema_url: str, fake: FakeBotApi, tmp_path: Path
) -> None:
    """``kunnafoni worker`` as a process holds the schedulers and answers its health
    checks (no console pages); SIGKILLed (nothing released by it), its connection closes
    and the copy waiting takes over."""
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(PROJECT_ROOT), os.environ.get("PYTHONPATH", "")]),
        "KUNNAFONI_ENV": "test",
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_URL": fake.root_url,
        "DATABASE_URL": postgres_schema_url,
        "CONTENT_RELOAD_SECONDS": "0",
        "WORKER_ELECTION_SECONDS": "0.2",
        "LOG_LEVEL": "INFO",
        "HTTP_HOST": "127.0.0.1",
        "HTTP_PORT": str(port),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "worker",
        env=env,
        cwd=tmp_path,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    database = Database(postgres_schema_url)
    waiting = worker_for(database, fake, lease=SCHEDULER)
    task: asyncio.Task[None] | None = None
    try:
        assert process.stderr is not None
        async with asyncio.timeout(30):
            while b"this copy runs the schedulers" not in await process.stderr.readline():
                pass
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            for _ in range(100):
                with contextlib.suppress(httpx.TransportError):
                    if (await http.get("/healthz")).status_code == 200:
                        break
                await asyncio.sleep(0.1)
            assert (await http.get("/healthz")).json() == {"status": "alive"}
            assert (await http.get("/console/login")).status_code == 404
        task = asyncio.create_task(waiting.run())
        await asyncio.sleep(1.0)
        assert not waiting.elected.is_set()
        process.kill()
        await process.wait()
        await asyncio.wait_for(waiting.elected.wait(), 10)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        if task is not None:
            await stop(task)
        await database.dispose()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def test_the_elected_copy_counts_the_finished_days_for_the_dashboard(
    committed: Database, limited: FakeBotApi
) -> None:
    async with committed.transaction() as session:
        session.add(
            Event(kind="served", name="menu.main", data={}, created_at=NOON - timedelta(days=1))
        )
    worker = worker_for(committed, limited, lease=f"test-{secrets.token_hex(4)}")
    worker.timings = replace(FAST, rollup_every=0.2)
    try:
        async with running(worker):
            await asyncio.wait_for(worker.elected.wait(), 5)
            for _ in range(100):
                async with committed.reading() as session:
                    last = await session.scalar(select(func.max(EventDayRolled.day)))
                if last is not None and str(last) >= str((NOON - timedelta(days=1)).date()):
                    break
                await asyncio.sleep(0.1)
        assert str(last) == str((NOON - timedelta(days=1)).date())
    finally:
        # The PostgreSQL schema is shared by the session's tests: leave no counted day.
        async with committed.transaction() as session:
            await session.execute(delete(EventDay))
            await session.execute(delete(EventDayRolled))
