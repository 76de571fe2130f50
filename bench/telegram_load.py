"""The whole bot under load, as ``kunnafoni run`` serves it, against the fake Bot API.

Not a test: it measures. The service (uvicorn, the webhook or long polling,
python-telegram-bot, the per-chat processor, the engine, the database) runs in this
process, built as ``kunnafoni run`` builds it, against the fake Bot API server of the
tests (``tests/fakes/bot_api``) with no flood limits. ``--users`` new people (300) write
at the same time; each goes through ``--steps`` steps (``/start``, the language, consent,
the subscription question, then typed questions), sending the next one once the bot has
answered the previous one. An answer is complete when the chat has received as many Bot
API calls as that step brings (counted once, before the run, on one person alone).

``--api-delay MS`` makes the fake answer every Bot API call that much later (Telegram's
round trip from far away); ``--rasa URL`` uses the Rasa server there instead of the
content's keywords (``--rasa-token`` or ``$RASA_TOKEN``).

Reported: updates per second (all steps of all people, from the first sent to the last
answered), the time from an update sent to its answer complete (p50, p95, p99), and for
the first message of each person (``/start``) the median time to its first answer.

    .venv/bin/python -m bench.telegram_load --mode webhook
    .venv/bin/python -m bench.telegram_load --mode polling --api-delay 100
    .venv/bin/python -m bench.telegram_load --db postgresql://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import statistics
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from bench.engine_load import conversation, percentile
from bench.privacy import bench_database
from bot.config import Settings
from bot.runtime import build_runtime
from bot.telegram.service import SECRET_HEADER
from tests.fakes.bot_api import FakeBotApi
from tests.fakes.bot_api.records import ApiRequest
from tests.fakes.bot_api.spec import MethodSpec
from tests.support.service import SECRET, Serving, serving

FIRST_CHAT = 7_000_000
#: Telegram's webhook connections at once (the bot's default max_connections).
WEBHOOK_CONNECTIONS = 40


class TimedBotApi(FakeBotApi):
    """The fake Bot API, each call answered ``delay`` seconds late, the calls per chat
    counted so that a person knows when the bot's answer is complete."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay
        self.per_chat: Counter[int] = Counter()
        self._changed: dict[int, asyncio.Event] = {}

    async def _dispatch(self, method: MethodSpec, request: ApiRequest) -> Any:
        if self.delay:
            await asyncio.sleep(self.delay)
        result = await super()._dispatch(method, request)
        chat = request.params.get("chat_id")
        if chat is None and method.name == "answerCallbackQuery":
            chat = None  # a spinner stopped: not part of the answer a person reads
        if isinstance(chat, int) or (isinstance(chat, str) and chat.lstrip("-").isdigit()):
            key = int(chat)
            self.per_chat[key] += 1
            event = self._changed.pop(key, None)
            if event is not None:
                event.set()
        return result

    async def calls_reach(self, chat: int, count: int, within: float) -> None:
        """Until ``chat`` has received ``count`` calls."""
        deadline = time.monotonic() + within
        while self.per_chat[chat] < count:
            event = self._changed.setdefault(chat, asyncio.Event())
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no complete answer within {within} s")
            await asyncio.wait_for(event.wait(), left)


class Person:
    """One chat: pushes its steps, as a Telegram user would, one answer at a time."""

    def __init__(
        self,
        fake: TimedBotApi,
        running: Serving,
        chat: int,
        webhook: bool,
        connections: asyncio.Semaphore,
    ) -> None:
        self.connections = connections
        self.fake = fake
        self.running = running
        self.chat = chat
        self.webhook = webhook

    async def send(self, kind: str, value: str) -> None:
        if kind == "command":
            update_id = self.fake.push_command(self.chat, value)
        elif kind == "button":
            update_id = self.fake.push_callback(self.chat, value)
        else:
            update_id = self.fake.push_text(self.chat, value)
        if self.webhook:
            update = self.fake.pending_updates[-1]
            assert update["update_id"] == update_id
            # As Telegram: at most TELEGRAM_WEBHOOK_MAX_CONNECTIONS requests at once, and
            # patient while the bot holds one (its backlog is full).
            async with self.connections:
                answer = await self.running.http.post(
                    "/telegram/updates",
                    json=update,
                    headers={SECRET_HEADER: SECRET},
                    timeout=120,
                )
            answer.raise_for_status()


async def calls_per_step(
    fake: TimedBotApi, running: Serving, webhook: bool, steps: int
) -> list[int]:
    """How many Bot API calls each step brings to the chat (one person, alone)."""
    chat = FIRST_CHAT - 1
    person = Person(fake, running, chat, webhook, asyncio.Semaphore(1))
    counts = []
    for kind, value in conversation(steps):
        before = fake.per_chat[chat]
        await person.send(kind, value)
        await fake.calls_reach(chat, before + 1, within=30)
        while True:  # quiet for a while: the answer is complete
            seen = fake.per_chat[chat]
            await asyncio.sleep(0.3 + 2 * fake.delay)
            if fake.per_chat[chat] == seen:
                break
        counts.append(fake.per_chat[chat] - before)
    return counts


@asynccontextmanager
async def bot_database(db: str) -> AsyncIterator[str]:
    async with bench_database(db) as (database, described):
        await database.dispose()
        yield database.url
        del described


async def run(args: argparse.Namespace) -> dict[str, Any]:
    fake = TimedBotApi(args.api_delay / 1000)
    webhook = args.mode == "webhook"
    async with fake, bot_database(args.db) as url:
        settings: dict[str, Any] = {
            "DATABASE_URL": url,
            "RASA_URL": args.rasa or "",
            "PURGE_EVERY_SECONDS": 0,
            "UPDATE_CONCURRENCY": args.concurrency,
            # The bot's own budget of Telegram's 30 messages/s, lifted like the fake's
            # limits: at 30/s it, not the bot, would set the rate (8 calls per 6 updates:
            # 22.5 updates/s).
            "TELEGRAM_SEND_RATE": args.send_rate,
        }
        if args.rasa:
            settings["RASA_TOKEN"] = args.rasa_token or os.environ.get("RASA_TOKEN", "")
        runtime = build_runtime(Settings(**settings))
        # The budget `kunnafoni run` builds: shared through PostgreSQL (a statement per
        # send), in the process on SQLite.
        async with serving(
            fake,
            runtime.engine,
            runtime.content,
            webhook=webhook,
            budget=runtime.budget,
            **settings,
        ) as running:
            expected = await calls_per_step(fake, running, webhook, args.steps)
            connections = asyncio.Semaphore(WEBHOOK_CONNECTIONS)
            latencies: list[float] = []
            first_answer: list[float] = []

            async def person(n: int) -> None:
                chat = FIRST_CHAT + n
                someone = Person(fake, running, chat, webhook, connections)
                total = 0
                for index, (kind, value) in enumerate(conversation(args.steps)):
                    sent = time.perf_counter()
                    await someone.send(kind, value)
                    if index == 0:
                        await fake.calls_reach(chat, 1, within=args.timeout)
                        first_answer.append(time.perf_counter() - sent)
                    total += expected[index]
                    await fake.calls_reach(chat, total, within=args.timeout)
                    latencies.append(time.perf_counter() - sent)

            started, cpu = time.perf_counter(), time.process_time()
            await asyncio.gather(*(person(n) for n in range(args.users)))
            seconds = time.perf_counter() - started
            cpu = time.process_time() - cpu
            await runtime.database.dispose()
    ms = [v * 1000 for v in latencies]
    return {
        "mode": args.mode,
        "nlu": "rasa" if args.rasa else "keywords",
        "api_delay_ms": args.api_delay,
        "send_rate": args.send_rate,
        "users": args.users,
        "updates": len(ms),
        "seconds": round(seconds, 2),
        "updates_per_second": round(len(ms) / seconds, 1),
        "p50_ms": round(statistics.median(ms), 1),
        "p95_ms": round(percentile(ms, 0.95), 1),
        "p99_ms": round(percentile(ms, 0.99), 1),
        "first_answer_p50_ms": round(statistics.median(first_answer) * 1000, 1),
        "cpu_ms_per_update": round(cpu * 1000 / len(ms), 2),
        "calls_per_step": expected,
        "refused": len(fake.refused),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", choices=["webhook", "polling"], default="webhook")
    parser.add_argument("--users", type=int, default=300)
    parser.add_argument("--steps", type=int, default=6, help="steps per person")
    parser.add_argument("--api-delay", type=float, default=0.0, help="ms added to each call")
    parser.add_argument("--db", default="sqlite", help="'sqlite' or a PostgreSQL URL")
    parser.add_argument("--concurrency", type=int, default=32, help="UPDATE_CONCURRENCY")
    parser.add_argument(
        "--send-rate",
        type=float,
        default=1000.0,
        help="TELEGRAM_SEND_RATE, messages/s for all (1000, the most it takes: lifted)",
    )
    parser.add_argument("--rasa", help="the Rasa server's URL (default: keywords only)")
    parser.add_argument("--rasa-token")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per answer")
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
            print(f"{key:>20}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
