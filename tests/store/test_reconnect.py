"""A pooled connection that dropped while idle (the database restarted, its backend was
ended) costs nobody an answer: pooled connections are not pinged before use, so the first
statement on a dead one fails, the pool is refreshed and the step runs again."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import AsyncAdaptedQueuePool

from bot.content.store import ContentStore
from bot.dialogue.decision import Thresholds
from bot.dialogue.engine import Engine
from bot.dialogue.types import Inbound
from bot.nlu.service import NluService
from bot.store import repositories as repo
from bot.store.db import Database, create_engine
from tests.support.databases import private_schema
from tests.support.nlu import StubParser

pytestmark = pytest.mark.postgres


@pytest.fixture
def schema_url(postgres_url: str) -> Iterator[str]:
    """A schema of this test's own: its steps commit (real connections, no outer
    transaction), and other tests count what is in theirs."""
    with private_schema(postgres_url) as url:
        yield url


async def end_pooled_connections(database: Database) -> int:
    """End the backends of every connection idle in ``database``'s pool, as a restart of
    the database would, and wait until they are gone; how many there were."""
    assert database.engine is not None
    pids = set()
    # Check out as many connections as the pool holds at once, to learn each backend.
    pool = database.engine.pool
    assert isinstance(pool, AsyncAdaptedQueuePool)
    connections = [await database.engine.connect() for _ in range(pool.size())]
    for connection in connections:
        pids.add(int(await connection.scalar(text("SELECT pg_backend_pid()"))))
        await connection.commit()
    for connection in connections:
        await connection.close()  # back to the pool, alive for now
    killer = create_engine(str(database.url))
    try:
        async with killer.begin() as connection:
            for pid in pids:
                await connection.execute(
                    text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid}
                )
    finally:
        await killer.dispose()
    return len(pids)


def make_engine(database: Database, content_store: ContentStore, *, remote: bool) -> Engine:
    return Engine(
        database=database,
        content=content_store.current,
        # With a parser the text goes out of the process (the form is looked at first);
        # without, it is read by the keywords inside the step's transaction.
        nlu=NluService(StubParser() if remote else None, content_store.matcher),
        thresholds=Thresholds(),
        language_identifier=content_store.language_identifier,
    )


async def test_a_dead_pooled_connection_fails_its_first_statement(
    schema_url: str,
) -> None:
    """What the retry is for: without a ping, the dead connection is handed out."""
    database = Database(schema_url, pool_size=1, max_overflow=0)
    try:
        assert await end_pooled_connections(database) == 1
        with pytest.raises(DBAPIError) as raised:
            async with database.transaction() as session:
                await session.execute(text("SELECT 1"))
        assert raised.value.connection_invalidated
        # The pool was refreshed: the next unit of work gets a live connection.
        async with database.transaction() as session:
            assert await session.scalar(text("SELECT 1")) == 1
    finally:
        await database.dispose()


@pytest.mark.parametrize("remote", [False, True], ids=["keywords", "nlu-server"])
async def test_a_step_on_a_dropped_connection_is_answered(
    schema_url: str, content_store: ContentStore, remote: bool
) -> None:
    database = Database(schema_url, pool_size=2, max_overflow=0)
    engine = make_engine(database, content_store, remote=remote)
    person = f"reconnect-{secrets.token_hex(6)}"
    update_ids = iter(range(secrets.randbelow(10**9) + 10**9, 2 * 10**9))

    async def send(
        *, command: str | None = None, button: str | None = None, text: str | None = None
    ) -> int:
        outcome = await engine.handle(
            Inbound(
                user_id=person,
                channel="telegram",
                update_id=next(update_ids),
                command=command,
                button=button,
                text=text,
            )
        )
        assert not outcome.duplicate
        return len(outcome.replies)

    try:
        assert await send(command="start")
        assert await send(button="lang:fr")
        assert await end_pooled_connections(database) >= 1
        # A text: with an NLU server, the look at the form runs first, then the step.
        assert await send(text="bonjour")
        assert await end_pooled_connections(database) >= 1
        assert await send(command="help")
        async with database.transaction() as session:
            user = await repo.get_user(session, channel="telegram", external_id=person)
        assert user is not None and user.language == "fr"
    finally:
        await database.dispose()
