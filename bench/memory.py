"""The bot process's memory on a big database: 100,000 people and a year of events.

Not a test: it measures. A schema of its own in the PostgreSQL database given (or a
temporary SQLite file) is filled with bulk inserts, not through the engine: ``--users``
people (100,000) who chose French and consented, each with a conversation at the menu, and
``--events`` events (2,000,000, about 20 per person) spread over the last 365 days. Then
``kunnafoni run`` starts as a real process (webhook mode, the fake Bot API, keyword NLU,
the retention purge and the content watcher as configured by default) and
``--active`` of those people (2,000) write at once (``/start``, ``/help``, ``/menu``).

Reported: the resident memory (RSS, from ``/proc``) of the bot process once started, after
the load, and its peak (``VmHWM``), in MB; the time the filling took.

    .venv/bin/python -m bench.memory --db postgresql://postgres@127.0.0.1:5432/test
    .venv/bin/python -m bench.memory --users 1000 --events 10000 --active 50
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import random
import sys
import time
from datetime import timedelta
from typing import Any

from bench.privacy import CHUNK, _insert, _new_users, bench_database
from bench.processes import replicas
from bot.store.db import Database
from bot.store.models import Conversation, Event, utcnow
from tests.fakes.bot_api import FakeBotApi

PREFIX = "9"
NAMES = ("onboarding.welcome", "menu.main", "topic.sahara.card0", "topic.sea.card1", "quiz.q1")


async def fill(database: Database, users: int, events: int) -> list[int]:
    """The people, their conversations and a year of their events; their chat ids."""
    ids = await _new_users(database, users, PREFIX)
    now = utcnow()
    await _insert(
        database,
        Conversation,
        [{"user_id": i, "state": "menu", "card": 0, "data": {}, "updated_at": now} for i in ids],
    )
    rng = random.Random(7)
    for start in range(0, events, CHUNK * 4):
        rows = [
            {
                "user_id": rng.choice(ids),
                "kind": "served",
                "name": rng.choice(NAMES),
                "language": "fr",
                "data": {},
                "created_at": now - timedelta(minutes=rng.randrange(365 * 24 * 60)),
            }
            for _ in range(min(CHUNK * 4, events - start))
        ]
        await _insert(database, Event, rows)
    return [int(f"{PREFIX}{i}") for i in range(users)]


async def run(args: argparse.Namespace) -> dict[str, Any]:
    async with FakeBotApi() as fake, bench_database(args.db) as (database, described):
        started = time.perf_counter()
        chats = await fill(database, args.users, args.events)
        filled = time.perf_counter() - started
        await database.dispose()
        async with replicas(1, database_url=database.url, api_root=fake.root_url) as (bot,):
            await fake.wait_for("setWebhook", timeout=30)
            await asyncio.sleep(2)  # the first purge and content look, if any
            idle = bot.rss_kb()[0]
            active = random.Random(3).sample(chats, min(args.active, len(chats)))
            sends = 0

            async def person(chat: int) -> None:
                nonlocal sends
                for command in ("start", "help", "menu"):
                    update_id = fake.push_command(chat, command)
                    update = fake.pending_updates[-1]
                    assert update["update_id"] == update_id
                    assert await bot.deliver(update) == 200
                    sends += 1

            load = time.perf_counter()
            await asyncio.gather(*(person(chat) for chat in active))
            await fake.wait_for("sendMessage", count=sends, timeout=args.timeout)
            load_seconds = time.perf_counter() - load
            after, peak = bot.rss_kb()
    return {
        "database": described,
        "users": args.users,
        "events": args.events,
        "fill_seconds": round(filled, 1),
        "active": len(active),
        "updates": sends,
        "load_seconds": round(load_seconds, 1),
        "rss_started_mb": round(idle / 1024, 1),
        "rss_after_load_mb": round(after / 1024, 1),
        "rss_peak_mb": round(peak / 1024, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--active", type=int, default=2_000)
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    logging.disable(logging.WARNING)
    try:
        result = asyncio.run(run(args))
    finally:
        logging.disable(logging.NOTSET)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for key, value in result.items():
            print(f"{key:>18}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
