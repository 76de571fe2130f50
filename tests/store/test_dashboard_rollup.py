"""The dashboard's count of events per day (``event_days``): the same numbers as counting
the raw events, for whole and partial days, without any person in it, and unchanged by
an erasure."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select

from bot.store import dashboard
from bot.store.db import Database
from bot.store.erasure import erase_user
from bot.store.models import Event, EventDay, EventDayRolled, User
from bot.store.retention import unlink_old_events

#: Days nobody else's rows use (the PostgreSQL schema is shared between test processes).
DAY = date(2001, 3, 1)


def at(day: int, hour: int) -> datetime:
    return datetime(2001, 3, day, hour, tzinfo=UTC)


async def seed(database: Database) -> int:
    """Three days of events of two people; the id of the first."""
    async with database.transaction() as session:
        people = [User(channel="test", external_id=f"roll{i}", language="fr") for i in range(2)]
        session.add_all(people)
        await session.flush()
        rows = []
        for day in (1, 2, 3):
            for hour in (0, 9, 23):
                for person in people:
                    rows += [
                        Event(
                            user_id=person.id,
                            kind="inbound",
                            name="text",
                            language="fr",
                            data={"intent": "greet"},
                            created_at=at(day, hour),
                        ),
                        Event(
                            user_id=person.id,
                            kind="inbound",
                            name="text",
                            language="bm",
                            data={},
                            created_at=at(day, hour),
                        ),
                        Event(
                            user_id=person.id,
                            kind="served",
                            name="fallback.media",
                            language="fr",
                            data={},
                            created_at=at(day, hour),
                        ),
                        Event(
                            user_id=person.id,
                            kind="served",
                            name="topic.libya.card1",
                            language=None,
                            data={},
                            created_at=at(day, hour),
                        ),
                        Event(
                            user_id=None,
                            kind="service",
                            name="legal_aid_bamako",
                            language="fr",
                            data={},
                            created_at=at(day, hour),
                        ),
                    ]
            rows.append(
                Event(
                    user_id=people[0].id,
                    kind="served",
                    name=dashboard.EMERGENCY_KEY,
                    language="fr",
                    data={},
                    created_at=at(day, 12),
                )
            )
        session.add_all(rows)
        return people[0].id


async def tables(database: Database, period: dashboard.Period) -> list[tuple[object, ...]]:
    async with database.reading() as session:
        found = [
            *await dashboard.understanding(session, period, dashboard.Filters()),
            *await dashboard.modules(session, period, dashboard.Filters()),
            *[
                t
                for t in await dashboard.help_desk(session, period, dashboard.Filters())
                if t.name == "service_cards_shown"
            ],
        ]
    return [(t.name, *t.rows) for t in found]


async def test_the_counted_days_give_the_raw_counts(database: Database) -> None:
    first = await seed(database)
    # Partial days at both ends: from 1 March 09:00 to 3 March 10:00.
    period = dashboard.Period(at(1, 9), at(3, 10))
    whole = dashboard.Period(at(1, 0), datetime(2001, 3, 4, tzinfo=UTC))
    raw, raw_whole = await tables(database, period), await tables(database, whole)
    async with database.transaction() as session:
        # 3 March is "today": only the two days before it are counted.
        assert await dashboard.roll_up_events(session, today=DAY + timedelta(days=2)) == 2
    async with database.reading() as session:
        rolled = await session.scalars(select(EventDayRolled.day).order_by(EventDayRolled.day))
        assert list(rolled) == [DAY, DAY + timedelta(days=1)]
        counted = await session.scalar(
            select(func.sum(EventDay.events)).where(EventDay.day < DAY + timedelta(days=2))
        )
        actual = await session.scalar(
            select(func.count()).select_from(Event).where(Event.created_at < at(3, 0))
        )
    assert counted == actual
    assert await tables(database, period) == raw
    assert await tables(database, whole) == raw_whole
    # Nothing twice; a later "today" counts only the days since.
    async with database.transaction() as session:
        assert await dashboard.roll_up_events(session, today=DAY + timedelta(days=2)) == 0
        assert await dashboard.roll_up_events(session, today=DAY + timedelta(days=4)) == 2
    assert await tables(database, whole) == raw_whole
    # Understood, clarified, fell back, emergencies: 6 understood and 6 fallbacks a day.
    understanding = dict((r[0], r[1:]) for r in (await tables(database, whole))[0][1:])
    assert understanding["2001-03-02"] == (6, 0, 6, 1)

    # An erasure unlinks the events: the counts stay, and no count names anyone.
    async with database.transaction() as session:
        await erase_user(session, user_id=first, open_statuses=(), withdrawn_status="withdrawn")
    assert await tables(database, whole) == raw_whole
    assert "user_id" not in {c.name for c in EventDay.__table__.columns}


async def test_a_filter_on_people_counts_the_raw_events(database: Database) -> None:
    await seed(database)
    whole = dashboard.Period(at(1, 0), datetime(2001, 3, 4, tzinfo=UTC))
    async with database.transaction() as session:
        await dashboard.roll_up_events(session, today=DAY + timedelta(days=3))
    async with database.reading() as session:
        kept = await dashboard.understanding(session, whole, dashboard.Filters(language="fr"))
    # The service cards were shown to nobody known: a filter on people leaves them out,
    # and the people's own events are all counted from the raw rows.
    per_day = dict((r[0], r[1:]) for r in kept[0].rows)
    assert per_day["2001-03-01"] == (6, 0, 6, 1)


async def test_nothing_to_count_on_an_empty_day(database: Database) -> None:
    async with database.transaction() as session:
        assert await dashboard.roll_up_events(session, today=date(1990, 1, 1)) == 0


async def test_reach_tells_the_period_from_the_one_before_within_a_day(
    database: Database,
) -> None:
    """A period that starts at noon: the morning of its first day is the period before."""

    def when(day: int, hour: int) -> datetime:
        return datetime(2001, 3, day, hour, tzinfo=UTC)

    async with database.transaction() as session:
        people = [
            User(
                channel="test",
                external_id=f"reach{i}",
                language="fr",
                acquisition_source="reach_test",
                created_at=created,
                subscribed_at=subscribed,
            )
            for i, (created, subscribed) in enumerate(
                [
                    (when(10, 11), None),  # before
                    (when(10, 13), when(10, 13)),  # now
                    (when(9, 0), when(9, 1)),  # before
                    (when(11, 5), None),  # now
                    (when(7, 0), None),  # neither
                ]
            )
        ]
        session.add_all(people)
        await session.flush()
        for person, moment in (
            (people[1], when(10, 13)),
            (people[1], when(11, 9)),  # a second event: still one person
            (people[1], when(9, 2)),
            (people[2], when(9, 2)),
        ):
            session.add(
                Event(user_id=person.id, kind="inbound", name="text", data={}, created_at=moment)
            )
    period = dashboard.Period(when(10, 12), when(12, 12))
    async with database.reading() as session:
        tables = {
            t.name: t.rows
            for t in await dashboard.reach(session, period, dashboard.Filters(source="reach_test"))
        }
    headline = {name: (now, before) for name, now, before in tables["headline"]}
    assert headline["new_users"] == (2, 2)
    assert headline["subscribed"] == (1, 1)
    assert headline["active_users"] == (1, 2)
    assert tables["new_users_per_day"] == [("2001-03-10", 1), ("2001-03-11", 1), ("2001-03-12", 0)]
    assert tables["subscriptions_per_day"][0] == ("2001-03-10", 1, 0, 0)
    assert tables["new_users_by_language"] == [("fr", 2)]


async def test_the_console_counts_the_days_once(database: Database) -> None:
    await seed(database)
    assert await dashboard.roll_up(database, today=DAY + timedelta(days=2)) == 2
    # Nothing left to count: read, not written.
    assert await dashboard.roll_up(database, today=DAY + timedelta(days=2)) == 0
    assert await dashboard.roll_up(database, today=DAY + timedelta(days=3)) == 1


async def test_the_worker_pass_counts_each_day_once_and_keeps_the_raw_counts(
    database: Database,
) -> None:
    """The worker's elected copy counts the days that are over (one per transaction);
    passes again find nothing; the counts equal the raw ones before and after the
    retention unlinks the events and an erasure."""
    first = await seed(database)
    whole = dashboard.Period(at(1, 0), datetime(2001, 3, 4, tzinfo=UTC))
    raw_whole = await tables(database, whole)
    # 3 March is "today" for the worker: 1 and 2 March are counted, one at a time.
    assert await dashboard.roll_up(database, today=DAY + timedelta(days=2), days_at_once=1) == 2
    assert await dashboard.roll_up(database, today=DAY + timedelta(days=2)) == 0
    async with database.reading() as session:
        rolled = list(
            await session.scalars(select(EventDayRolled.day).order_by(EventDayRolled.day))
        )
    assert rolled == [DAY, DAY + timedelta(days=1)]
    # 3 March is still raw: the whole period reads two counted days and one raw one.
    assert await tables(database, whole) == raw_whole

    await unlink_old_events(database, before=at(2, 12), apply=True, batch=100)
    async with database.transaction() as session:
        await erase_user(session, user_id=first, open_statuses=(), withdrawn_status="withdrawn")
    assert await tables(database, whole) == raw_whole
    assert await dashboard.roll_up(database, today=DAY + timedelta(days=3)) == 1
    assert await tables(database, whole) == raw_whole
