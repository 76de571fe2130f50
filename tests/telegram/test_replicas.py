"""Two webhook replicas on one PostgreSQL database: a chat's updates, delivered to
alternating replicas in a shuffled order, are answered once each and in update id order;
an update recorded by a replica that stopped before handling it is handled by the chat's
next drain."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from typing import Any

import pytest
from sqlalchemy import select

from bot.content.store import ContentStore
from bot.dialogue.decision import Thresholds
from bot.dialogue.engine import Engine
from bot.nlu.service import NluService
from bot.store import service as service_store
from bot.store.db import Database
from bot.store.locks import ChatLocks
from bot.store.models import ReceivedUpdate
from tests.conftest import _postgres_url
from tests.fakes.bot_api import FakeBotApi
from tests.support.databases import private_schema
from tests.support.nlu import StubParser
from tests.support.service import Serving, made_update, serving

pytestmark = pytest.mark.postgres

COMMANDS = ["start", "help", "privacy", "menu", "help", "privacy"]


@pytest.fixture(scope="module")
def replica_schema_url() -> Iterator[str]:
    """A schema of its own: the replicas commit for real, and other tests' outer
    transactions on the shared schema must not see their users and events."""
    with private_schema(_postgres_url()) as url:
        yield url


@pytest.fixture
async def replicas(
    replica_schema_url: str, fake: FakeBotApi, content_store: ContentStore
) -> AsyncIterator[list[Serving]]:
    """Two services, each with its own database pool, chat locks and event handling."""
    # Update ids of their own: the schema is shared with the other tests of the run.
    fake.updates._next_update_id = random.randrange(10**9, 2 * 10**9)
    async with AsyncExitStack() as stack:
        running = []
        for _ in range(2):
            database = Database(replica_schema_url)
            stack.push_async_callback(database.dispose)
            engine = Engine(
                database=database,
                content=content_store.current,
                nlu=NluService(StubParser(), content_store.matcher),
                thresholds=Thresholds(),
                language_identifier=content_store.language_identifier,
            )
            running.append(
                await stack.enter_async_context(
                    serving(fake, engine, content_store, DATABASE_URL=replica_schema_url)
                )
            )
        yield running


def answers(fake: FakeBotApi, chat: int) -> list[str]:
    return [str(r.params.get("text", "")) for r in fake.requests_for("sendMessage", chat_id=chat)]


async def settled(fake: FakeBotApi, chat: int, at_least: int) -> list[str]:
    """The chat's answers once at least ``at_least`` came and no more for a while."""
    for _ in range(200):
        await asyncio.sleep(0.1)
        now = answers(fake, chat)
        if len(now) >= at_least:
            await asyncio.sleep(0.6)
            if answers(fake, chat) == now:
                return now
    raise AssertionError(f"chat answered {len(answers(fake, chat))} times, not {at_least}")


async def one_at_a_time(fake: FakeBotApi, replica: Serving, chat: int) -> list[str]:
    """The answers of a person alone, each command answered before the next is sent."""
    for command in COMMANDS:
        before = len(answers(fake, chat))
        update = made_update(fake, fake.push_command(chat, command))
        assert (await replica.deliver(update)).status_code == 200
        await settled(fake, chat, before + 1)
    return answers(fake, chat)


async def test_alternating_replicas_shuffled_arrival_answer_in_update_id_order(
    replicas: list[Serving], fake: FakeBotApi, replica_schema_url: str
) -> None:
    base = random.randrange(10**9, 2 * 10**9)
    expected = await one_at_a_time(fake, replicas[0], base)
    chat = base + 1
    updates = [made_update(fake, fake.push_command(chat, c)) for c in COMMANDS]
    # Update k to replica k mod 2; some delivered again to the other replica.
    deliveries: list[tuple[Serving, dict[str, Any]]] = [
        (replicas[k % 2], update) for k, update in enumerate(updates)
    ]
    deliveries += [(replicas[(k + 1) % 2], updates[k]) for k in (1, 4)]
    random.Random(chat).shuffle(deliveries)
    if deliveries[0][1] is updates[0]:  # arriving in id order would prove nothing
        deliveries.append(deliveries.pop(0))
    # The chat's turn is busy elsewhere (a replica handling an earlier update) while they
    # arrive: without the drain, each replica would take its updates in arrival order.
    locks = ChatLocks(replica_schema_url, size=1)
    try:
        async with locks.turn(chat):
            for replica, update in deliveries:
                assert (await replica.deliver(update)).status_code == 200
                await asyncio.sleep(0.05)
    finally:
        await locks.aclose()
    assert await settled(fake, chat, len(expected)) == expected
    # Each body emptied once handled, every row kept for de-duplication.
    database = Database(replica_schema_url)
    try:
        async with database.reading() as session:
            rows = (
                await session.execute(
                    select(ReceivedUpdate.body, ReceivedUpdate.handled_at).where(
                        ReceivedUpdate.chat_id == chat
                    )
                )
            ).all()
    finally:
        await database.dispose()
    assert len(rows) == len(COMMANDS)
    assert all(body is None and handled is not None for body, handled in rows)


async def test_an_update_recorded_but_never_handled_is_drained_by_the_next(
    replicas: list[Serving], fake: FakeBotApi, replica_schema_url: str
) -> None:
    base = random.randrange(10**9, 2 * 10**9)
    expected = await one_at_a_time(fake, replicas[1], base)
    chat = base + 1
    updates = [made_update(fake, fake.push_command(chat, c)) for c in COMMANDS]
    # A replica recorded the first update, then stopped before handling it.
    database = Database(replica_schema_url)
    try:
        async with database.transaction() as session:
            assert await service_store.record_received_update(
                session,
                channel="telegram",
                update_id=updates[0]["update_id"],
                chat_id=chat,
                body=json.dumps(updates[0]),
            )
    finally:
        await database.dispose()
    # Telegram had its 200: it does not deliver it again. The next ones still follow it.
    for k, update in enumerate(updates[1:], start=1):
        assert (await replicas[k % 2].deliver(update)).status_code == 200
    assert await settled(fake, chat, len(expected)) == expected
