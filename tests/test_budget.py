"""Telegram's send budget across processes: the rate holds over any window whoever sends,
a 429 seen by one process pauses the others, replies go before broadcasts, and a database
that does not answer never stops the replies."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator

import pytest

from bot.budget import LocalBudget, Priority, SendBudget, SharedBudget, build_budget
from bot.store.db import Database


def most_in_window(times: list[float], window: float = 1.0) -> int:
    times = sorted(times)
    most, start = 0, 0
    for end, moment in enumerate(times):
        while moment - times[start] >= window:
            start += 1
        most = max(most, end - start + 1)
    return most


async def grants(budget: SendBudget, priority: Priority, count: int) -> list[float]:
    """``count`` sends at once through ``budget``: when each was allowed to go."""

    async def one() -> float:
        await budget.acquire(priority)
        return time.monotonic()

    return list(await asyncio.gather(*(one() for _ in range(count))))


@pytest.fixture
async def two_processes(postgres_schema_url: str) -> AsyncIterator[tuple[SharedBudget, ...]]:
    """Two budgets as two processes hold them: each its own engine, one row between them."""
    name = f"test-{secrets.token_hex(4)}"
    databases = [Database(postgres_schema_url) for _ in range(2)]
    try:
        yield tuple(SharedBudget(database, 20.0, name=name) for database in databases)
    finally:
        for database in databases:
            await database.dispose()


async def test_sqlite_gets_the_budget_of_one_process(tmp_path) -> None:  # type: ignore[no-untyped-def]
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    assert isinstance(build_budget(database, 30.0), LocalBudget)
    await database.dispose()


async def test_local_replies_paced_and_before_broadcasts() -> None:
    budget = LocalBudget(20.0)
    replies = asyncio.create_task(grants(budget, Priority.REPLY, 10))
    await asyncio.sleep(0)
    broadcast = await grants(budget, Priority.BROADCAST, 1)
    answered = await replies
    assert broadcast[0] >= max(answered) - 0.005
    assert most_in_window(answered + broadcast) <= 21


@pytest.mark.postgres
async def test_two_processes_never_exceed_the_rate(two_processes: tuple[SharedBudget, ...]) -> None:
    first, second = two_processes
    times = await asyncio.gather(
        grants(first, Priority.REPLY, 25),
        grants(second, Priority.REPLY, 15),
        grants(second, Priority.BROADCAST, 10),
    )
    everything = [moment for group in times for moment in group]
    assert len(everything) == 50
    # 20 a second: never more than 21 in any second (the first slot of a window is free).
    assert most_in_window(everything) <= 21
    assert max(everything) - min(everything) >= 2.2  # 50 sends at 20/s: about 2.5 s
    assert first.fallbacks == second.fallbacks == 0


@pytest.mark.postgres
async def test_a_429_in_one_process_pauses_the_other(
    two_processes: tuple[SharedBudget, ...],
) -> None:
    first, second = two_processes
    await first.acquire(Priority.REPLY)
    started = time.monotonic()
    await first.pause(1.0)  # Telegram answered the first process: retry after 1 s
    await second.acquire(Priority.REPLY)
    assert time.monotonic() - started >= 0.9
    await first.pause(0.5)
    started = time.monotonic()
    await second.acquire(Priority.BROADCAST)
    assert time.monotonic() - started >= 0.4


@pytest.mark.postgres
async def test_replies_go_before_broadcasts(two_processes: tuple[SharedBudget, ...]) -> None:
    """A worker's broadcasts wait while a replica's replies hold the slots."""
    replica, worker = two_processes
    await replica.acquire(Priority.REPLY)  # the row exists; the slots start now
    replies = asyncio.create_task(grants(replica, Priority.REPLY, 20))
    await asyncio.sleep(0.2)  # the replies reserved their slots (a second of them)
    broadcasts = await grants(worker, Priority.BROADCAST, 3)
    answered = await replies
    assert min(broadcasts) >= max(answered) - 0.01


async def test_a_database_down_never_stops_the_replies() -> None:
    """Nothing listens there: each send falls back to the local budget, at once."""
    database = Database("postgresql+psycopg://nobody@127.0.0.1:9/none?connect_timeout=1")
    budget = SharedBudget(database, 20.0)
    try:
        started = time.monotonic()
        times = await grants(budget, Priority.REPLY, 10)
        await budget.pause(0.0)
        assert max(times) - started < 3.0
        assert budget.fallbacks >= 9
        assert most_in_window(times) <= 21
    finally:
        await database.dispose()
