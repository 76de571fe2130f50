"""Locks shared by every process on one PostgreSQL database: PostgreSQL advisory locks.

- **Chat turns** (:class:`ChatLocks`): one chat's updates are handled one at a time across
  replicas. A session-level ``pg_advisory_lock`` keyed on the chat is held for the whole
  handling of an update (understanding, the engine's transaction, the replies sent), on a
  connection of its own pool, so that a held turn never takes a connection the handling
  needs. PostgreSQL grants a lock's waiters in the order they asked, so a chat's updates
  reach the engine in the order the replicas took them.
- **Leases** (:class:`Lease`): one holder in all the processes (the poller of a token, the
  elected copy of a scheduler). ``pg_try_advisory_lock`` on a connection kept open for as
  long as the lease is held; when the holder dies, its connection closes and PostgreSQL
  frees the lock, so another process can take over.

On SQLite there is one process: every method holds at once and nothing is locked.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.store.db import create_engine

logger = logging.getLogger(__name__)

#: Every key of the project's advisory locks is a text hashed by PostgreSQL into a bigint
#: (``hashtextextended``); the prefix keeps them apart from any other user of the database.
PREFIX = "kunnafoni:"
#: Names of leases.
POLLING = "polling"
#: How long a lease's connection may take to answer before the lease counts as lost.
ALIVE_TIMEOUT_SECONDS = 10.0


def is_postgres(url: str) -> bool:
    return make_url(url).get_backend_name() == "postgresql"


class ChatLocks:
    """One chat's turn across processes (see the module's docstring)."""

    def __init__(self, url: str, *, size: int) -> None:
        self.enabled = is_postgres(url)
        self._engine: AsyncEngine | None = (
            create_engine(url, pool_size=size, max_overflow=0) if self.enabled else None
        )

    @asynccontextmanager
    async def turn(self, chat: int) -> AsyncIterator[None]:
        """Hold ``chat``'s turn (wait for it first)."""
        if self._engine is None:
            yield
            return
        key = f"chat:{chat}"
        async with self._engine.connect() as connection:
            await connection.execute(
                text("SELECT pg_advisory_lock(hashtextextended(:key, 0))"),
                {"key": PREFIX + key},
            )
            await connection.commit()
            try:
                yield
            finally:
                await connection.execute(
                    text("SELECT pg_advisory_unlock(hashtextextended(:key, 0))"),
                    {"key": PREFIX + key},
                )
                await connection.commit()

    async def aclose(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()


class Lease:
    """One holder of ``name`` among every process sharing the database."""

    def __init__(self, url: str, name: str) -> None:
        self.name = name
        self.enabled = is_postgres(url)
        self._url = url
        self._engine: AsyncEngine | None = None
        self._connection: AsyncConnection | None = None
        self.held = not self.enabled

    async def try_acquire(self) -> bool:
        """Take the lease if nobody holds it; True when this process holds it (now or already)."""
        if self.held:
            if self._connection is None or await self._alive():
                return True
            self.held = False
            await self._drop_connection()
        if self._engine is None:
            self._engine = create_engine(self._url, pool_size=1, max_overflow=0)
        try:
            connection = await self._engine.connect()
        except Exception:
            logger.warning("Lease %s: the database cannot be reached", self.name)
            return False
        try:
            got = await connection.scalar(
                text("SELECT pg_try_advisory_lock(hashtextextended(:key, 0))"),
                {"key": PREFIX + self.name},
            )
            await connection.commit()
        except Exception:
            await connection.close()
            raise
        if got:
            self._connection = connection
            self.held = True
        else:
            await connection.close()
        return bool(got)

    async def _alive(self) -> bool:
        """Whether the connection holding the lease still answers (a lost connection is a
        lost lease: PostgreSQL freed the lock when it closed)."""
        assert self._connection is not None
        try:
            # Bounded: a connection cut without a word (a network partition) would
            # otherwise hang until TCP gives up, while PostgreSQL may free the lock sooner.
            async with asyncio.timeout(ALIVE_TIMEOUT_SECONDS):
                await self._connection.execute(text("SELECT 1"))
                await self._connection.commit()
            return True
        except Exception:  # the driver's error, or TimeoutError
            logger.warning("Lease %s lost: its connection closed or stopped answering", self.name)
            return False

    async def _drop_connection(self) -> None:
        if self._connection is not None:
            connection, self._connection = self._connection, None
            try:
                await connection.close()
            except Exception:  # already gone
                pass

    async def release(self) -> None:
        if not self.enabled:
            return
        self.held = False
        if self._connection is not None:
            try:
                await self._connection.execute(
                    text("SELECT pg_advisory_unlock(hashtextextended(:key, 0))"),
                    {"key": PREFIX + self.name},
                )
                await self._connection.commit()
            except Exception:
                pass
        await self._drop_connection()
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None

    async def hold_until_lost(self, every: float = 5.0) -> None:
        """Return when the lease is lost (its connection closed); check every ``every`` s."""
        while True:
            await asyncio.sleep(every)
            if self._connection is not None and not await self._alive():
                self.held = False
                await self._drop_connection()
                return
