"""Repositories and migrations on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import inspect

from bot.store import repositories as repo
from bot.store.db import Database, create_engine, downgrade_database, upgrade_database


async def test_user_is_created_once_and_updated(database: Database) -> None:
    async with database.transaction() as s:
        user, created = await repo.get_or_create_user(s, channel="telegram", external_id="42")
        again, created_again = await repo.get_or_create_user(
            s, channel="telegram", external_id="42"
        )
    assert created and not created_again and user.id == again.id
    async with database.transaction() as s:
        await repo.update_user(
            s, user_id=user.id, language="bm", region="kayes", acquisition_source="radio"
        )
    async with database.transaction() as s:
        stored = await repo.get_user(s, channel="telegram", external_id="42")
    assert stored is not None
    assert (stored.language, stored.region, stored.acquisition_source) == ("bm", "kayes", "radio")
    assert stored.consent is None and stored.subscribed is False


async def test_update_user_refuses_unknown_fields(database: Database) -> None:
    async with database.transaction() as s:
        user, _ = await repo.get_or_create_user(s, channel="telegram", external_id="1")
        try:
            await repo.update_user(s, user_id=user.id, external_id="2")
        except ValueError as exc:
            assert "external_id" in str(exc)
        else:
            raise AssertionError("update_user accepted an unknown field")


async def test_conversation_round_trip(database: Database) -> None:
    async with database.transaction() as s:
        user, _ = await repo.get_or_create_user(s, channel="console", external_id="7")
        assert await repo.load_conversation(s, user_id=user.id) is None
        await repo.save_conversation(
            s,
            user_id=user.id,
            conversation=repo.ConversationState(
                state="topic", topic="sahara", card=2, data={"k": [1, 2]}
            ),
        )
    async with database.transaction() as s:
        loaded = await repo.load_conversation(s, user_id=user.id)
        assert loaded == repo.ConversationState(
            state="topic", topic="sahara", card=2, data={"k": [1, 2]}
        )
        await repo.save_conversation(
            s, user_id=user.id, conversation=repo.ConversationState(state="menu")
        )
    async with database.transaction() as s:
        assert await repo.load_conversation(s, user_id=user.id) == repo.ConversationState("menu")


async def test_processed_update_is_recorded_once(database: Database) -> None:
    async with database.transaction() as s:
        assert await repo.mark_update_processed(s, channel="telegram", update_id=10**12)
        assert not await repo.mark_update_processed(s, channel="telegram", update_id=10**12)
        # Another channel may reuse the number.
        assert await repo.mark_update_processed(s, channel="console", update_id=10**12)


async def test_events_are_countable(database: Database) -> None:
    async with database.transaction() as s:
        await repo.record_event(s, kind="served", name="menu.title", language="fr")
        await repo.record_event(
            s, kind="served", name="menu.title", language="bm", data={"fallback": False}
        )
        await repo.record_event(s, kind="inbound", name="text")
    async with database.transaction() as s:
        assert await repo.count_events(s, kind="served") == 2
        assert await repo.count_events(s, kind="served", name="menu.title") == 2
        assert await repo.count_events(s, kind="inbound", name="button") == 0


def _tables(url: str) -> set[str]:
    async def read() -> set[str]:
        engine = create_engine(url)
        async with engine.connect() as conn:
            names = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        await engine.dispose()
        return names

    return asyncio.run(read())


EXPECTED = {
    "users",
    "conversations",
    "processed_updates",
    "events",
    "content_versions",
    "quiz_answers",
    "media_files",
    "referrals",
    "referral_events",
    "handovers",
    "user_topics",
    "broadcast_runs",
    "outbox",
    "alembic_version",
}


def test_migrations_up_and_down_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"
    asyncio.run(upgrade_database(url))
    assert _tables(url) == EXPECTED
    asyncio.run(downgrade_database(url, "base"))
    assert _tables(url) == {"alembic_version"}
    asyncio.run(upgrade_database(url))
    assert _tables(url) == EXPECTED


def test_migrations_on_postgresql(postgres_schema_url: str) -> None:
    # The session fixture migrated a private schema with the same scripts.
    assert EXPECTED <= _tables(postgres_schema_url)


def _schema_drift(url: str) -> list[object]:
    """What Alembic autogenerate would still add: the models and the migrations must agree."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from bot.store.models import Base

    async def read() -> list[object]:
        engine = create_engine(url)
        async with engine.connect() as conn:
            diff = await conn.run_sync(
                lambda c: compare_metadata(MigrationContext.configure(c), Base.metadata)
            )
        await engine.dispose()
        return list(diff)

    return asyncio.run(read())


def test_migrations_match_the_models_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'd.db'}"
    asyncio.run(upgrade_database(url))
    assert _schema_drift(url) == []


def test_migrations_match_the_models_on_postgresql(postgres_schema_url: str) -> None:
    assert _schema_drift(postgres_schema_url) == []
