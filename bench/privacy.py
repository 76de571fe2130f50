"""What the privacy promises cost: erasing a person, and each retention purge.

Not a test: it measures, on a database of its own that it removes at the end.

1. **Erasure**: a person with ``--events`` events (and modules seen, quiz answers, a
   conversation holding a referral form, an open referral with its history, a pending
   broadcast message), among ``--background`` events of other people; the time of
   ``bot.store.erasure.erase_user`` and its commit, the median of ``--runs`` people.
2. **Purges**: for each retention rule of ``bot/privacy/retention.py``, ``--rows`` rows
   past their period, purged by the same store function, in batches of ``--batch`` (the
   bot's 500 by default): rows per second.

``--db sqlite`` (the default) uses a SQLite file in a temporary folder;
``--db postgresql+asyncpg://USER@HOST:PORT/DB`` a schema of its own in that database
(``kf_bench_<random>``), created, migrated and dropped at the end: nothing else in that
database is touched. Run from the project root, as a module::

    .venv/bin/python -m bench.privacy
    .venv/bin/python -m bench.privacy --db postgresql+asyncpg://postgres@127.0.0.1:5432/test
    .venv/bin/python -m bench.privacy --rows 10000 --runs 3 --json

Prints a small table (``--json``: the figures as JSON). Writes nothing in the project
tree unless ``--out FILE`` is given (the JSON figures).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert
from sqlalchemy.engine import make_url

from bot.config import normalise_database_url
from bot.dialogue.memory import TYPED_KEYS
from bot.privacy.retention import FINAL_REFERRALS, SETTLED_OUTBOX
from bot.referrals.status import OPEN_STATUSES, ReferralStatus
from bot.store import retention as purges
from bot.store.db import Database, create_engine, upgrade_database
from bot.store.erasure import erase_user
from bot.store.models import (
    BroadcastRun,
    Conversation,
    Event,
    OutboxMessage,
    ProcessedUpdate,
    QuizAnswer,
    Referral,
    ReferralEvent,
    User,
    UserTopic,
    utcnow,
)

#: Rows per INSERT statement while filling the database (not measured).
CHUNK = 5_000
#: Every row the purges see is this old: past every default period.
OLD = timedelta(days=400)
TOPICS = ("sahara", "libya", "sea", "smugglers", "family_debt", "legal_paths")


@asynccontextmanager
async def bench_database(db: str) -> AsyncIterator[tuple[Database, str]]:
    """A migrated database of its own: a temporary SQLite file, or a PostgreSQL schema."""
    if db == "sqlite":
        with tempfile.TemporaryDirectory(prefix="kf-bench-") as folder:
            url = f"sqlite+aiosqlite:///{Path(folder) / 'privacy.db'}"
            await upgrade_database(url)
            database = Database(url)
            try:
                yield database, "sqlite"
            finally:
                await database.dispose()
        return
    base = normalise_database_url(db)
    if not base.startswith("postgresql"):
        raise SystemExit(f"--db: 'sqlite' or a PostgreSQL URL, not {make_url(base).drivername}")
    schema = f"kf_bench_{secrets.token_hex(4)}"
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    rendered = url.render_as_string(hide_password=False)
    admin = create_engine(base)
    try:
        async with admin.begin() as conn:
            await conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        try:
            await upgrade_database(rendered)
            database = Database(rendered)
            try:
                yield database, f"postgresql (schema {schema}, dropped)"
            finally:
                await database.dispose()
        finally:
            async with admin.begin() as conn:
                await conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
    finally:
        await admin.dispose()


async def _insert(database: Database, model: Any, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), CHUNK):
        async with database.transaction() as session:
            await session.execute(insert(model), rows[start : start + CHUNK])


async def _new_users(database: Database, count: int, prefix: str) -> list[int]:
    ids: list[int] = []
    for start in range(0, count, CHUNK):
        rows = [
            {"channel": "telegram", "external_id": f"{prefix}{i}", "consent": True}
            for i in range(start, min(count, start + CHUNK))
        ]
        async with database.transaction() as session:
            ids += list(await session.scalars(insert(User).returning(User.id), rows))
    return ids


def _events(user_id: int | None, count: int, *, old: bool = False) -> list[dict[str, Any]]:
    at = utcnow() - (OLD if old else timedelta(0))
    return [
        {
            "user_id": user_id,
            "kind": "served",
            "name": f"topic.sahara.card{i % 5}",
            "language": "fr",
            "data": {},
            "created_at": at,
        }
        for i in range(count)
    ]


# --- 1. erasure ----------------------------------------------------------------------------


async def _person(database: Database, tag: str, events: int) -> int:
    """A person with everything erasure has to find; returns their user id."""
    (user_id,) = await _new_users(database, 1, f"erase-{tag}-")
    async with database.transaction() as session:
        session.add(
            Conversation(
                user_id=user_id,
                state="referral",
                data={"referral": {"first_name": "Awa", "phone": "+22376123456"}},
            )
        )
        session.add_all(UserTopic(user_id=user_id, topic=t) for t in TOPICS)
        referral = Referral(
            reference=f"KF-{secrets.token_hex(4).upper()}",
            user_id=user_id,
            service_id="iom_mali",
            need="return_help",
            status=ReferralStatus.RECEIVED.value,
            language="fr",
            first_name="Awa",
            phone="+22376123456",
            location="kayes",
            description="Je suis rentree de Libye et je cherche du travail.",
        )
        session.add(referral)
        await session.flush()
        session.add_all(
            ReferralEvent(referral_id=referral.id, status_from=a, status_to=b, actor="user")
            for a, b in ((None, "sent"), ("sent", "received"))
        )
        run = BroadcastRun(name="weekly_quiz", kind="drip", status="sending")
        session.add(run)
        await session.flush()
        session.add(
            OutboxMessage(
                run_id=run.id,
                user_id=user_id,
                message_key="broadcast.weekly_quiz.sea",
                language="fr",
                chat_id=f"erase-{tag}",
                status="pending",
            )
        )
    await _insert(database, Event, _events(user_id, events))
    await _insert(
        database,
        QuizAnswer,
        [
            {"user_id": user_id, "topic": "sahara", "question": f"q{i}", "answer": 1}
            | {"correct": True, "language": "fr"}
            for i in range(max(1, events // 20))
        ],
    )
    return user_id


async def measure_erasure(
    database: Database, *, events: int, background: int, runs: int
) -> dict[str, Any]:
    others = await _new_users(database, 50, "other-")
    per_person = max(1, background // len(others))
    for other in others:
        await _insert(database, Event, _events(other, per_person))
    times: list[float] = []
    for run in range(runs):
        user_id = await _person(database, str(run), events)
        started = time.perf_counter()
        async with database.transaction() as session:
            erasure = await erase_user(
                session,
                user_id=user_id,
                open_statuses=OPEN_STATUSES,
                withdrawn_status=ReferralStatus.WITHDRAWN.value,
            )
        times.append(time.perf_counter() - started)
        assert erasure.rows.get("events") == events and erasure.rows.get("users") == 1
    return {
        "events": events,
        "background_events": per_person * len(others),
        "runs": runs,
        "median_ms": round(statistics.median(times) * 1000, 1),
        "max_ms": round(max(times) * 1000, 1),
    }


# --- 2. purges -----------------------------------------------------------------------------


async def _fill_forms(database: Database, rows: int) -> None:
    users = await _new_users(database, rows, "form-")
    old = utcnow() - OLD
    await _insert(
        database,
        Conversation,
        [
            {"user_id": u, "state": "referral", "card": 0, "topic": None}
            | {"data": {"referral": {"first_name": "Awa"}}, "updated_at": old}
            for u in users
        ],
    )


async def _fill_events(database: Database, rows: int) -> None:
    users = await _new_users(database, 100, "events-")
    for i, user in enumerate(users):
        await _insert(
            database, Event, _events(user, rows // len(users) + (i < rows % 100), old=True)
        )


async def _fill_quiz(database: Database, rows: int) -> None:
    users = await _new_users(database, 100, "quiz-")
    old = utcnow() - OLD
    await _insert(
        database,
        QuizAnswer,
        [
            {"user_id": users[i % 100], "topic": "sea", "question": "q1", "answer": 0}
            | {"correct": False, "language": "bm", "answered_at": old}
            for i in range(rows)
        ],
    )


async def _fill_referrals(database: Database, rows: int) -> None:
    old = utcnow() - OLD
    await _insert(
        database,
        Referral,
        [
            {"reference": f"KF-B{i:07d}", "user_id": None, "service_id": "iom_mali"}
            | {"need": "return_help", "status": ReferralStatus.CLOSED.value, "language": "fr"}
            | {"first_name": "Awa", "phone": "+22376123456", "location": "kayes"}
            | {"description": "Rentree de Libye.", "created_at": old, "updated_at": old}
            for i in range(rows)
        ],
    )


async def _fill_outbox(database: Database, rows: int) -> None:
    users = await _new_users(database, 100, "outbox-")
    async with database.transaction() as session:
        run = BroadcastRun(name="bench", kind="oneoff", status="done")
        session.add(run)
        await session.flush()
        run_id = run.id
    old = utcnow() - OLD
    await _insert(
        database,
        OutboxMessage,
        [
            {"run_id": run_id, "user_id": users[i % 100], "step": i // 100}
            | {"message_key": "broadcast.legal_paths_reminder", "language": "fr"}
            | {"chat_id": str(i), "status": "sent", "not_before": old, "sent_at": old}
            for i in range(rows)
        ],
    )


async def _fill_updates(database: Database, rows: int) -> None:
    old = utcnow() - OLD
    await _insert(
        database,
        ProcessedUpdate,
        [{"channel": "telegram", "update_id": i, "processed_at": old} for i in range(rows)],
    )


def _rules(database: Database, batch: int) -> list[tuple[str, Callable[..., Any], Any]]:
    """(rule, fill, purge) for each retention rule, the purge called as the bot calls it."""
    now = utcnow()
    before = now - timedelta(days=1)

    def purge(rule: str) -> Callable[[], Awaitable[list[purges.Purged]]]:
        async def run() -> list[purges.Purged]:
            if rule == "abandoned_forms":
                return [
                    await purges.forget_abandoned_forms(
                        database, keys=TYPED_KEYS, before=before, apply=True, batch=batch
                    )
                ]
            if rule in ("linked_events", "linked_quiz_answers"):
                both = await purges.unlink_old_events(
                    database, before=before, apply=True, batch=batch
                )
                return [p for p in both if p.rule == rule]
            if rule == "referral_details":
                return [
                    await purges.wipe_finished_referrals(
                        database,
                        final_statuses=FINAL_REFERRALS,
                        before=before,
                        apply=True,
                        batch=batch,
                    )
                ]
            if rule == "outbox":
                return [
                    await purges.delete_finished_outbox(
                        database,
                        final_statuses=SETTLED_OUTBOX,
                        before=before,
                        apply=True,
                        batch=batch,
                    )
                ]
            return [
                await purges.delete_processed_updates(
                    database, before=before, apply=True, batch=batch
                )
            ]

        return run

    return [
        ("abandoned_forms", _fill_forms, purge("abandoned_forms")),
        ("linked_events", _fill_events, purge("linked_events")),
        ("linked_quiz_answers", _fill_quiz, purge("linked_quiz_answers")),
        ("referral_details", _fill_referrals, purge("referral_details")),
        ("outbox", _fill_outbox, purge("outbox")),
        ("processed_updates", _fill_updates, purge("processed_updates")),
    ]


async def measure_purges(database: Database, *, rows: int, batch: int) -> list[dict[str, Any]]:
    figures = []
    for rule, fill, purge in _rules(database, batch):
        await fill(database, rows)
        started = time.perf_counter()
        done = await purge()
        seconds = time.perf_counter() - started
        purged = sum(p.rows for p in done)
        assert purged == rows, f"{rule}: {purged} of {rows} rows purged"
        figures.append(
            {
                "rule": rule,
                "rows": purged,
                "seconds": round(seconds, 2),
                "rows_per_second": round(purged / seconds) if seconds else None,
            }
        )
    return figures


# --- run -----------------------------------------------------------------------------------


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    async with bench_database(args.db) as (database, where):
        erasure = await measure_erasure(
            database, events=args.events, background=args.background, runs=args.runs
        )
        purged = await measure_purges(database, rows=args.rows, batch=args.batch)
    return {"database": where, "batch": args.batch, "erasure": erasure, "purges": purged}


def render(figures: dict[str, Any]) -> str:
    erasure = figures["erasure"]
    lines = [
        f"database: {figures['database']}",
        f"erase one person with {erasure['events']} events (+ topics, quiz answers, an open"
        f" referral, a pending broadcast), among {erasure['background_events']} other events:"
        f" median {erasure['median_ms']} ms, max {erasure['max_ms']} ms ({erasure['runs']} runs)",
        f"purges, batches of {figures['batch']}:",
        f"  {'rule':<20} {'rows':>8} {'seconds':>8} {'rows/s':>8}",
    ]
    for p in figures["purges"]:
        lines.append(
            f"  {p['rule']:<20} {p['rows']:>8} {p['seconds']:>8.2f} {p['rows_per_second']:>8}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default="sqlite", help="'sqlite' (a temporary file) or a URL")
    parser.add_argument("--events", type=int, default=1_000, help="events of the erased person")
    parser.add_argument("--background", type=int, default=100_000, help="other people's events")
    parser.add_argument("--runs", type=int, default=7, help="people erased (the median is shown)")
    parser.add_argument("--rows", type=int, default=100_000, help="expired rows per purge rule")
    parser.add_argument("--batch", type=int, default=500, help="rows per purge transaction")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON figures here")
    args = parser.parse_args(argv)
    figures = asyncio.run(bench(args))
    print(json.dumps(figures, indent=2) if args.json else render(figures))
    if args.out is not None:
        args.out.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
