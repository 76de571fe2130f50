"""The database for a command (the one place that opens it), and ``kunnafoni db upgrade``."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from pydantic import ValidationError

from bot.cli.common import load_settings, settings_errors
from bot.config import DatabaseSettings, normalise_database_url
from bot.store.db import Database, upgrade_database


def database_url(db: str | None) -> str:
    """``--db`` if given (normalised to an async driver), else the settings' DATABASE_URL."""
    return normalise_database_url(db) if db else load_settings().database_url


def migration_database_url(db: str | None) -> str:
    """Like ``database_url``, but reading the database settings only (DATABASE_URL, or
    DATABASE_URL_FILE, DATABASE_PASSWORD_FILE): the migration job runs as a release step
    without the bot's token or the NLU secret."""
    if db:
        return normalise_database_url(db)
    try:
        return DatabaseSettings().database_url
    except ValidationError as exc:
        print(f"kunnafoni: invalid settings:\n{settings_errors(exc)}", file=sys.stderr)
        raise SystemExit(2) from exc


@asynccontextmanager
async def open_database(url: str) -> AsyncIterator[Database]:
    """The database at ``url`` for one command; its engine is disposed when the block ends."""
    database = Database(url)
    try:
        yield database
    finally:
        await database.dispose()


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    asyncio.run(upgrade_database(migration_database_url(args.db), args.revision))
    return 0
