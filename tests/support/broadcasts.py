"""Shared by the outbox and sender tests: a database that really commits, users, runs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import insert

from bot.store import outbox, runs
from bot.store.db import Database
from bot.store.models import User
from tests.fakes.bot_api import FakeBotApi, TelegramLimits
from tests.support.databases import sqlite_copy

#: A message every content version has (its text is what recipients get in these tests).
KEY = "intent.emergency"
FIRST_CHAT = 700_001
TOKEN = "123456:TEST"


@dataclass(frozen=True)
class Person:
    """Stands in for ``segments.Recipient``: what enqueue reads."""

    user_id: int
    chat_id: str
    language: str | None
    subscribed_at: datetime | None = None


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def committed(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """A migrated database whose transactions really commit (senders open many sessions).

    SQLite: a copy of the migrated template. PostgreSQL: the session's private schema,
    emptied of what the test wrote afterwards.
    """
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        async with sqlite_copy(template, tmp_path / "outbox.db") as database:
            yield database
        return
    url: str = request.getfixturevalue("postgres_schema_url")
    database = Database(url)
    try:
        yield database
    finally:
        async with database.transaction() as session:
            await session.connection()
            for table in ("outbox", "broadcast_runs", "users"):
                await session.execute(_delete(table))
        await database.dispose()


@pytest.fixture
async def limited() -> AsyncIterator[FakeBotApi]:
    """The fake enforcing Telegram's limits, scaled to the tests' rate (200/s)."""
    limits = TelegramLimits(global_per_second=200, paid_per_second=200)
    async with FakeBotApi(token=TOKEN, limits=limits) as server:
        yield server
    assert server.refused == [], server.refused


def _delete(table: str):  # type: ignore[no-untyped-def]
    from sqlalchemy import text

    return text(f"DELETE FROM {table}")


async def add_people(
    database: Database,
    count: int,
    *,
    first_chat: int = FIRST_CHAT,
    language: str | None = "fr",
    subscribed: bool = True,
) -> list[Person]:
    """``count`` subscribed Telegram users, chat ids from ``first_chat``."""
    rows = [
        {
            "channel": "telegram",
            "external_id": str(first_chat + i),
            "language": language,
            "subscribed": subscribed,
        }
        for i in range(count)
    ]
    async with database.transaction() as session:
        ids = list(await session.scalars(insert(User).returning(User.id), rows))
    return [Person(user_id, str(first_chat + i), language) for i, user_id in enumerate(ids)]


async def new_run(
    database: Database, people: list[Person], *, key: str = KEY, name: str = "test"
) -> int:
    async with database.transaction() as session:
        run_id = await runs.create_run(session, name=name)
        await outbox.enqueue(session, run_id, [(p, 0, key, None) for p in people])
    return run_id
