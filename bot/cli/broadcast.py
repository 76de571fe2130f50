"""``kunnafoni broadcast send | status | cancel``: the outbox and the sender for managers.

Registered into the ``broadcast`` group of ``bot/cli.py`` by :func:`add_commands`.
On a terminal ``send`` draws a live progress line (delivered, failed, rate, ETA); when the
output is not a terminal it prints a plain line every ``PLAIN_EVERY`` seconds instead.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from typing import Any, TextIO

from bot.broadcasts import outbox
from bot.broadcasts.outbox import RunStatus
from bot.config import Settings, normalise_database_url

PLAIN_EVERY = 10.0
BAR_WIDTH = 24


def _settings() -> Settings:
    from bot.cli import _settings as cli_settings

    return cli_settings()


def _url(args: argparse.Namespace) -> str:
    return normalise_database_url(args.db) if args.db else _settings().database_url


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


def progress_line(status: RunStatus, *, bar: bool) -> str:
    total = status.total or 1
    done = total - status.remaining
    rate = "-" if status.rate is None else f"{status.rate:.1f}/s"
    text = (
        f"run {status.run.id} {status.run.status}: {done}/{status.total}"
        f" delivered {status.delivered} failed {status.failed} skipped {status.skipped}"
        f" rate {rate} ETA {_duration(status.eta_seconds)}"
    )
    if not bar:
        return text
    filled = int(BAR_WIDTH * done / total)
    return f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {100 * done // total:3d}% {text}"


async def _status(url: str, run_id: int) -> RunStatus | None:
    from bot.store.db import Database

    database = Database(url)
    try:
        async with database.transaction() as session:
            return await outbox.run_status(session, run_id)
    finally:
        await database.dispose()


async def _show_progress(url: str, run_id: int, out: TextIO) -> None:
    from bot.store.db import Database

    tty = out.isatty()
    database = Database(url)
    try:
        while True:
            async with database.transaction() as session:
                status = await outbox.run_status(session, run_id)
            if status is not None:
                line = progress_line(status, bar=tty)
                out.write(f"\r{line}\x1b[K" if tty else f"{line}\n")
                out.flush()
            await asyncio.sleep(0.5 if tty else PLAIN_EVERY)
    finally:
        await database.dispose()


def cmd_send(args: argparse.Namespace) -> int:
    from telegram import Bot

    from bot.broadcasts.sender import BroadcastSender, SenderSettings
    from bot.content.store import ContentStore
    from bot.store.db import Database

    settings = _settings()
    if settings.telegram_bot_token is None:
        print("kunnafoni: TELEGRAM_BOT_TOKEN is required to send", file=sys.stderr)
        return 2
    if (args.run is None) == (args.name is None):
        print("kunnafoni: give a campaign NAME, or --run ID", file=sys.stderr)
        return 2
    url = _url(args)
    sender_settings = SenderSettings(
        rate=settings.broadcast_rate,
        paid=settings.broadcast_paid,
        concurrency=settings.broadcast_concurrency,
        lease=settings.broadcast_lease_seconds,
    )
    content = ContentStore(settings.content_dir)
    token = settings.telegram_bot_token.get_secret_value()

    async def send() -> int:
        if args.name is not None:
            found = await _enqueue(url, content, args.name, args.now)
            if found is None:
                return 2
            args.run = found
        if await _status(url, args.run) is None:
            print(f"kunnafoni: no broadcast run {args.run}", file=sys.stderr)
            return 2
        database = Database(url)
        progress = asyncio.create_task(_show_progress(url, args.run, sys.stdout))
        try:
            async with Bot(token, base_url=settings.bot_api_base_url) as bot:
                sender = BroadcastSender(database, bot, content.current, settings=sender_settings)
                await sender.run(args.run)
        finally:
            progress.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await progress
            await database.dispose()
        status = await _status(url, args.run)
        if status is not None:
            print(("\n" if sys.stdout.isatty() else "") + progress_line(status, bar=False))
        return 0

    return asyncio.run(send())


async def _enqueue(url: str, content: Any, name: str, now_text: str | None) -> int | None:
    """Enqueue campaign ``name`` (idempotent) and return its run id; None with a message."""
    from datetime import UTC, datetime

    from bot.broadcasts.enqueue import enqueue_campaign
    from bot.store.db import Database

    catalog = content.current()
    if name not in catalog.campaigns:
        known = ", ".join(sorted(catalog.campaigns)) or "none"
        print(f"kunnafoni: no campaign '{name}' (known: {known})", file=sys.stderr)
        return None
    now = datetime.fromisoformat(now_text) if now_text else datetime.now(UTC)
    if now.tzinfo is None:
        print("kunnafoni: --now needs a time zone, e.g. 2026-12-18T10:00:00+00:00", file=sys.stderr)
        return None
    database = Database(url)
    try:
        async with database.transaction() as session:
            result = await enqueue_campaign(session, catalog, name, now=now)
    finally:
        await database.dispose()
    print(
        f"campaign {name}: run {result.run_id}, audience {result.audience}, "
        f"due now {result.due}, newly queued {result.added}"
    )
    return result.run_id


def cmd_status(args: argparse.Namespace) -> int:
    from bot.store.db import Database

    url = _url(args)

    async def show() -> int:
        database = Database(url)
        try:
            async with database.transaction() as session:
                ids = (
                    [args.run]
                    if args.run is not None
                    else [run.id for run in await outbox.list_runs(session, limit=args.limit)]
                )
                statuses = [await outbox.run_status(session, run_id) for run_id in ids]
        finally:
            await database.dispose()
        if args.run is not None and statuses == [None]:
            print(f"kunnafoni: no broadcast run {args.run}", file=sys.stderr)
            return 2
        found = [s for s in statuses if s is not None]
        if args.json:
            print(json.dumps([s.as_json() for s in found], indent=2))
        else:
            for status in found:
                print(f"{progress_line(status, bar=False)} ({status.run.name})")
        return 0

    return asyncio.run(show())


def cmd_cancel(args: argparse.Namespace) -> int:
    from bot.store.db import Database

    url = _url(args)

    async def cancel() -> int:
        database = Database(url)
        try:
            async with database.transaction() as session:
                if await outbox.get_run(session, args.run) is None:
                    print(f"kunnafoni: no broadcast run {args.run}", file=sys.stderr)
                    return 2
                count = await outbox.cancel_run(session, args.run)
        finally:
            await database.dispose()
        print(f"run {args.run}: cancelled, {count} message(s) will not be sent")
        return 0

    return asyncio.run(cancel())


def add_commands(broadcast: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``send``, ``status`` and ``cancel`` to the ``broadcast`` subcommand group."""
    db_help = "database URL (default: DATABASE_URL)"
    send = broadcast.add_parser(
        "send",
        help="queue what a campaign owes its audience now, and send it at Telegram's limits",
    )
    send.add_argument(
        "name", nargs="?", default=None, help="campaign (content/broadcasts/NAME.yml)"
    )
    send.add_argument("--run", type=int, default=None, help="send an existing run instead")
    send.add_argument("--now", default=None, help="pretend it is this time (ISO, with zone)")
    send.add_argument("--db", default=None, help=db_help)
    send.set_defaults(func=cmd_send)

    status = broadcast.add_parser("status", help="a run's progress (default: recent runs)")
    status.add_argument("run", type=int, nargs="?", default=None)
    status.add_argument("--limit", type=int, default=10, help="how many recent runs")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.add_argument("--db", default=None, help=db_help)
    status.set_defaults(func=cmd_status)

    cancel = broadcast.add_parser("cancel", help="stop a run: nothing more of it is sent")
    cancel.add_argument("run", type=int)
    cancel.add_argument("--db", default=None, help=db_help)
    cancel.set_defaults(func=cmd_cancel)
