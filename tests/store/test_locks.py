"""Advisory locks across processes (PostgreSQL): one chat's updates take turns whichever
replica handles them; a lease has one holder, taken over when the holder dies."""

from __future__ import annotations

import asyncio
import secrets

import pytest
from sqlalchemy import text

from bot.store.db import create_engine
from bot.store.locks import ChatLocks, Lease
from bot.telegram.ordering import PerChatProcessor
from tests.support.updates import Recorder, message

pytestmark = pytest.mark.postgres

CHAT = 4242


async def test_sqlite_locks_nothing(tmp_path) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"
    lease, other = Lease(url, "polling"), Lease(url, "polling")
    assert await lease.try_acquire() and await other.try_acquire()
    async with ChatLocks(url, size=2).turn(CHAT):
        pass


async def test_one_chat_takes_turns_across_two_replicas(postgres_schema_url: str) -> None:
    """Two replicas (each its own processor and its own connections) get alternate updates
    of one chat, each arriving a little after the one before; earlier ones take longer.
    Without the shared turn they would overlap and finish out of order."""
    replicas = [ChatLocks(postgres_schema_url, size=4) for _ in range(2)]
    processors = [PerChatProcessor(concurrency=4, guard=locks.turn) for locks in replicas]
    seen = Recorder()
    try:
        for locks in replicas:  # connections opened before the race, as in a running replica
            async with locks.turn(CHAT + 1):
                pass
        tasks = []
        for n in range(8):
            update = message(n, CHAT)
            processor = processors[n % 2]
            tasks.append(
                asyncio.create_task(
                    processor.process_update(update, seen.handle(update, 0.2 - n * 0.02))
                )
            )
            await asyncio.sleep(0.03)
        await asyncio.gather(*tasks)
    finally:
        for locks in replicas:
            await locks.aclose()
    assert seen.most == 1
    order = [update_id for event, _chat, update_id in seen.log if event == "end"]
    assert order == list(range(8))
    # Start, end, start, end...: never two at once.
    assert [event for event, *_ in seen.log] == ["start", "end"] * 8


async def test_other_chats_do_not_wait(postgres_schema_url: str) -> None:
    locks = ChatLocks(postgres_schema_url, size=4)
    try:
        async with locks.turn(CHAT):
            await asyncio.wait_for(_enter(locks, CHAT + 7), 2)
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(_enter(locks, CHAT), 0.3)
    finally:
        await locks.aclose()


async def _enter(locks: ChatLocks, chat: int) -> None:
    async with locks.turn(chat):
        pass


async def test_a_lease_has_one_holder_and_is_taken_over(postgres_schema_url: str) -> None:
    name = f"test-{secrets.token_hex(4)}"
    first, second = Lease(postgres_schema_url, name), Lease(postgres_schema_url, name)
    try:
        assert await first.try_acquire()
        assert await first.try_acquire()  # held already
        assert not await second.try_acquire()
        await first.release()
        assert await second.try_acquire()
        assert not await first.try_acquire()
    finally:
        await first.release()
        await second.release()


async def test_a_dead_holders_lease_is_free(postgres_schema_url: str) -> None:
    """The holder's connection is cut (the process died): PostgreSQL frees the lock."""
    name = f"test-{secrets.token_hex(4)}"
    first, second = Lease(postgres_schema_url, name), Lease(postgres_schema_url, name)
    try:
        assert await first.try_acquire()
        assert not await second.try_acquire()
        await terminate_holder(postgres_schema_url, await backend_pid(first))
        assert await second.try_acquire()
        # The first notices it lost the lease; it does not hold it any more.
        assert not await first.try_acquire()
    finally:
        await first.release()
        await second.release()


async def backend_pid(lease: Lease) -> int:
    connection = lease._connection
    assert connection is not None
    pid = await connection.scalar(text("SELECT pg_backend_pid()"))
    await connection.commit()
    return int(pid)


async def terminate_holder(url: str, pid: int) -> None:
    """Cut the connection holding a lease, as a killed process's would be, and wait until
    its backend is gone (PostgreSQL frees its locks then, not when the signal is sent)."""
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid})
    finally:
        await engine.dispose()
