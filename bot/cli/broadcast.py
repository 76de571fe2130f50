"""``kunnafoni broadcast plan | send | status | cancel``: campaigns for managers.

``plan`` counts who a campaign would reach; ``send`` queues what it owes its audience
(idempotent) and sends it with the rate-limited sender; ``status`` and ``cancel`` act on
runs. On a terminal ``send`` draws a live progress line (delivered, failed, rate, ETA);
when the output is not a terminal it prints a plain line every ``PLAIN_EVERY`` seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from datetime import UTC, datetime
from typing import TextIO

from bot.budget import build_budget
from bot.campaigns.enqueue import enqueue_campaign
from bot.campaigns.plan import plan, render
from bot.campaigns.sender import BroadcastSender, SenderSettings
from bot.cli.common import content_dir, load_or_report, load_settings
from bot.cli.database import database_url, open_database
from bot.content.store import ContentStore
from bot.store import runs
from bot.store.runs import RunStatus
from bot.telegram.transport import open_transport

PLAIN_EVERY = 10.0
BAR_WIDTH = 24


# --- plan ------------------------------------------------------------------------------------


def _iso_now(value: str | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError(f"--now '{value}' needs a time zone offset, e.g. +00:00")
    return moment


def cmd_plan(args: argparse.Namespace) -> int:
    catalog = load_or_report(content_dir(args.content_dir))
    if catalog is None:
        return 1
    campaign = catalog.campaigns.get(args.name)
    if campaign is None:
        known = ", ".join(sorted(catalog.campaigns)) or "none"
        print(f"kunnafoni: no campaign '{args.name}' (known: {known})", file=sys.stderr)
        return 2
    try:
        now = _iso_now(args.now)
    except ValueError as exc:
        print(f"kunnafoni: {exc}", file=sys.stderr)
        return 2
    url = database_url(args.db)

    async def produce() -> str:
        async with open_database(url) as database, database.transaction() as session:
            result = await plan(session, catalog, campaign, now=now)
        return json.dumps(result.as_json(), indent=2) if args.json else render(result)

    print(asyncio.run(produce()))
    return 0


# --- progress --------------------------------------------------------------------------------


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
    async with open_database(url) as database, database.transaction() as session:
        return await runs.run_status(session, run_id)


async def _show_progress(url: str, run_id: int, out: TextIO) -> None:
    tty = out.isatty()
    async with open_database(url) as database:
        while True:
            async with database.transaction() as session:
                status = await runs.run_status(session, run_id)
            if status is not None:
                line = progress_line(status, bar=tty)
                out.write(f"\r{line}\x1b[K" if tty else f"{line}\n")
                out.flush()
            await asyncio.sleep(0.5 if tty else PLAIN_EVERY)


# --- send, status, cancel --------------------------------------------------------------------


def cmd_send(args: argparse.Namespace) -> int:
    settings = load_settings()
    if settings.telegram_bot_token is None:
        print("kunnafoni: TELEGRAM_BOT_TOKEN is required to send", file=sys.stderr)
        return 2
    if (args.run is None) == (args.name is None):
        print("kunnafoni: give a campaign NAME, or --run ID", file=sys.stderr)
        return 2
    url = database_url(args.db)
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
        async with open_database(url) as database:
            progress = asyncio.create_task(_show_progress(url, args.run, sys.stdout))
            try:
                async with open_transport(token, base_url=settings.bot_api_base_url) as transport:
                    sender = BroadcastSender(
                        database,
                        transport,
                        content.current,
                        settings=sender_settings,
                        budget=build_budget(database, settings.telegram_send_rate),
                    )
                    await sender.run(args.run)
            finally:
                progress.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await progress
        status = await _status(url, args.run)
        if status is not None:
            print(("\n" if sys.stdout.isatty() else "") + progress_line(status, bar=False))
        return 0

    return asyncio.run(send())


async def _enqueue(url: str, content: ContentStore, name: str, now_text: str | None) -> int | None:
    """Enqueue campaign ``name`` (idempotent) and return its run id; None with a message."""
    catalog = content.current()
    if name not in catalog.campaigns:
        known = ", ".join(sorted(catalog.campaigns)) or "none"
        print(f"kunnafoni: no campaign '{name}' (known: {known})", file=sys.stderr)
        return None
    now = datetime.fromisoformat(now_text) if now_text else datetime.now(UTC)
    if now.tzinfo is None:
        print("kunnafoni: --now needs a time zone, e.g. 2026-12-18T10:00:00+00:00", file=sys.stderr)
        return None
    async with open_database(url) as database, database.transaction() as session:
        result = await enqueue_campaign(session, catalog, name, now=now)
    print(
        f"campaign {name}: run {result.run_id}, audience {result.audience}, "
        f"due now {result.due}, newly queued {result.added}"
    )
    return result.run_id


def cmd_status(args: argparse.Namespace) -> int:
    url = database_url(args.db)

    async def show() -> int:
        async with open_database(url) as database, database.transaction() as session:
            ids = (
                [args.run]
                if args.run is not None
                else [run.id for run in await runs.list_runs(session, limit=args.limit)]
            )
            statuses = [await runs.run_status(session, run_id) for run_id in ids]
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
    url = database_url(args.db)

    async def cancel() -> int:
        async with open_database(url) as database, database.transaction() as session:
            if await runs.get_run(session, args.run) is None:
                print(f"kunnafoni: no broadcast run {args.run}", file=sys.stderr)
                return 2
            count = await runs.cancel_run(session, args.run)
        print(f"run {args.run}: cancelled, {count} message(s) will not be sent")
        return 0

    return asyncio.run(cancel())
