"""Telegram's send budget, shared by every process of one bot: replies first, broadcasts
with what is left, and a 429 pausing everyone.

Telegram lets a bot send about 30 messages a second in all (``TELEGRAM_SEND_RATE``). Every
send of every process (webhook replicas, workers) takes a slot first; slots are
``1/rate`` seconds apart, so no window of ``w`` seconds ever holds more than ``rate * w + 1``
sends, whichever process made them.

- **Replies** (:attr:`Priority.REPLY`) *reserve* the next free slot, however far ahead, and
  wait for it: a reply is never dropped, only paced.
- **Broadcasts** (:attr:`Priority.BROADCAST`) take a slot only when one is free *now*:
  while replies hold the slots ahead, broadcasts wait. They also keep their own rate
  (``BROADCAST_RATE``, the broadcast sender's limiter), their share of the budget.
- **A 429** (:meth:`SendBudget.pause`) moves every process's next slot past ``retry_after``.

Where the budget lives (docs/operations.md says why): :class:`SharedBudget` in PostgreSQL
(one row of ``send_budget``, one ``UPDATE`` per send, about a millisecond on a local
network); :class:`LocalBudget` in the process, on SQLite (one process does everything) and
as the fallback when the database does not answer in time: people are always answered,
at worst at the rate of one process.
"""

from __future__ import annotations

import asyncio
import logging
import time
from enum import StrEnum
from typing import Protocol

from bot.store import budget as store
from bot.store.db import Database
from bot.store.locks import is_postgres

logger = logging.getLogger(__name__)

#: The budget's row: one per bot token (a database serves one bot).
NAME = "telegram"
#: How long a send waits for the shared store before it falls back to the local budget.
STORE_TIMEOUT = 0.5
#: After a failure, the store is not asked again for this long (the local budget serves).
RETRY_STORE_AFTER = 5.0


class Priority(StrEnum):
    REPLY = "reply"
    BROADCAST = "broadcast"


class SendBudget(Protocol):
    """What a sender asks before each message, and tells after a 429."""

    rate: float

    async def acquire(self, priority: Priority) -> None: ...

    async def pause(self, seconds: float) -> None: ...


class LocalBudget:
    """The same rules within one process (SQLite; the fallback of :class:`SharedBudget`)."""

    def __init__(self, rate: float = 30.0) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.spacing = 1.0 / rate
        self._next_slot = 0.0
        self._paused_until = 0.0

    def _free_at(self) -> float:
        return max(self._next_slot, self._paused_until)

    async def acquire(self, priority: Priority) -> None:
        while True:
            now = time.monotonic()
            if priority is Priority.REPLY:
                slot = max(self._free_at(), now)
                self._next_slot = slot + self.spacing
                await asyncio.sleep(max(0.0, slot - now))
                return
            if self._free_at() <= now:
                self._next_slot = now + self.spacing
                return
            await asyncio.sleep(self._free_at() - now)

    async def pause(self, seconds: float) -> None:
        self._paused_until = max(self._paused_until, time.monotonic() + max(0.0, seconds))


class SharedBudget:
    """The budget in PostgreSQL (``send_budget``), with :class:`LocalBudget` as fallback."""

    def __init__(self, database: Database, rate: float = 30.0, *, name: str = NAME) -> None:
        self.database = database
        self.rate = rate
        self.spacing = 1.0 / rate
        self.name = name
        self.local = LocalBudget(rate)
        self._ready = False
        self._down_until = 0.0
        # One request to the store at a time per process: the others queue here, in order,
        # not in the connection pool (where a wait would count against STORE_TIMEOUT).
        self._asking = asyncio.Lock()
        #: Sends paced by the local budget because the store did not answer (tests, logs).
        self.fallbacks = 0

    async def _ask(self, priority: Priority) -> float:
        async with self.database.transaction() as session:
            if not self._ready:
                await store.ensure(session, name=self.name)
            if priority is Priority.REPLY:
                wait = await store.reserve(session, name=self.name, spacing=self.spacing)
            else:
                wait = await store.take_if_free(session, name=self.name, spacing=self.spacing)
        self._ready = True
        return wait

    def _store_failed(self, what: str, exc: BaseException) -> None:
        if time.monotonic() >= self._down_until:
            logger.warning(
                "Send budget: the database did not answer (%s: %s); pacing sends in this"
                " process for %.0f s",
                what,
                type(exc).__name__,
                RETRY_STORE_AFTER,
            )
        self._down_until = time.monotonic() + RETRY_STORE_AFTER

    async def acquire(self, priority: Priority) -> None:
        while True:
            if time.monotonic() < self._down_until:
                self.fallbacks += 1
                await self.local.acquire(priority)
                return
            async with self._asking:
                try:
                    wait = await asyncio.wait_for(self._ask(priority), STORE_TIMEOUT)
                except Exception as exc:  # timeouts included: never stop answering people
                    self._store_failed("taking a slot", exc)
                    continue
            if priority is Priority.REPLY:
                await asyncio.sleep(wait)  # the slot is ours: wait for it
                return
            if wait <= 0:
                return
            await asyncio.sleep(min(wait, 1.0))  # a broadcast asks again when it may be free

    async def pause(self, seconds: float) -> None:
        await self.local.pause(seconds)
        try:
            async with asyncio.timeout(STORE_TIMEOUT):
                async with self.database.transaction() as session:
                    if not self._ready:
                        await store.ensure(session, name=self.name)
                    await store.pause(session, name=self.name, seconds=seconds)
        except Exception as exc:
            self._store_failed("pausing", exc)


def build_budget(database: Database, rate: float) -> SendBudget:
    """Shared through PostgreSQL; in the process on SQLite (one process sends)."""
    if is_postgres(database.url):
        return SharedBudget(database, rate)
    return LocalBudget(rate)
