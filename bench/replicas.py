"""Webhook replicas on one PostgreSQL database: throughput, duplicates, order per chat.

Not a test: it measures. ``--replicas`` real ``kunnafoni run`` processes (2) in webhook
mode share a schema of their own in the PostgreSQL database given, against the fake Bot
API (no flood limits). ``--users`` new people (200) each send ``--steps`` updates
(commands whose answers differ: ``/start``, ``/help``, ``/privacy``, ...) in a
burst, one after the other without waiting for the answers, as Telegram delivers a chat's
backlog; a share ``--redeliver`` (0.1) of the updates is delivered a second time, as
Telegram does when an answer is late.

1. **one replica**: every update to the first replica;
2. **spread**: update ``k`` of each chat to replica ``k mod replicas`` (a load balancer
   that knows nothing of chats), redeliveries to another replica.

The expected answer of each chat is first recorded on one person alone, one step at a
time. Then, per chat: **duplicates** are Bot API calls beyond the expected ones,
**out of order** the chats that got all the expected calls but in another order,
**missing** the chats still short of answers after ``--timeout`` seconds.

    .venv/bin/python -m bench.replicas --db postgresql://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import random
import sys
import time
from collections import Counter
from typing import Any

from bench.privacy import bench_database
from bench.processes import Replica, replicas
from tests.fakes.bot_api import FakeBotApi

FIRST_CHAT = 8_000_000
#: What each person sends, in turn: commands whose answers differ, so that an answer out
#: of place shows (buttons cannot be pressed before the bot has shown them).
COMMANDS = ("start", "help", "privacy", "menu", "language", "subscribe", "help", "privacy")
#: Bot API calls that are part of what a person sees, in the order they see it.
SEEN = ("sendmessage", "editmessagetext", "editmessagereplymarkup", "sendphoto", "sendvoice")


def conversation(steps: int) -> list[str]:
    return [COMMANDS[i % len(COMMANDS)] for i in range(steps)]


def push(fake: FakeBotApi, chat: int, command: str) -> dict[str, Any]:
    """The update a person makes (queued in the fake, then taken to be delivered)."""
    update_id = fake.push_command(chat, command)
    update = fake.pending_updates[-1]
    assert update["update_id"] == update_id
    return update


def seen_by(fake: FakeBotApi, chat: int) -> list[str]:
    """What ``chat`` received: each call's method and text, in arrival order."""
    return [
        f"{r.method}:{r.params.get('text', '')}"
        for r in fake.requests
        if r.method.lower() in SEEN and str(r.params.get("chat_id")) == str(chat)
    ]


async def expected_answers(fake: FakeBotApi, replica: Replica, steps: int) -> list[str]:
    """One person alone, one step at a time: the calls a chat receives, in order."""
    chat = FIRST_CHAT - 1
    for command in conversation(steps):
        before = len(seen_by(fake, chat))
        assert await replica.deliver(push(fake, chat, command)) == 200
        for _ in range(100):
            await asyncio.sleep(0.1)
            now = len(seen_by(fake, chat))
            if now > before:
                await asyncio.sleep(0.5)
                if len(seen_by(fake, chat)) == now:
                    break
    return seen_by(fake, chat)


async def burst(
    fake: FakeBotApi,
    pool: list[Replica],
    args: argparse.Namespace,
    first_chat: int,
    expected: list[str],
    spread: bool,
) -> dict[str, Any]:
    rng = random.Random(first_chat)
    chats = [first_chat + n for n in range(args.users)]
    script = conversation(args.steps)
    redelivered = 0

    async def person(chat: int) -> None:
        nonlocal redelivered
        for index, command in enumerate(script):
            update = push(fake, chat, command)
            target = pool[index % len(pool)] if spread else pool[0]
            assert await target.deliver(update) == 200
            if rng.random() < args.redeliver:
                redelivered += 1
                other = pool[(index + 1) % len(pool)] if spread else pool[0]
                assert await other.deliver(update) == 200

    started = time.perf_counter()
    await asyncio.gather(*(person(chat) for chat in chats))
    deadline = time.monotonic() + args.timeout
    want = len(expected)
    while time.monotonic() < deadline:
        counts = Counter(
            str(r.params.get("chat_id")) for r in fake.requests if r.method.lower() in SEEN
        )
        if all(counts[str(chat)] >= want for chat in chats):
            break
        await asyncio.sleep(0.05)
    seconds = time.perf_counter() - started
    await asyncio.sleep(1.0)  # late duplicates, if any, arrive
    duplicates = out_of_order = missing = 0
    for chat in chats:
        got = seen_by(fake, chat)
        duplicates += max(0, len(got) - want)
        if Counter(got) == Counter(expected) and got != expected:
            out_of_order += 1
        elif len(got) < want:
            missing += 1
        elif got != expected and len(got) == want:
            out_of_order += 1
    updates = args.users * len(script)
    return {
        "updates": updates,
        "redelivered": redelivered,
        "seconds": round(seconds, 2),
        "updates_per_second": round(updates / seconds, 1),
        "duplicate_calls": duplicates,
        "chats_out_of_order": out_of_order,
        "chats_missing_answers": missing,
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    async with FakeBotApi() as fake, bench_database(args.db) as (database, described):
        await database.dispose()
        async with replicas(
            args.replicas,
            database_url=database.url,
            api_root=fake.root_url,
            # The bot's send budget lifted, as the fake's limits are: at 30 messages/s it,
            # not the replicas, would set the rate.
            TELEGRAM_SEND_RATE=str(args.send_rate),
        ) as pool:
            expected = await expected_answers(fake, pool[0], args.steps)
            one = await burst(fake, pool, args, FIRST_CHAT, expected, spread=False)
            spread = await burst(fake, pool, args, FIRST_CHAT + 100_000, expected, spread=True)
    return {
        "database": described,
        "replicas": args.replicas,
        "users": args.users,
        "steps": args.steps,
        "expected_calls_per_chat": len(expected),
        "one_replica": one,
        "spread": spread,
        "refused": len(fake.refused),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--redeliver", type=float, default=0.1)
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument(
        "--send-rate", type=float, default=1000.0, help="TELEGRAM_SEND_RATE (1000: lifted)"
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    logging.disable(logging.WARNING)
    try:
        result = asyncio.run(run(args))
    finally:
        logging.disable(logging.NOTSET)
    print(json.dumps(result, indent=2) if args.json else _table(result))
    return 0


def _table(result: dict[str, Any]) -> str:
    lines = []
    for key, value in result.items():
        if isinstance(value, dict):
            lines.append(f"{key}:")
            lines += [f"  {k:>22}: {v}" for k, v in value.items()]
        else:
            lines.append(f"{key:>24}: {value}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
