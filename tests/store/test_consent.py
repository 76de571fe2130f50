"""The consent ledger and the anonymous deep-link counts, and migration 0008 that made
them, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from bot.store import consent as ledger
from bot.store import repositories as repo
from bot.store.db import Database, create_engine, downgrade_database, upgrade_database

HASH_A, HASH_B = "a" * 64, "b" * 64


async def test_the_ledger_keeps_every_event_in_order(database: Database) -> None:
    start = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    async with database.transaction() as session:
        user, _ = await repo.get_or_create_user(session, channel="console", external_id="7")
        other, _ = await repo.get_or_create_user(session, channel="console", external_id="8")
        for minutes, kind, hashed in (
            (0, "asked", HASH_A),
            (1, "given", HASH_A),
            (60, "asked", HASH_B),
            (61, "refused", HASH_B),
        ):
            await ledger.record_consent_event(
                session,
                user_id=user.id,
                kind=kind,
                language="bm",
                text_hash=hashed,
                at=start + timedelta(minutes=minutes),
            )
        await ledger.record_consent_event(
            session, user_id=other.id, kind="given", language="fr", text_hash=HASH_B
        )
    async with database.transaction() as session:
        events = await ledger.consent_events(session, user_id=user.id)
        last_given = await ledger.last_consent_event(session, user_id=user.id, kind="given")
        never = await ledger.last_consent_event(session, user_id=user.id, kind="withdrawn")
    assert [(e.kind, e.text_hash) for e in events] == [
        ("asked", HASH_A),
        ("given", HASH_A),
        ("asked", HASH_B),
        ("refused", HASH_B),
    ]
    assert events[1].at == start + timedelta(minutes=1) and events[1].language == "bm"
    assert last_given is not None and last_given.text_hash == HASH_A
    assert never is None


async def test_deep_links_are_counted_per_source_and_day(database: Database) -> None:
    today, yesterday = date(2026, 12, 4), date(2026, 12, 3)
    async with database.transaction() as session:
        for source, day in (
            ("radio_kayes", today),
            ("radio_kayes", today),
            ("radio_kayes", yesterday),
            ("poster_gao", today),
        ):
            await ledger.count_acquisition(session, source=source, day=day)
    async with database.transaction() as session:
        assert await ledger.acquisition_counts(session) == {"radio_kayes": 3, "poster_gao": 1}
        assert await ledger.acquisition_counts(session, since=today) == {
            "radio_kayes": 2,
            "poster_gao": 1,
        }
        rows = (await session.execute(text("SELECT * FROM acquisition_counts"))).mappings().all()
    # The table names nobody: a source, a day, a count.
    assert set(rows[0].keys()) == {"source", "day", "count"}


# --- migration 0008 --------------------------------------------------------------------------


COUNTS = "SELECT source, day, count FROM acquisition_counts"
SOURCES = "SELECT external_id, acquisition_source FROM users"


def _migrate_with_sources(url: str) -> tuple[set[str], dict[str, int], dict[str, str | None]]:
    """Users of revision 0007 with sources (consented or not), then 0008: the tables, the
    counts and the sources left on users."""

    async def seed() -> None:
        engine = create_engine(url)
        async with engine.begin() as conn:
            for external_id, consent, source in (
                ("1", True, "radio_kayes"),
                ("2", None, "radio_kayes"),
                ("3", False, "poster_gao"),
                ("4", True, None),
            ):
                await conn.execute(
                    text(
                        "INSERT INTO users (channel, external_id, consent, acquisition_source,"
                        " subscribed, created_at, last_seen_at)"
                        " VALUES ('telegram', :e, :c, :s, :f, :t, :t)"
                    ),
                    {
                        "e": external_id,
                        "c": consent,
                        "s": source,
                        "f": False,
                        "t": datetime(2026, 11, 30, 10, tzinfo=UTC),
                    },
                )
        await engine.dispose()

    async def read() -> tuple[set[str], dict[str, int], dict[str, str | None]]:
        engine = create_engine(url)
        async with engine.connect() as conn:
            tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
            counts = {f"{r.source}@{r.day}": int(r[2]) for r in await conn.execute(text(COUNTS))}
            sources = {
                r.external_id: r.acquisition_source for r in await conn.execute(text(SOURCES))
            }
        await engine.dispose()
        return tables, counts, sources

    asyncio.run(upgrade_database(url, "0007"))
    asyncio.run(seed())
    asyncio.run(upgrade_database(url, "0008"))
    tables, counts, sources = asyncio.run(read())
    return tables, counts, sources


def _check_0008(url: str) -> None:
    tables, counts, sources = _migrate_with_sources(url)
    assert {"consent_events", "acquisition_counts"} <= tables
    # Every stored source became a count of the day the person came ...
    assert {k.replace("2026-11-30", "day"): v for k, v in counts.items()} == {
        "radio_kayes@day": 2,
        "poster_gao@day": 1,
    }
    # ... and only who consented keeps theirs.
    assert sources == {"1": "radio_kayes", "2": None, "3": None, "4": None}
    asyncio.run(downgrade_database(url, "0007"))

    async def tables_now() -> set[str]:
        engine = create_engine(url)
        async with engine.connect() as conn:
            names = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        await engine.dispose()
        return names

    after = asyncio.run(tables_now())
    assert "consent_events" not in after and "acquisition_counts" not in after
    asyncio.run(upgrade_database(url))
    assert {"consent_events", "acquisition_counts"} <= asyncio.run(tables_now())


def test_migration_0008_on_sqlite(tmp_path: Path) -> None:
    _check_0008(f"sqlite+aiosqlite:///{tmp_path / 'm.db'}")


@pytest.mark.postgres
def test_migration_0008_on_postgresql(private_postgres_schema: str) -> None:
    _check_0008(private_postgres_schema)
