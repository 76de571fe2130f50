"""The dashboard over seeded rows: every section on SQLite and PostgreSQL, small cells
suppressed in the page, the chart and the CSV alike, filters, periods and partial updates."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.content.store import ContentStore
from bot.store import dashboard
from bot.store.db import Database
from bot.store.models import (
    PROGRESS_ASKED_FOR_HELP,
    PROGRESS_OPENED_MODULE,
    Event,
    EventDay,
    EventDayRolled,
    QuizAnswer,
    Referral,
    User,
    this_hour,
    utcnow,
)
from bot.web.console.app import PREFIX
from bot.web.console.i18n import catalogue
from bot.web.console.tables import publish
from tests.web.console_support import add_accounts, client, console_app, sign_in


async def seed(database: Database) -> None:
    """12 people in French (7 opened a module, 6 answered a quiz), 3 in Bambara; one
    referral to each of two services; cards shown."""
    async with database.transaction() as session:
        people = [
            User(
                channel="test",
                external_id=f"fr{i}",
                language="fr",
                consent=True,
                region="Kayes",
                acquisition_source="radio_kayes",
                subscribed=True,
                subscribed_at=this_hour(),
            )
            for i in range(12)
        ] + [
            User(channel="test", external_id=f"bm{i}", language="bm", consent=True)
            for i in range(3)
        ]
        session.add_all(people)
        await session.flush()
        for person in people[:7]:
            # The flags the bot keeps on them for what these events say.
            person.progress = PROGRESS_OPENED_MODULE | PROGRESS_ASKED_FOR_HELP
            session.add(
                Event(
                    user_id=person.id,
                    kind="served",
                    name="topic.libya.card1",
                    language="fr",
                    data={},
                )
            )
            session.add(
                Event(
                    user_id=person.id,
                    kind="inbound",
                    name="text",
                    language="fr",
                    data={"intent": "greet"},
                )
            )
            session.add(
                Event(
                    user_id=person.id,
                    kind="service",
                    name="legal_aid_bamako",
                    language="fr",
                    data={},
                )
            )
        for i, person in enumerate(people[:6]):
            session.add(
                QuizAnswer(
                    user_id=person.id,
                    topic="libya",
                    question="q1",
                    answer=1,
                    correct=i < 4,
                    language="fr",
                )
            )
        for service in ("legal_aid_bamako", "another_partner"):
            session.add(
                Referral(
                    reference=f"R-{service[:6]}",
                    user_id=people[0].id,
                    service_id=service,
                    need="legal",
                    status="sent",
                    language="fr",
                )
            )
            session.add(
                Event(user_id=people[1].id, kind="service", name=service, language="fr", data={})
            )


def rows_of(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


async def test_every_section_renders_with_its_tables_and_labels(
    database: Database, content_store: ContentStore
) -> None:
    await add_accounts(database)
    await seed(database)
    french = catalogue("fr")
    async with client(console_app(database, content_store)) as c:
        await sign_in(c, "ada")
        for section in dashboard.SECTIONS:
            for period in ("today", "7d", "30d", "custom&start=2026-01-01&end=2026-01-31"):
                page = await c.get(f"{PREFIX}/dashboard/{section}?period={period}")
                assert page.status_code == 200, (section, period)
                assert ">chart." not in page.text and ">col." not in page.text
    # Every chart, column, figure and step a section can produce has a label.
    period = dashboard.Period(utcnow() - timedelta(days=1), utcnow() + timedelta(hours=1))
    async with database.reading() as session:
        tables = [
            *await dashboard.reach(session, period, dashboard.Filters()),
            *await dashboard.funnel(session, period, dashboard.Filters()),
            *await dashboard.modules(session, period, dashboard.Filters()),
            *await dashboard.understanding(session, period, dashboard.Filters()),
            *await dashboard.help_desk(session, period, dashboard.Filters()),
            *await dashboard.broadcasts(session, period, dashboard.Filters()),
        ]
    for table in map(publish, tables):
        assert f"chart.{table.name}" in french
        assert all(f"col.{c}" in french for c in table.columns), table.name
        if table.kind in ("figures", "funnel"):
            prefix = "figure." if table.kind == "figures" else "step."
            assert all(f"{prefix}{row[0]}" in french for row in table.rows)


async def test_small_cells_are_suppressed_in_page_and_csv(
    database: Database, content_store: ContentStore
) -> None:
    await add_accounts(database)
    await seed(database)
    async with client(console_app(database, content_store)) as c:
        await sign_in(c, "vic")
        table = await c.get(f"{PREFIX}/dashboard/reach/new_users_by_language.csv")
        assert table.status_code == 200
        assert table.headers["content-type"].startswith("text/csv")
        rows = rows_of(table.text)
        assert rows[0] == ["Catégorie", "Nouvelles personnes"]
        assert rows[1:] == [["fr", "10"], ["(other)", "<5"]]
        headline = rows_of((await c.get(f"{PREFIX}/dashboard/reach/headline.csv")).text)
        assert ["Nouvelles personnes", "15", "0", "-"] in headline
        page = await c.get(f"{PREFIX}/dashboard/reach")
        assert ">bm<" not in page.text  # 3 people: only in "(other)"
        quiz = rows_of((await c.get(f"{PREFIX}/dashboard/modules/quiz_answers.csv")).text)
        # 6 answers, 4 right: the 2 wrong ones would be a small cell, no share shown.
        assert quiz[1] == ["libya", "q1", "fr", "5", "-"]


async def test_a_filter_narrows_every_count(
    database: Database, content_store: ContentStore
) -> None:
    await add_accounts(database)
    await seed(database)
    async with client(console_app(database, content_store)) as c:
        await sign_in(c, "vic")
        funnel = await c.get(f"{PREFIX}/dashboard/funnel/awareness_funnel.csv?language=bm")
        assert rows_of(funnel.text)[1] == ["Ont commencé", "<5"]
        funnel = await c.get(f"{PREFIX}/dashboard/funnel/awareness_funnel.csv?place=Kayes")
        assert rows_of(funnel.text)[1:5] == [
            ["Ont commencé", "10"],
            ["Ont choisi une langue", "10"],
            ["Ont donné leur accord", "10"],
            ["Ont ouvert un module", "5"],
        ]
        # The filter offers only values held by 5 people or more.
        page = await c.get(f"{PREFIX}/dashboard/reach")
        assert '<option value="fr"' in page.text and '<option value="bm"' not in page.text


async def test_htmx_gets_the_section_alone(database: Database, content_store: ContentStore) -> None:
    await add_accounts(database)
    async with client(console_app(database, content_store)) as c:
        await sign_in(c, "vic")
        part = await c.get(f"{PREFIX}/dashboard/reach?period=7d", headers={"HX-Request": "true"})
        assert part.status_code == 200
        assert "<html" not in part.text and "chart-new_users_per_day" in part.text


async def test_unknown_sections_and_tables(database: Database, content_store: ContentStore) -> None:
    await add_accounts(database)
    async with client(console_app(database, content_store)) as c:
        await sign_in(c, "vic")
        assert (await c.get(f"{PREFIX}/dashboard/nothing")).status_code == 404
        assert (await c.get(f"{PREFIX}/dashboard/reach/nothing.csv")).status_code == 404


async def test_a_partner_sees_only_its_own_services(
    database: Database, content_store: ContentStore
) -> None:
    await add_accounts(database)
    await seed(database)
    async with client(console_app(database, content_store)) as c:
        await sign_in(c, "paula")
        own = await c.get(f"{PREFIX}/services/legal_aid_bamako")
        assert own.status_code == 200
        assert "another_partner" not in own.text
        assert (await c.get(f"{PREFIX}/services/another_partner")).status_code == 403
        assert (await c.get(f"{PREFIX}/dashboard/help")).status_code == 403


@pytest.mark.parametrize(
    ("shown", "previous", "change"), [(10, 5, "+100%"), ("<5", 10, "-"), (10, 0, "-")]
)
def test_change_from_the_previous_period(shown: object, previous: object, change: str) -> None:
    from bot.web.console.tables import change as compute

    assert compute(shown, previous) == change


def test_a_period_lists_each_of_its_days_once() -> None:
    from datetime import UTC, datetime

    from bot.store.dashboard import Period, _days

    start = datetime(2026, 11, 5, tzinfo=UTC)
    assert _days(Period(start, start + timedelta(days=30)))[-1] == "2026-12-04"
    assert len(_days(Period(start, start + timedelta(days=30)))) == 30


async def test_broadcast_runs_count_delivered_failed_and_blocked(
    database: Database, content_store: ContentStore
) -> None:
    from bot.store.models import BroadcastRun, OutboxMessage

    await add_accounts(database)
    async with database.transaction() as session:
        people = [User(channel="test", external_id=f"b{i}", language="fr") for i in range(17)]
        session.add_all(people)
        run = BroadcastRun(name="dashboard_counts", kind="oneoff", status="done", total=17)
        session.add(run)
        await session.flush()
        for i, person in enumerate(people):
            status, error = (
                ("sent", None) if i < 10 else ("failed", "blocked") if i < 15 else ("failed", "x")
            )
            session.add(
                OutboxMessage(
                    run_id=run.id,
                    user_id=person.id,
                    message_key="k",
                    language="fr",
                    chat_id=str(i),
                    status=status,
                    error=error,
                )
            )
    async with client(console_app(database, content_store)) as c:
        await sign_in(c, "eddie")
        got = await c.get(f"{PREFIX}/dashboard/broadcasts/broadcast_runs.csv")
    # (Other tests' processes may leave runs in the shared PostgreSQL schema: this one's row.)
    row = next(r for r in rows_of(got.text)[1:] if r[1] == "dashboard_counts")
    assert row[1:] == ["dashboard_counts", "done", "15", "10", "<5", "5"]


async def test_quiz_shares_by_place_and_age_and_handovers_per_day(
    database: Database, content_store: ContentStore
) -> None:
    """Which myths persist where: the quiz's shares by region and by age bracket; and the
    handovers opened each day, suppressed below 5 like every count."""
    from bot.store.models import Handover

    await add_accounts(database)
    async with database.transaction() as session:
        people = [
            User(
                channel="test",
                external_id=f"q{i}",
                language="fr",
                consent=True,
                region="Ménaka" if i < 10 else "Taoudénit",
                age_bracket="18-24" if i < 6 else "15-17",
            )
            for i in range(13)
        ]
        session.add_all(people)
        await session.flush()
        for i, person in enumerate(people):
            # 5 right answers (the first 5 people): Ménaka 10 answers, 5 right; Taoudénit
            # 3 answers (a small cell); 18-24: 6 answers, 5 right (1 wrong: a small cell);
            # 15-17: 7 answers, none right (the myth persists there).
            session.add(
                QuizAnswer(
                    user_id=person.id,
                    topic="myths",
                    question="m1",
                    answer=1,
                    correct=i < 5,
                    language="fr",
                )
            )
        for person in people[:7]:
            session.add(Handover(user_id=person.id, status="open", agent_chat_id=-1))
    async with client(console_app(database, content_store)) as c:
        await sign_in(c, "vic")
        by_place = rows_of(
            (await c.get(f"{PREFIX}/dashboard/modules/quiz_answers_by_place.csv")).text
        )
        by_age = rows_of((await c.get(f"{PREFIX}/dashboard/modules/quiz_answers_by_age.csv")).text)
        handovers = rows_of(
            (await c.get(f"{PREFIX}/dashboard/help/handovers_per_day.csv?place=Ménaka")).text
        )
        page = await c.get(f"{PREFIX}/dashboard/modules")
    assert by_place[0] == ["Module", "Question", "Région ou pays", "Réponses", "Bonnes réponses"]
    mine = [r for r in by_place[1:] if r[0] == "myths"]
    assert mine == [
        ["myths", "m1", "Ménaka", "10", "50%"],
        ["myths", "m1", "Taoudénit", "<5", "-"],
    ]
    ages = [r for r in by_age[1:] if r[0] == "myths"]
    assert ages == [["myths", "m1", "15-17", "5", "0%"], ["myths", "m1", "18-24", "5", "-"]]
    today = utcnow().date().isoformat()
    assert [today, "5"] in handovers  # 7 opened today, shown rounded to 5
    assert "chart-quiz_answers_by_place" in page.text and "chart-quiz_answers_by_age" in page.text


async def test_a_request_never_counts_the_days_itself(
    database: Database, content_store: ContentStore
) -> None:
    """The days that are over are counted by the worker: a look at the dashboard reads
    them raw while the worker has not reached them, and writes nothing."""
    await add_accounts(database)
    async with database.transaction() as session:
        for days_ago in (2, 3):
            for _ in range(5):
                session.add(
                    Event(
                        kind="served",
                        name="clarify.choose",
                        language="fr",
                        data={},
                        created_at=this_hour() - timedelta(days=days_ago),
                    )
                )
    async with client(console_app(database, content_store)) as c:
        await sign_in(c, "ada")
        page = await c.get(f"{PREFIX}/dashboard/understanding/understanding_by_language.csv")
        assert page.status_code == 200
        rows = rows_of(page.text)
    # Language, understood, clarified, fell back, emergencies: the 10 raw events counted
    # (10 shown as 10: counts are rounded to fives).
    french = [r for r in rows[1:] if r[0] == "fr"]
    assert french and int(french[0][2]) == 10
    async with database.reading() as session:
        assert await session.scalar(select(func.count()).select_from(EventDayRolled)) == 0
        assert await session.scalar(select(func.count()).select_from(EventDay)) == 0
