"""Engine, session factory and migrations."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

#: The unit-of-work type other packages name in their signatures, so that only
#: ``bot/store`` imports SQLAlchemy (type hints included).
Session = AsyncSession


#: How long a SQLite transaction waits for the write lock before failing (milliseconds).
SQLITE_BUSY_TIMEOUT_MS = 15_000
#: Execution option of a unit of work that only reads (:meth:`Database.reading`).
READ_ONLY = "kunnafoni_read_only"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # The driver must not open transactions itself (it would open them deferred, and late):
    # SQLAlchemy's "begin" event below opens each one, taking the write lock up front.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()


def _sqlite_begin_immediate(connection: Any) -> None:
    """``BEGIN IMMEDIATE``: the write lock is taken when the transaction starts.

    A deferred transaction that reads, then writes, cannot wait for the lock in WAL mode
    (its snapshot may be stale: SQLite answers ``database is locked`` at once, whatever
    the busy timeout). Taken up front, the lock is waited for (``busy_timeout``), so
    concurrent chats queue instead of failing. SQLAlchemy's documented recipe for the
    pysqlite and aiosqlite drivers. A unit of work that only reads (:meth:`Database.reading`)
    begins deferred: it never needs the lock, and never waits for a writer."""
    if connection.get_execution_options().get(READ_ONLY):
        connection.exec_driver_sql("BEGIN")
    else:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine; SQLite files get their folder created and sane pragmas.

    Statement parameters never appear in errors or logs (``hide_parameters``): they
    carry names, phone numbers and what people wrote.
    """
    kwargs["hide_parameters"] = True
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _sqlite_begin_immediate)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_async_engine(url, **kwargs)


class Database:
    """Owns the engine; hands out one session per unit of work."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine: AsyncEngine | None = create_engine(url, **engine_kwargs)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @classmethod
    def bound_to(cls, connection: AsyncConnection) -> Database:
        """Sessions inside the caller's open transaction, each commit a savepoint (tests)."""
        database = cls.__new__(cls)
        database.url = str(connection.engine.url)
        database.engine = None
        database.sessions = async_sessionmaker(
            bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
        )
        return database

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """``async with db.transaction() as s:`` commits on success, rolls back on error."""
        async with self.sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncSession]:
        """A unit of work that only reads: on SQLite it does not take the write lock (a
        consistent snapshot all the same). Writing in it may fail on SQLite when another
        transaction writes: use :meth:`transaction` for anything that writes."""
        async with self.sessions() as session, session.begin():
            await session.connection(execution_options={READ_ONLY: True})
            yield session

    async def dispose(self) -> None:
        if self.engine is not None:
            await self.engine.dispose()


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # Alembic reads '%' as interpolation; escape it in passwords.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


async def upgrade_database(url: str, revision: str = "head") -> None:
    """Bring the schema at ``url`` to ``revision`` (runs Alembic off the event loop)."""
    await asyncio.to_thread(command.upgrade, alembic_config(url), revision)


async def downgrade_database(url: str, revision: str) -> None:
    await asyncio.to_thread(command.downgrade, alembic_config(url), revision)
