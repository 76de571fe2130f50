"""``kunnafoni chat``: talk to the bot in this terminal (``--json``: JSON lines, for scripts)."""

from __future__ import annotations

import argparse
import asyncio
import sys

from bot import console
from bot.cli.common import load_settings
from bot.config import Settings, normalise_database_url
from bot.runtime import build_runtime
from bot.store.db import upgrade_database


async def chat(
    settings: Settings, *, user: str, db: str | None, lang: str | None, as_json: bool
) -> int:
    url = normalise_database_url(db) if db else settings.database_url
    await upgrade_database(url)
    runtime = build_runtime(settings, database_url=url)
    try:
        # Content edits show up in the chat at once: handy to try a text before publishing.
        await runtime.start()
        if lang:
            await runtime.engine.preset_language(
                channel=console.CHANNEL, user_id=user, language=lang
            )
        if as_json:
            return await console.run_json(
                runtime.engine, user_id=user, stdin=sys.stdin, stdout=sys.stdout
            )
        return await console.run_interactive(runtime.engine, user_id=user)
    finally:
        await runtime.aclose()


def cmd_chat(args: argparse.Namespace) -> int:
    settings = load_settings()
    try:
        return asyncio.run(
            chat(settings, user=args.user, db=args.db, lang=args.lang, as_json=args.json)
        )
    except ValueError as exc:
        print(f"kunnafoni: {exc}", file=sys.stderr)
        return 2
