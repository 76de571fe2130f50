"""``kunnafoni run``: the bot on Telegram (webhook or polling) with its HTTP server, or the
console chat without a token; ``kunnafoni worker``: the worker's loops alone."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from bot.cli.chat import chat
from bot.cli.common import load_settings
from bot.cli.users import announce_console
from bot.config import Environment
from bot.content import ContentError
from bot.content.store import ContentStore
from bot.partners import PartnersError
from bot.runtime import build_runtime, checked_partners
from bot.store.db import upgrade_database
from bot.telegram.service import run_service, server_for
from bot.telegram.worker import worker_app


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
    if settings.environment in (Environment.LOCAL, Environment.TEST):
        # As the service does at start in local runs: the console's tables must exist
        # before the first admin is made.
        asyncio.run(upgrade_database(settings.database_url))
    announce_console(
        settings.database_url, f"http://{settings.http_host}:{settings.http_port}/console/"
    )
    return run_service(settings)


def cmd_worker(_args: argparse.Namespace) -> int:
    """Run the worker until SIGTERM or SIGINT: the loops stop, the sends in flight finish.
    It serves ``/healthz``, ``/readyz`` and ``/metrics`` on ``HTTP_HOST:HTTP_PORT`` (give it
    its own port when it runs on the same host as ``kunnafoni run``)."""
    settings = load_settings()
    if settings.telegram_bot_token is None:
        print("kunnafoni: TELEGRAM_BOT_TOKEN is required to run the worker", file=sys.stderr)
        return 2
    try:
        runtime = build_runtime(settings)
    except (PartnersError, ContentError) as exc:
        print(f"kunnafoni: cannot start: {exc}", file=sys.stderr)
        return 2
    server = server_for(settings, worker_app(settings, runtime))
    try:
        asyncio.run(server.serve())
    except KeyboardInterrupt:
        return 0
    return 0 if server.started else 1
