"""SQLite as the embedded default under concurrent chats: write transactions take the
write lock up front (``BEGIN IMMEDIATE``), so concurrent steps wait instead of failing
with ``database is locked``."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.content.store import ContentStore
from bot.dialogue.decision import Thresholds
from bot.dialogue.engine import Engine
from bot.dialogue.types import Inbound
from bot.nlu.service import NluService
from bot.store import repositories as repo
from tests.support.databases import sqlite_copy
from tests.support.nlu import StubParser

CHATS = 50
STEPS = ("/start", "lang:fr", "consent:yes", "bonjour")


def _inbound(chat: int, step: int, what: str) -> Inbound:
    common = {"user_id": str(900_000 + chat), "channel": "telegram", "update_id": chat * 10 + step}
    if what.startswith("/"):
        return Inbound(command=what[1:], **common)
    if ":" in what:
        return Inbound(button=what, **common)
    return Inbound(text=what, **common)


async def test_fifty_chats_at_once_on_sqlite_all_answered(
    sqlite_template: Path, tmp_path: Path, content_store: ContentStore
) -> None:
    async with sqlite_copy(sqlite_template, tmp_path / "busy.db") as database:
        assert database.engine is not None  # a real file, real connections, no outer transaction
        engine = Engine(
            database=database,
            content=content_store.current,
            nlu=NluService(StubParser(), content_store.matcher),
            thresholds=Thresholds(),
            language_identifier=content_store.language_identifier,
        )

        async def chat(number: int) -> list[int]:
            answered = []
            for step, what in enumerate(STEPS):
                outcome = await engine.handle(_inbound(number, step, what))
                answered.append(len(outcome.replies))
            return answered

        results = await asyncio.gather(*(chat(n) for n in range(CHATS)), return_exceptions=True)
        failures = [r for r in results if isinstance(r, BaseException)]
        assert failures == []
        assert all(all(count > 0 for count in r) for r in results if isinstance(r, list))
        async with database.transaction() as session:
            for number in range(CHATS):
                user = await repo.get_user(
                    session, channel="telegram", external_id=str(900_000 + number)
                )
                assert user is not None and user.consent is True


async def test_write_transactions_begin_immediate(sqlite_template: Path, tmp_path: Path) -> None:
    """Two transactions that read then write: the second waits for the first."""
    async with sqlite_copy(sqlite_template, tmp_path / "order.db") as database:
        order: list[str] = []
        first_in = asyncio.Event()

        async def writer(name: str, hold: float) -> None:
            async with database.transaction() as session:
                # The session begins on its first statement: a read, as the engine's steps.
                await repo.get_user(session, channel="t", external_id=name)
                order.append(f"{name} begins")
                first_in.set()
                await repo.mark_update_processed(session, channel="t", update_id=len(order))
                await asyncio.sleep(hold)
                order.append(f"{name} commits")

        first = asyncio.create_task(writer("a", 0.2))
        await first_in.wait()
        await writer("b", 0)
        await first
        assert order == ["a begins", "a commits", "b begins", "b commits"]


async def test_a_reading_unit_does_not_wait_for_a_writer(
    sqlite_template: Path, tmp_path: Path
) -> None:
    async with sqlite_copy(sqlite_template, tmp_path / "read.db") as database:
        writing = asyncio.Event()
        release = asyncio.Event()

        async def writer() -> None:
            async with database.transaction() as session:
                await repo.mark_update_processed(session, channel="t", update_id=1)
                writing.set()
                await release.wait()

        task = asyncio.create_task(writer())
        await writing.wait()
        async with database.reading() as session:  # the writer still holds the lock
            assert await repo.get_user(session, channel="t", external_id="x") is None
        release.set()
        await task
