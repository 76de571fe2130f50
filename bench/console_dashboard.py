"""How long each dashboard section takes over a large database (docs/performance.md).

Fills a database (a fresh SQLite file by default, or ``--db`` a URL: a SQLite file or an
empty, disposable PostgreSQL database) with ``--users`` people over 90 days and ``--events``
events, plus quiz answers and referrals in proportion, then times every section of the
console's dashboard (``bot/store/dashboard.py`` and the publication through
``bot/disclosure.py``) for the last 30 days (``--days``), without and with a filter: the
best and worst of ``--rounds`` runs, and the best CPU time of this process (on SQLite, the
queries' too). Then each section's whole page as a signed-in viewer gets it from the
console (``GET /console/dashboard/SECTION``: the session and permission check, the same
queries, the filter choices, the template), through the ASGI app in this process. The
days that are over are first counted into ``event_days``, as the worker's elected copy does
(the time it takes is reported; a dashboard request never does it).

    .venv/bin/python -m bench.console_dashboard --users 100000 --events 1000000
    .venv/bin/python -m bench.console_dashboard --db postgresql://postgres@127.0.0.1/bench

Filling takes minutes at full size: with ``--reuse`` a database that already holds the
bench's people is only brought to the newest migration and measured again, so a change
to the queries or the indexes can be timed without filling again.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import secrets
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, insert, select, text
from starlette.applications import Starlette
from starlette.routing import Mount

from bot.config import normalise_database_url
from bot.content.store import ContentStore
from bot.store import accounts as account_store
from bot.store import dashboard
from bot.store.db import Database, upgrade_database
from bot.store.models import Event, QuizAnswer, Referral, ReferralEvent, User, to_the_hour
from bot.web.console.app import PREFIX, build_console
from bot.web.console.passwords import hash_password
from bot.web.console.tables import publish

LANGUAGES = ("fr", "bm", "ff", "ses", "snk")
PLACES = ("Kayes", "Bamako", "Sikasso", "Mopti", "Gao", "Tombouctou")
SOURCES = ("radio_kayes", "poster_bamako", "facebook", None)
CHUNK = 10_000
#: The funnel's flags on each person (opened a module, finished one, asked for help) set
#: from the events linked to them.
PROGRESS_FROM_EVENTS = tuple(
    f"UPDATE users SET progress = progress | {bit} WHERE id IN"
    f" (SELECT user_id FROM events WHERE {events} AND user_id IS NOT NULL)"
    for bit, events in (
        (1, "kind = 'served' AND name LIKE 'topic.%.card1'"),
        (2, "kind = 'served' AND name = 'topic.end'"),
        (4, "kind = 'service'"),
    )
)


async def fill(database: Database, *, users: int, events: int, seed: int = 1) -> None:
    rng = random.Random(seed)
    now = to_the_hour(datetime.now(UTC))

    def moment() -> datetime:
        return now - timedelta(hours=rng.randrange(90 * 24))

    async with database.transaction() as session:
        for start in range(0, users, CHUNK):
            rows = []
            for i in range(start, min(users, start + CHUNK)):
                created = moment()
                rows.append(
                    {
                        "id": i + 1,
                        "channel": "bench",
                        "external_id": str(i),
                        "language": rng.choice(LANGUAGES),
                        "consent": rng.random() < 0.8,
                        "region": rng.choice(PLACES),
                        "acquisition_source": rng.choice(SOURCES),
                        "subscribed": rng.random() < 0.5,
                        "subscribed_at": created if rng.random() < 0.5 else None,
                        "age_bracket": rng.choice(("15-17", "18-24", "25-34", None)),
                        "situation": rng.choice(("resident", "returnee", "diaspora", None)),
                        "created_at": created,
                        "last_seen_at": created,
                    }
                )
            await session.execute(insert(User), rows)
    kinds = (
        ("inbound", "text", 0.35),
        ("served", "topic.libya.card1", 0.1),
        ("served", "topic.end", 0.05),
        ("served", "clarify.choose", 0.05),
        ("served", "fallback.media", 0.05),
        ("served", "menu.main", 0.3),
        ("service", "legal_aid_bamako", 0.1),
    )
    weights = [w for *_, w in kinds]
    for start in range(0, events, CHUNK):
        rows = []
        for _ in range(start, min(events, start + CHUNK)):
            kind, name, _w = rng.choices(kinds, weights)[0]
            rows.append(
                {
                    "user_id": rng.randrange(1, users + 1) if rng.random() < 0.8 else None,
                    "kind": kind,
                    "name": name,
                    "language": rng.choice(LANGUAGES),
                    "data": {"intent": "greet"} if kind == "inbound" else {},
                    "created_at": moment(),
                }
            )
        async with database.transaction() as session:
            await session.execute(insert(Event), rows)
    async with database.transaction() as session:
        # What the bot keeps on each person from their linked events (``users.progress``):
        # the same statements as the migration's backfill (a reused database had them
        # from the migration).
        for statement in PROGRESS_FROM_EVENTS:
            await session.execute(text(statement))
    async with database.transaction() as session:
        answers = [
            {
                "user_id": rng.randrange(1, users + 1),
                "topic": "libya",
                "question": f"q{rng.randrange(1, 4)}",
                "answer": 1,
                "correct": rng.random() < 0.6,
                "language": rng.choice(LANGUAGES),
                "answered_at": moment(),
            }
            for _ in range(users // 2)
        ]
        for start in range(0, len(answers), CHUNK):
            await session.execute(insert(QuizAnswer), answers[start : start + CHUNK])
        referrals = max(1, users // 50)
        await session.execute(
            insert(Referral),
            [
                {
                    "id": i + 1,
                    "reference": f"B{i:07d}",
                    "user_id": rng.randrange(1, users + 1),
                    "service_id": rng.choice(("legal_aid_bamako", "shelter_gao", "health_kayes")),
                    "need": rng.choice(("legal", "shelter", "health")),
                    "status": "received",
                    "language": "fr",
                    "created_at": moment(),
                    "updated_at": now,
                }
                for i in range(referrals)
            ],
        )
        await session.execute(
            insert(ReferralEvent),
            [
                {
                    "referral_id": i + 1,
                    "status_from": "sent",
                    "status_to": "received",
                    "actor": "bench",
                    "created_at": now,
                }
                for i in range(referrals)
            ],
        )


async def already_filled(database: Database, users: int) -> bool:
    """The database holds the bench's people already (a run with ``--reuse``)."""
    async with database.reading() as session:
        found = await session.scalar(
            select(func.count()).select_from(User).where(User.channel == "bench")
        )
    return int(found or 0) >= users


SECTIONS: dict[str, Any] = {
    "reach": dashboard.reach,
    "funnel": dashboard.funnel,
    "modules": dashboard.modules,
    "understanding": dashboard.understanding,
    "help": dashboard.help_desk,
    "broadcasts": dashboard.broadcasts,
}


async def measure(database: Database, rounds: int, days: int) -> dict[str, dict[str, float]]:
    end = to_the_hour(datetime.now(UTC)) + timedelta(hours=1)
    period = dashboard.Period(end - timedelta(days=days), end)
    results: dict[str, dict[str, float]] = {}
    for label, filters in (
        ("", dashboard.Filters()),
        (" (language=bm)", dashboard.Filters(language="bm")),
    ):
        for name, section in SECTIONS.items():
            times, cpu = [], []
            for _ in range(rounds):
                began, began_cpu = time.perf_counter(), time.process_time()
                async with database.reading() as session:
                    tables = await section(session, period, filters)
                    await dashboard.choices(session)
                [publish(t) for t in tables]
                times.append((time.perf_counter() - began) * 1000)
                cpu.append((time.process_time() - began_cpu) * 1000)
            # The process's CPU time: on SQLite the queries' too (they run in this
            # process), and it depends much less than the wall clock on what else runs.
            results[name + label] = {
                "best_ms": min(times),
                "worst_ms": max(times),
                "best_cpu_ms": min(cpu),
            }
    return results


#: The viewer account the page measurement signs in with (a bench database only).
VIEWER = "bench-viewer"
ROOT = Path(__file__).resolve().parent.parent


async def measure_pages(database: Database, rounds: int, days: int) -> dict[str, dict[str, float]]:
    """Each section's whole page, as a signed-in viewer gets it: the last ``days`` days
    (today included, the console's preset for 30, a custom period otherwise)."""
    today = datetime.now(UTC).date()
    if days == 30:
        period = "period=30d"
    else:
        first = today - timedelta(days=days - 1)
        period = f"period=custom&start={first.isoformat()}&end={today.isoformat()}"
    password = secrets.token_urlsafe(16)
    async with database.transaction() as session:
        # Signed before this second: a session cookie made in the same second would be
        # taken as older than the password.
        changed = datetime.now(UTC) - timedelta(seconds=2)
        if not await account_store.set_password_hash(
            session, VIEWER, hash_password(password), at=changed
        ):
            await account_store.create_account(
                session, name=VIEWER, role="viewer", password_hash=hash_password(password)
            )
    content = ContentStore(ROOT / "content")
    console = build_console(
        database, secret=secrets.token_urlsafe(32), secure=False, catalog=content.current
    )
    app = Starlette(routes=[Mount(PREFIX, app=console)])
    results: dict[str, dict[str, float]] = {}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        form = await client.get(f"{PREFIX}/login")
        token = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert token, "no CSRF field on the sign-in page"
        signed = await client.post(
            f"{PREFIX}/login",
            data={"csrf": token.group(1), "name": VIEWER, "password": password},
        )
        assert signed.status_code == 303, f"sign-in refused: {signed.status_code}"
        for label, query in (("", period), (" (language=bm)", f"{period}&language=bm")):
            for name in SECTIONS:
                times, cpu = [], []
                for _ in range(rounds):
                    began, began_cpu = time.perf_counter(), time.process_time()
                    response = await client.get(f"{PREFIX}/dashboard/{name}?{query}")
                    times.append((time.perf_counter() - began) * 1000)
                    cpu.append((time.process_time() - began_cpu) * 1000)
                    assert response.status_code == 200, f"{name}: {response.status_code}"
                results[f"page {name}{label}"] = {
                    "best_ms": min(times),
                    "worst_ms": max(times),
                    "best_cpu_ms": min(cpu),
                }
    return results


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    if args.db:
        url = normalise_database_url(args.db)
    else:
        url = f"sqlite+aiosqlite:///{Path(tempfile.mkdtemp()) / 'dashboard.db'}"
    await upgrade_database(url)
    database = Database(url)
    try:
        began = time.perf_counter()
        filled: float | None = None
        if not (args.reuse and await already_filled(database, args.users)):
            await fill(database, users=args.users, events=args.events)
            filled = round(time.perf_counter() - began, 1)
        if url.startswith("postgresql") and database.engine is not None:
            # What autovacuum does after a bulk load (a test server may run without it):
            # without statistics the planner takes a month of events for a handful, and
            # without the visibility map an index-only scan reads the rows all the same.
            vacuum = database.engine.execution_options(isolation_level="AUTOCOMMIT")
            async with vacuum.connect() as connection:
                await connection.execute(text("VACUUM ANALYZE"))
        # What the worker's elected copy does: count the days that are over.
        began = time.perf_counter()
        days = await dashboard.roll_up(database, today=datetime.now(UTC).date())
        rolled = round(time.perf_counter() - began, 1)
        results = await measure(database, args.rounds, args.days)
        results |= await measure_pages(database, args.rounds, args.days)
    finally:
        await database.dispose()
    return {
        "database": url.split(":", 1)[0],
        "users": args.users,
        "events": args.events,
        "days": args.days,
        "fill_seconds": filled,
        "rolled_up_days": days,
        "roll_up_seconds": rolled,
        "sections": {k: {m: round(v, 1) for m, v in r.items()} for k, r in results.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--days", type=int, default=30, help="the period measured: the last DAYS days (30)"
    )
    parser.add_argument(
        "--db", default=None, help="a database URL, empty or filled (default: a new SQLite file)"
    )
    parser.add_argument(
        "--reuse", action="store_true", help="measure a database this bench filled before"
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    report = asyncio.run(main_async(args))
    if args.json:
        print(json.dumps(report, indent=2))
        return
    filled = report["fill_seconds"]
    print(
        f"{report['database']}: {args.users} users, {args.events} events "
        + (f"(filled in {filled} s)" if filled is not None else "(filled before)")
    )
    days, seconds = report["rolled_up_days"], report["roll_up_seconds"]
    print(f"  counted {days} days into event_days in {seconds} s")
    for name, r in report["sections"].items():
        print(
            f"  {name:<32} best {r['best_ms']:>8.1f} ms  worst {r['worst_ms']:>8.1f} ms"
            f"  (process CPU, best {r['best_cpu_ms']:>7.1f} ms)"
        )


if __name__ == "__main__":
    main()
