"""``kunnafoni run``: the bot on Telegram (webhook or polling) with its HTTP server, or the
console chat without a token; ``kunnafoni worker``: the worker's loops alone."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys

from bot.cli.chat import chat
from bot.cli.common import load_settings
from bot.config import Environment
from bot.content import ContentError
from bot.content.store import ContentStore
from bot.partners import PartnersError
from bot.runtime import build_runtime, checked_partners
from bot.telegram.service import run_service
from bot.telegram.worker import serve_worker


def cmd_run(args: argparse.Namespace) -> int:
    settings = load_settings()
    if settings.telegram_bot_token is None:
        if settings.environment not in (Environment.LOCAL, Environment.TEST):
            print(
                "kunnafoni: TELEGRAM_BOT_TOKEN is required to run outside local mode",
                file=sys.stderr,
            )
            return 2
        logging.getLogger("bot.cli").warning(
            "TELEGRAM_BOT_TOKEN is not set: starting the console chat instead of Telegram"
        )
        return asyncio.run(chat(settings, user=args.user, db=None, lang=None, as_json=False))
    # Where referrals go is checked before anything starts: a bad partners file is a clear
    # message and exit 2, not a traceback from inside the running bot.
    try:
        checked_partners(settings, ContentStore(settings.content_dir))
    except (PartnersError, ContentError) as exc:
        print(f"kunnafoni: cannot start: {exc}", file=sys.stderr)
        return 2
    return run_service(settings)


def cmd_worker(_args: argparse.Namespace) -> int:
    """Run the worker until SIGTERM or SIGINT: the loops stop, the sends in flight finish."""
    settings = load_settings()
    if settings.telegram_bot_token is None:
        print("kunnafoni: TELEGRAM_BOT_TOKEN is required to run the worker", file=sys.stderr)
        return 2
    try:
        runtime = build_runtime(settings)
    except (PartnersError, ContentError) as exc:
        print(f"kunnafoni: cannot start: {exc}", file=sys.stderr)
        return 2

    async def work() -> None:
        task = asyncio.create_task(serve_worker(settings, runtime))
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(work())
    return 0
