"""Benchmark: a broadcast to N recipients at Telegram's limits, and a SIGKILL midway.

Not a test: it measures. Everything runs on loopback: the fake Bot API server
(``tests/fakes/bot_api/``) enforcing Telegram's flood limits (429 with ``retry_after``
beyond 30 messages/s, or the paid rate; one per chat per second) in this process, and the
bot's own ``BroadcastSender`` in a child process (``--worker``), as ``kunnafoni broadcast
send`` runs it, on a fresh database.

1. **Throughput**: one run to every recipient; the achieved rate is measured at the server
   (messages accepted / time between the first and the last), against the configured rate.
2. **Crash-restart**: a second run; the sender is killed with SIGKILL when about half the
   recipients got it, then started again. Every recipient must have it; a duplicate is only
   allowed for a message in flight at the kill (at most ``--concurrency``).

Run from the project root, as a module::

    .venv/bin/python -m bench.broadcast                       # 20,000 at 30/s: ~25 minutes
    .venv/bin/python -m bench.broadcast --recipients 2000     # quick
    .venv/bin/python -m bench.broadcast --rate 300 --paid     # paid broadcasts
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from bot.campaigns.sender import BroadcastSender, SenderSettings
from bot.config import PROJECT_ROOT, normalise_database_url
from bot.content.loader import load_catalog
from bot.store import outbox, runs
from bot.store.db import Database, upgrade_database
from bot.store.models import User
from bot.telegram.transport import open_transport
from tests.fakes.bot_api import FakeBotApi, TelegramLimits

TOKEN = "123456:BENCH"
KEY = "intent.emergency"
FIRST_CHAT = 900_000_001


class _Person:
    def __init__(self, user_id: int, chat_id: str, language: str) -> None:
        self.user_id = user_id
        self.chat_id = chat_id
        self.language = language


async def prepare(url: str, recipients: int) -> list[_Person]:
    await upgrade_database(url)
    database = Database(url)
    try:
        rows = [
            {
                "channel": "telegram",
                "external_id": str(FIRST_CHAT + i),
                "language": ("fr", "bm")[i % 2],
                "subscribed": True,
            }
            for i in range(recipients)
        ]
        async with database.transaction() as session:
            ids = list(await session.scalars(insert(User).returning(User.id), rows))
    finally:
        await database.dispose()
    return [_Person(uid, str(FIRST_CHAT + i), ("fr", "bm")[i % 2]) for i, uid in enumerate(ids)]


async def new_run(url: str, people: list[_Person], name: str) -> int:
    database = Database(url)
    try:
        async with database.transaction() as session:
            run_id = await runs.create_run(session, name=name)
            await outbox.enqueue(session, run_id, [(p, 0, KEY, None) for p in people])
    finally:
        await database.dispose()
    return run_id


def worker_command(args: argparse.Namespace, api: str, url: str, run_id: int) -> list[str]:
    command = [sys.executable, "-m", "bench.broadcast", "--worker", "--api", api]
    command += ["--db", url, "--run", str(run_id), "--rate", str(args.rate)]
    command += ["--concurrency", str(args.concurrency), "--lease", str(args.lease)]
    return command + (["--paid"] if args.paid else [])


async def start(command: list[str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(*command)


def summary(fake: Any, people: list[_Person], configured: float) -> dict[str, Any]:
    times = fake.send_times
    delivered = sum(fake.deliveries.values())
    span = times[-1] - times[0] if len(times) > 1 else 0.0
    rate = (len(times) - 1) / span if span > 0 else 0.0
    wanted = {int(p.chat_id) for p in people}
    return {
        "recipients": len(people),
        "delivered": delivered,
        "missing": len(wanted - set(fake.deliveries)),
        "duplicates": sum(count - 1 for count in fake.deliveries.values() if count > 1),
        "throttled_429": len(fake.throttled),
        "seconds": round(span, 1),
        "rate": round(rate, 2),
        "configured_rate": configured,
        "ratio": round(rate / configured, 4),
        "max_in_any_second": fake.max_in_window(1.0),
    }


def reset(fake: Any) -> None:
    fake.deliveries.clear()
    fake.send_times.clear()
    fake.throttled.clear()
    fake.requests.clear()


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="kf-bench-"))
    url = args.db or f"sqlite+aiosqlite:///{folder / 'broadcast.db'}"
    started = time.monotonic()
    people = await prepare(url, args.recipients)
    results: dict[str, Any] = {"database": url.split(":", 1)[0], "concurrency": args.concurrency}
    limits = TelegramLimits(global_per_second=30, paid_per_second=int(args.paid_limit))
    async with FakeBotApi(token=TOKEN, limits=limits) as fake:
        if not args.skip_throughput:
            run_id = await new_run(url, people, "bench-throughput")
            process = await start(worker_command(args, fake.root_url, url, run_id))
            code = await process.wait()
            results["throughput"] = summary(fake, people, args.rate) | {"exit": code}
            _print("throughput", results["throughput"], args)
            reset(fake)
            await asyncio.sleep(1.1)  # the per-chat window of the last messages
        if not args.skip_crash:
            run_id = await new_run(url, people, "bench-crash")
            command = worker_command(args, fake.root_url, url, run_id)
            process = await start(command)
            half = len(people) // 2
            # Polls a counter of the in-process server; nothing to wait on.
            while sum(fake.deliveries.values()) < half and process.returncode is None:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
            process.send_signal(signal.SIGKILL)
            await process.wait()
            at_kill = sum(fake.deliveries.values())
            restart = time.monotonic()
            code = await (await start(command)).wait()
            crash = summary(fake, people, args.rate)
            crash |= {
                "killed_after": at_kill,
                "restart_seconds": round(time.monotonic() - restart, 1),
                "in_flight_bound": args.concurrency,
                "exit": code,
                "ok": crash["missing"] == 0 and crash["duplicates"] <= args.concurrency,
            }
            results["crash_restart"] = crash
            _print("crash-restart", crash, args)
        assert fake.refused == [], fake.refused[:3]
    results["total_seconds"] = round(time.monotonic() - started, 1)
    return results


def _print(title: str, figures: dict[str, Any], args: argparse.Namespace) -> None:
    if not args.json:
        print(f"{title}: " + ", ".join(f"{k}={v}" for k, v in figures.items()), flush=True)


async def work(args: argparse.Namespace) -> int:
    catalog = load_catalog(PROJECT_ROOT / "content")
    settings = SenderSettings(
        rate=args.rate, paid=args.paid, concurrency=args.concurrency, lease=args.lease
    )
    database = Database(args.db)
    try:
        async with open_transport(TOKEN, base_url=f"{args.api}/bot") as transport:
            sender = BroadcastSender(database, transport, lambda: catalog, settings=settings)
            report = await sender.run(args.run)
    finally:
        await database.dispose()
    print(f"worker: {report}", file=sys.stderr)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipients", type=int, default=20_000)
    parser.add_argument("--rate", type=float, default=30.0, help="the sender's rate (msg/s)")
    parser.add_argument("--paid", action="store_true", help="paid broadcasts (up to 1000/s)")
    parser.add_argument("--paid-limit", type=float, default=1000, help="the fake's paid limit")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--lease", type=float, default=5.0, help="seconds before take-over")
    parser.add_argument("--db", default=None, help="database URL (default: a fresh SQLite)")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--skip-crash", action="store_true")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--api", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--run", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.db:
        args.db = normalise_database_url(args.db)
    if args.worker:
        return asyncio.run(work(args))
    results = asyncio.run(bench(args))
    print(json.dumps(results, indent=2) if args.json else f"total: {results['total_seconds']} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
