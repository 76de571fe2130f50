"""Engine, session factory and migrations."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

logger = logging.getLogger(__name__)
T = TypeVar("T")

#: The unit-of-work type other packages name in their signatures, so that only
#: ``bot/store`` imports SQLAlchemy (type hints included).
Session = AsyncSession


#: How long a SQLite transaction waits for the write lock before failing (milliseconds).
SQLITE_BUSY_TIMEOUT_MS = 15_000
#: Execution option of a unit of work that only reads (:meth:`Database.reading`).
READ_ONLY = "kunnafoni_read_only"
#: A pooled PostgreSQL connection older than this is replaced at its next checkout
#: (seconds): before a server, proxy or firewall closes an idle connection on its side.
POOL_RECYCLE_SECONDS = 1800


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
    # No ``pool_pre_ping``: it costs a round trip at every checkout, two or three per
    # step. A connection that dropped meanwhile fails its first statement instead;
    # SQLAlchemy then invalidates the pool's connections, and :meth:`Database.retrying`
    # runs the unit of work again on a new one. Old connections are recycled first.
    kwargs.setdefault("pool_recycle", POOL_RECYCLE_SECONDS)
    return create_async_engine(url, **kwargs)


def is_disconnect(exc: BaseException) -> bool:
    """The error of a connection that had dropped (the database restarted, the backend
    was ended, the network cut it): nothing of the unit of work was committed by it."""
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


class Database:
    """Owns the engine; hands out one session per unit of work."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine: AsyncEngine | None = create_engine(url, **engine_kwargs)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._writers: _WriterQueue | None = (
            _WriterQueue() if make_url(url).get_backend_name() == "sqlite" else None
        )

    @classmethod
    def bound_to(cls, connection: AsyncConnection) -> Database:
        """Sessions inside the caller's open transaction, each commit a savepoint (tests)."""
        database = cls.__new__(cls)
        database.url = str(connection.engine.url)
        database.engine = None
        database.sessions = async_sessionmaker(
            bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
        )
        database._writers = None
        return database

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """``async with db.transaction() as s:`` commits on success, rolls back on error.

        On SQLite, the process's writers queue first in arrival order (one writes at a
        time in any case): SQLite's own wait for the lock (``busy_timeout``) is not a
        queue but retries at intervals, so under many concurrent chats some would lose
        every retry and fail with ``database is locked`` after the timeout, while others
        went first many times."""
        if self._writers is None:
            async with self.sessions() as session, session.begin():
                yield session
            return
        async with self._writers.turn(), self.sessions() as session, session.begin():
            yield session

    async def retrying(self, work: Callable[[], Awaitable[T]]) -> T:
        """``work()`` (a unit of work of its own), and once more if it failed because its
        connection had dropped: a pooled connection is not checked before use (no
        ``pool_pre_ping``), so the first use after a database restart fails and the
        pool is refreshed. ``work`` must be safe to run again after a rollback."""
        try:
            return await work()
        except DBAPIError as exc:
            if not is_disconnect(exc):
                raise
            logger.warning("A database connection had dropped; trying again on a new one")
        return await work()

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


class _WriterQueue:
    """A first-come, first-served turn for the write transactions of one process (SQLite).

    The lock is made for the event loop that first waits on it, and made again if the
    loop changed (one ``Database`` used by successive ``asyncio.run`` calls). A task that
    holds the turn and opens another write transaction does not wait for itself: that
    one meets SQLite's busy timeout, as it would without this queue."""

    def __init__(self) -> None:
        self._lock: asyncio.Lock | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._holder: asyncio.Task[Any] | None = None

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        if self._lock is None or self._loop is not loop:
            self._lock, self._loop, self._holder = asyncio.Lock(), loop, None
        if task is not None and task is self._holder:
            yield
            return
        lock = self._lock
        async with lock:
            self._holder = task
            try:
                yield
            finally:
                self._holder = None


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
