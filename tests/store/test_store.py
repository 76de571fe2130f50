"""Repositories and migrations on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import DateTime, func, inspect, literal, select, text
from sqlalchemy.exc import StatementError

from bot.store import repositories as repo
from bot.store.db import Database, create_engine, downgrade_database, upgrade_database
from bot.store.models import ContentVersion, User
from bot.store.records import to_record
from bot.store.types import UtcDateTime, as_utc


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


@pytest.mark.postgres
async def test_a_content_version_recorded_by_replicas_at_once_is_kept_once(
    postgres_schema_url: str,
) -> None:
    """Replicas starting together record the same version: one records it, the other is
    told it was there, neither fails (a replica's start-up failed on the key before)."""
    version = secrets.token_hex(8)
    replicas = [Database(postgres_schema_url), Database(postgres_schema_url)]
    holding = asyncio.Event()

    async def first() -> bool:
        async with replicas[0].transaction() as session:
            recorded = await repo.record_content_version(
                session, version=version, published_by="startup", summary={}
            )
            holding.set()
            await asyncio.sleep(0.2)  # the other replica inserts meanwhile, and waits
            return recorded

    async def second() -> bool:
        await holding.wait()
        async with replicas[1].transaction() as session:
            return await repo.record_content_version(
                session, version=version, published_by="startup", summary={}
            )

    try:
        assert await asyncio.gather(first(), second()) == [True, False]
        async with replicas[0].reading() as session:
            mine = ContentVersion.version == version
            kept = await session.scalar(
                select(func.count()).select_from(ContentVersion).where(mine)
            )
        assert kept == 1
    finally:
        for replica in replicas:
            await replica.dispose()


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
    "received_updates",
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
    "consent_events",
    "acquisition_counts",
    "console_accounts",
    "console_audit",
    "send_budget",
    "event_days",
    "event_days_rolled",
    "referral_notes",
    "content_drafts",
    "content_releases",
    "content_files",
    "nlu_review_items",
    "content_blobs",
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


# --- timestamps: stored in UTC, read back aware ------------------------------------------------

PLUS_TWO = timezone(timedelta(hours=2))


async def test_timestamps_come_back_aware_in_utc(database: Database) -> None:
    # 12:00 at UTC+2 is 10:00 UTC: written as such, read back as such, on both databases.
    moment = datetime(2026, 12, 1, 12, 0, tzinfo=PLUS_TWO)
    async with database.transaction() as s:
        s.add(ContentVersion(version="v-tz", published_by="test", published_at=moment))
    async with database.transaction() as s:
        if s.get_bind().dialect.name == "postgresql":
            # The session's zone must not leak into what the store returns.
            await s.execute(text("SET LOCAL TIME ZONE 'Asia/Kolkata'"))
        # Only the row this test wrote: other tests' processes may commit versions too.
        (version,) = [v for v in await repo.content_versions(s) if v.version == "v-tz"]
        mine = ContentVersion.version == "v-tz"
        stored = await s.scalar(select(ContentVersion.published_at).where(mine))
        earliest = await s.scalar(select(func.min(ContentVersion.published_at)).where(mine))
    for value in (version.published_at, stored, earliest):
        assert value is not None and value.tzinfo is UTC
        assert value == moment and value.hour == 10


async def test_timestamps_are_written_in_utc_on_sqlite(database: Database) -> None:
    async with database.transaction() as s:
        if s.get_bind().dialect.name != "sqlite":
            pytest.skip("SQLite keeps the digits it is given; PostgreSQL keeps the instant")
        moment = datetime(2026, 12, 1, 12, 0, tzinfo=PLUS_TWO)
        s.add(ContentVersion(version="v-raw", published_by="test", published_at=moment))
        await s.flush()
        raw = await s.scalar(text("SELECT published_at FROM content_versions"))
    assert str(raw).startswith("2026-12-01 10:00:00")


async def test_timestamp_comparisons_use_utc(database: Database) -> None:
    moment = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    async with database.transaction() as s:
        s.add(ContentVersion(version="v-cmp", published_by="test", published_at=moment))
    # 11:30 at UTC+2 is 09:30 UTC: before the row, although its digits are later.
    earlier = datetime(2026, 12, 1, 11, 30, tzinfo=PLUS_TWO)
    async with database.transaction() as s:
        after = await s.scalar(
            select(func.count())
            .select_from(ContentVersion)
            .where(ContentVersion.published_at > earlier, ContentVersion.version == "v-cmp")
        )
    assert after == 1


async def test_a_naive_timestamp_is_refused(database: Database) -> None:
    naive = datetime(2026, 12, 1, 10, 0)
    with pytest.raises(StatementError) as written:
        async with database.transaction() as s:
            s.add(ContentVersion(version="v-naive", published_by="test", published_at=naive))
    assert isinstance(written.value.orig, ValueError)
    with pytest.raises(StatementError) as compared:
        async with database.transaction() as s:
            await s.scalar(select(ContentVersion).where(ContentVersion.published_at < naive))
    assert isinstance(compared.value.orig, ValueError)
    async with database.transaction() as s:
        versions = await repo.content_versions(s)
        assert all(v.version != "v-naive" for v in versions)


def test_the_utc_type_adds_no_migration() -> None:
    # Same column as before (TIMESTAMP WITH TIME ZONE on PostgreSQL); the drift tests above
    # check the whole schema, this one names why no migration came with UtcDateTime.
    column = ContentVersion.__table__.c.published_at
    assert isinstance(column.type, UtcDateTime)
    assert isinstance(column.type.impl, DateTime) and column.type.impl.timezone


def test_as_utc() -> None:
    assert as_utc(datetime(2026, 1, 1, 9, 0)) == datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
    converted = as_utc(datetime(2026, 1, 1, 9, 0, tzinfo=PLUS_TWO))
    assert converted.tzinfo is UTC and converted.hour == 7


# --- records: rows to the dataclasses that leave the store --------------------------------------


@dataclass(frozen=True)
class _Sample:
    id: int
    name: str | None
    at: datetime
    count: int
    extra: str = "default"


class _Row:
    def __init__(self, **values: object) -> None:
        self.__dict__.update(values)


def test_to_record_reads_fields_by_name() -> None:
    at = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
    record = to_record(_Sample, _Row(id=1, name=None, at=at, count=3, unrelated="x"))
    assert record == _Sample(1, None, at, 3)
    from_mapping = to_record(_Sample, {"id": 2, "name": "n", "at": at, "count": 0, "extra": "e"})
    assert from_mapping == _Sample(2, "n", at, 0, "e")


def test_to_record_makes_every_datetime_aware_utc() -> None:
    naive = to_record(_Sample, _Row(id=1, name=None, at=datetime(2026, 1, 1, 9, 0), count=0))
    assert naive.at == datetime(2026, 1, 1, 9, 0, tzinfo=UTC) and naive.at.tzinfo is UTC
    shifted = datetime(2026, 1, 1, 9, 0, tzinfo=PLUS_TWO)
    aware = to_record(_Sample, _Row(id=1, name=None, at=shifted, count=0))
    assert aware.at == shifted and aware.at.tzinfo is UTC and aware.at.hour == 7


def test_to_record_overrides_and_refusals() -> None:
    at = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
    record = to_record(_Sample, _Row(id=1, at=at, count=0), name="given", extra="too")
    assert (record.name, record.extra) == ("given", "too")
    with pytest.raises(AttributeError, match=r"_Sample\.name"):
        to_record(_Sample, _Row(id=1, at=at, count=0))
    with pytest.raises(TypeError, match="nope"):
        to_record(_Sample, _Row(id=1, name=None, at=at, count=0), nope=1)


async def test_to_record_reads_result_rows_by_label(database: Database) -> None:
    async with database.transaction() as s:
        user, _ = await repo.get_or_create_user(s, channel="telegram", external_id="9")
        row = (
            await s.execute(
                select(
                    User.id,
                    User.language.label("name"),
                    User.created_at.label("at"),
                    literal(5).label("count"),  # a label that is also a tuple method of Row
                )
            )
        ).one()
    record = to_record(_Sample, row)
    assert (record.id, record.name, record.count) == (user.id, None, 5)
    assert record.at == user.created_at and record.at.tzinfo is UTC


async def test_records_from_the_repositories_carry_aware_times(database: Database) -> None:
    async with database.transaction() as s:
        user, _ = await repo.get_or_create_user(s, channel="telegram", external_id="10")
    async with database.transaction() as s:
        stored = await repo.get_user(s, channel="telegram", external_id="10")
    assert stored is not None and stored == user
    assert stored.created_at.tzinfo is UTC and stored.last_seen_at.tzinfo is UTC


def test_autogenerate_writes_the_plain_column_type(tmp_path: Path) -> None:
    """A future migration made by autogenerate must not import the bot's column type."""
    from alembic.autogenerate import produce_migrations, render_python_code
    from alembic.migration import MigrationContext

    from bot.store.models import Base
    from bot.store.types import render_for_migrations

    async def render() -> str:
        engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")
        async with engine.connect() as conn:
            code = await conn.run_sync(
                lambda c: render_python_code(
                    produce_migrations(MigrationContext.configure(c), Base.metadata).upgrade_ops,
                    render_item=render_for_migrations,
                )
            )
        await engine.dispose()
        return str(code)

    code = asyncio.run(render())
    assert "sa.DateTime(timezone=True)" in code
    assert "UtcDateTime" not in code and "bot.store" not in code
