"""Test databases: a private copy of the migrated SQLite template."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from bot.store.db import Database


@asynccontextmanager
async def sqlite_copy(template: Path, path: Path) -> AsyncIterator[Database]:
    """A database on a fresh copy of ``template`` at ``path`` (cheaper than migrating)."""
    path.write_bytes(template.read_bytes())
    database = Database(f"sqlite+aiosqlite:///{path}")
    try:
        yield database
    finally:
        await database.dispose()
