"""The database for a command (the one place that opens it), and ``kunnafoni db upgrade``."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from bot.cli.common import load_settings
from bot.config import normalise_database_url
from bot.store.db import Database, upgrade_database


def database_url(db: str | None) -> str:
    """``--db`` if given (normalised to an async driver), else the settings' DATABASE_URL."""
    return normalise_database_url(db) if db else load_settings().database_url


@asynccontextmanager
async def open_database(url: str) -> AsyncIterator[Database]:
    """The database at ``url`` for one command; its engine is disposed when the block ends."""
    database = Database(url)
    try:
        yield database
    finally:
        await database.dispose()


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    asyncio.run(upgrade_database(database_url(args.db), args.revision))
    return 0
