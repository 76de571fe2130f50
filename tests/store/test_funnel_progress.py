"""The funnel's flags on users (``progress``, migration 0022): the backfill from the
linked events, and the funnel read from them giving what the events gave."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import ColumnElement, and_, case, distinct, func, inspect, or_, select, text

from bench.console_dashboard import PROGRESS_FROM_EVENTS
from bot.store import dashboard
from bot.store.db import Database, create_engine, downgrade_database, upgrade_database
from bot.store.models import Event, User

#: The backfill's statements, as the migration and the bench write them.
BACKFILL = PROGRESS_FROM_EVENTS

# --- migration 0022 --------------------------------------------------------------------------

AT = datetime(2026, 11, 30, 10, tzinfo=UTC)
#: Per person (external id): the events linked to them, and the flags they get.
PEOPLE: dict[str, tuple[list[tuple[str, str]], int]] = {
    "opened": ([("served", "topic.libya.card1"), ("served", "menu.main")], 1),
    "finished": ([("served", "topic.sea.card1"), ("served", "topic.end")], 3),
    "asked": ([("service", "legal_aid_bamako"), ("inbound", "text")], 4),
    "everything": (
        [("served", "topic.end"), ("service", "shelter_gao"), ("served", "topic.sea.card1")],
        7,
    ),
    "second_card_only": ([("served", "topic.libya.card2"), ("served", "topic.card1")], 0),
    "nothing": ([], 0),
}


def _migrate_with_events(url: str) -> dict[str, int]:
    """People and events at revision 0021 (and events linked to nobody), then 0022: each
    person's progress."""

    async def seed() -> None:
        engine = create_engine(url)
        async with engine.begin() as conn:
            for external_id, (events, _) in PEOPLE.items():
                user_id = (
                    await conn.execute(
                        text(
                            "INSERT INTO users (channel, external_id, consent, subscribed,"
                            " created_at, last_seen_at)"
                            " VALUES ('telegram', :e, :c, :f, :t, :t) RETURNING id"
                        ),
                        {"e": external_id, "c": True, "f": False, "t": AT},
                    )
                ).scalar_one()
                for kind, name in [*events, ("served", "topic.end"), ("service", "x")]:
                    # Each person's own events, and the same linked to nobody.
                    owner = user_id if (kind, name) in events else None
                    await conn.execute(
                        text(
                            "INSERT INTO events (user_id, kind, name, data, created_at)"
                            " VALUES (:u, :k, :n, '{}', :t)"
                        ),
                        {"u": owner, "k": kind, "n": name, "t": AT},
                    )
        await engine.dispose()

    async def read() -> dict[str, int]:
        engine = create_engine(url)
        async with engine.connect() as conn:
            rows = await conn.execute(text("SELECT external_id, progress FROM users"))
            progress = {r.external_id: int(r.progress) for r in rows}
        await engine.dispose()
        return progress

    asyncio.run(upgrade_database(url, "0021"))
    asyncio.run(seed())
    asyncio.run(upgrade_database(url, "0022"))
    return asyncio.run(read())


def _user_columns_and_index(url: str) -> tuple[set[str], list[str]]:
    async def read() -> tuple[set[str], list[str]]:
        engine = create_engine(url)
        async with engine.connect() as conn:

            def look(c: object) -> tuple[set[str], list[str]]:
                inspector = inspect(c)
                columns = {col["name"] for col in inspector.get_columns("users")}
                index = next(
                    i
                    for i in inspector.get_indexes("users")
                    if i["name"] == "ix_users_created_profile"
                )
                return columns, list(index["column_names"])

            found = await conn.run_sync(look)
        await engine.dispose()
        return found

    return asyncio.run(read())


def _check_0022(url: str) -> None:
    progress = _migrate_with_events(url)
    assert progress == {external_id: flags for external_id, (_, flags) in PEOPLE.items()}
    columns, index = _user_columns_and_index(url)
    assert "progress" in columns and index[-1] == "progress"
    asyncio.run(downgrade_database(url, "0021"))
    columns, index = _user_columns_and_index(url)
    assert "progress" not in columns and index[-1] == "consent"
    asyncio.run(upgrade_database(url))
    columns, index = _user_columns_and_index(url)
    assert "progress" in columns and index[-1] == "progress"


def test_migration_0022_on_sqlite(tmp_path: Path) -> None:
    _check_0022(f"sqlite+aiosqlite:///{tmp_path / 'm.db'}")


@pytest.mark.postgres
def test_migration_0022_on_postgresql(private_postgres_schema: str) -> None:
    _check_0022(private_postgres_schema)


# --- the funnel: the flags give what the events gave -----------------------------------------

NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
NAMES = (
    ("served", "topic.libya.card1"),
    ("served", "topic.sea.card1"),
    ("served", "topic.libya.card2"),
    ("served", "topic.end"),
    ("served", "menu.main"),
    ("service", "legal_aid_bamako"),
    ("inbound", "text"),
)


async def _seed(database: Database, rng: random.Random) -> None:
    """People over 60 days with their filters' attributes, and events after each one's
    first contact, some linked to nobody; the flags from the backfill's statements."""
    async with database.transaction() as session:
        people = []
        for i in range(300):
            created = NOW - timedelta(hours=rng.randrange(60 * 24))
            people.append(
                User(
                    channel="test",
                    external_id=str(i),
                    language=rng.choice(("fr", "bm", None)),
                    consent=rng.choice((True, False, None)),
                    region=rng.choice(("Kayes", "Gao", None)),
                    age_bracket=rng.choice(("18-24", None)),
                    created_at=created,
                    last_seen_at=created,
                )
            )
        session.add_all(people)
        await session.flush()
        events = []
        for _ in range(3000):
            person = rng.choice(people)
            kind, name = rng.choice(NAMES)
            events.append(
                Event(
                    user_id=person.id if rng.random() < 0.8 else None,
                    kind=kind,
                    name=name,
                    data={},
                    created_at=person.created_at + timedelta(hours=rng.randrange(10 * 24)),
                )
            )
        session.add_all(events)
    async with database.transaction() as session:
        for statement in BACKFILL:
            await session.execute(text(statement))


async def _from_events(
    database: Database, period: dashboard.Period, filters: dashboard.Filters
) -> tuple[int, int, int]:
    """Opened, finished and asked as the funnel counted them from the cohort's events."""
    cohort = select(User.id).where(
        User.created_at >= period.start,
        User.created_at < period.end,
        *dashboard._user_conditions(filters),
    )

    def people_who(condition: ColumnElement[bool]) -> Any:
        return func.count(distinct(case((condition, Event.user_id))))

    opened = and_(Event.kind == "served", Event.name.like("topic.%.card1"))
    finished = and_(Event.kind == "served", Event.name == "topic.end")
    asked = Event.kind == "service"
    async with database.reading() as session:
        row = (
            await session.execute(
                select(people_who(opened), people_who(finished), people_who(asked)).where(
                    Event.created_at >= period.start,
                    or_(opened, finished, asked),
                    Event.user_id.in_(cohort),
                )
            )
        ).one()
    return int(row[0]), int(row[1]), int(row[2])


async def test_the_funnel_from_the_flags_equals_the_events(database: Database) -> None:
    await _seed(database, random.Random(22))
    periods = [
        dashboard.Period(NOW - timedelta(days=days), NOW + timedelta(hours=1))
        for days in (1, 7, 30, 90)
    ] + [dashboard.Period(NOW - timedelta(days=40), NOW - timedelta(days=20))]
    choices = [
        dashboard.Filters(),
        dashboard.Filters(language="fr"),
        dashboard.Filters(place="Kayes"),
        dashboard.Filters(language="bm", age="18-24"),
    ]
    compared = 0
    for period in periods:
        for filters in choices:
            async with database.reading() as session:
                (table,) = await dashboard.funnel(session, period, filters)
            steps = dict(table.rows)
            expected = await _from_events(database, period, filters)
            found = (steps["opened_module"], steps["finished_module"], steps["asked_for_help"])
            assert found == expected, (period, filters)
            compared += sum(expected)
    assert compared > 0
