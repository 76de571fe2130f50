"""Test databases: a private copy of the migrated SQLite template."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

from sqlalchemy.engine import make_url

from bot.store.db import Database, create_engine, upgrade_database
from tests.support.environment import run_blocking


@asynccontextmanager
async def sqlite_copy(template: Path, path: Path) -> AsyncIterator[Database]:
    """A database on a fresh copy of ``template`` at ``path`` (cheaper than migrating)."""
    path.write_bytes(template.read_bytes())
    database = Database(f"sqlite+aiosqlite:///{path}")
    try:
        yield database
    finally:
        await database.dispose()


@contextmanager
def private_schema(base: str) -> Iterator[str]:
    """A new schema in the PostgreSQL database at ``base``, migrated; its URL (the search
    path set to it). Dropped, with everything in it, at the end."""
    schema = f"kf_test_{secrets.token_hex(4)}"
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    rendered = url.render_as_string(hide_password=False)

    async def create() -> None:
        engine = create_engine(base)
        async with engine.begin() as conn:
            await conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        await engine.dispose()
        await upgrade_database(rendered)

    async def drop() -> None:
        engine = create_engine(base)
        async with engine.begin() as conn:
            await conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        await engine.dispose()

    run_blocking(create)
    try:
        yield rendered
    finally:
        run_blocking(drop)
