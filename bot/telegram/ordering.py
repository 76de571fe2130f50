"""Updates of different chats handled at once, those of one chat strictly in order.

python-telegram-bot hands every update to an update processor. Its default handles one at
a time, so one person whose parse is slow makes everyone wait. :class:`PerChatProcessor`
lets updates of different chats run concurrently (at most ``concurrency`` at once) and
queues the updates of one chat behind each other, in the order they arrived.

Order of the two waits matters: an update first waits for its chat's turn, and only then
for one of the ``concurrency`` slots. The other way round, a chat with a backlog would
fill every slot with updates waiting for that chat, and block the others.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from contextvars import ContextVar
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

from bot.logs import log_context
from bot.metrics import UPDATE_SECONDS, UPDATES, UPDATES_IN_FLIGHT

#: How many updates may be accepted and waiting (for their chat or a slot) at once;
#: python-telegram-bot's own bound, set far above the concurrency so that it never makes
#: an update wait before it has taken its place in its chat's queue.
ACCEPTED = 100_000
#: Updates the webhook lets wait per slot before it makes Telegram wait (memory bound).
BACKLOG_PER_SLOT = 8


#: How the handling of the current update ended, for ``kunnafoni_updates``: the error
#: handler marks it ``error``.
OUTCOME: ContextVar[list[str] | None] = ContextVar("update_outcome", default=None)


def update_kind(update: object) -> str:
    """``message``, ``callback_query``, ...: the field of the update that is set."""
    if isinstance(update, Update):
        for kind in Update.ALL_TYPES:
            if getattr(update, kind, None) is not None:
                return str(kind)
    return "other"


def mark_failed() -> None:
    """The current update's handling failed (called by the error handler)."""
    outcome = OUTCOME.get()
    if outcome is not None:
        outcome[0] = "error"


def chat_key(update: object) -> int | None:
    """The chat whose updates must stay in order (the user's when there is no chat)."""
    if not isinstance(update, Update):
        return None
    if update.effective_chat is not None:
        return update.effective_chat.id
    if update.effective_user is not None:
        return update.effective_user.id
    return None


class _ChatTurn:
    """One chat's lock and how many updates hold or wait for it."""

    __slots__ = ("lock", "users")

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.users = 0


@asynccontextmanager
async def _no_guard(_chat: int) -> AsyncIterator[None]:
    yield


#: The turn of a chat across processes (``bot.store.locks.ChatLocks.turn``).
ChatGuard = Callable[[int], AbstractAsyncContextManager[None]]
#: Run holding a chat's turn instead of the update alone (``bot.telegram.drain.ChatDrain``):
#: (chat, the update, its handling, how to run one update's handling).
ChatDrainer = Callable[
    [int, Update, Awaitable[Any], Callable[[Update, Awaitable[Any]], Awaitable[None]]],
    Awaitable[None],
]


class PerChatProcessor(BaseUpdateProcessor):
    """A lock per chat (dropped as soon as no update of that chat is pending), and a bound
    on updates handled at once. ``guard``: the chat's turn across processes, taken inside
    this process's lock and slot (several replicas on PostgreSQL). ``drain``: holding the
    chat's turn, handle every update of the chat the replicas recorded and did not handle
    yet, in update id order, this one among them (webhook replicas on PostgreSQL)."""

    def __init__(
        self,
        concurrency: int,
        *,
        guard: ChatGuard | None = None,
        drain: ChatDrainer | None = None,
    ) -> None:
        super().__init__(max_concurrent_updates=ACCEPTED)
        self.concurrency = concurrency
        self.guard: ChatGuard = guard or _no_guard
        self.drain = drain
        self._slots = asyncio.Semaphore(concurrency)
        self._turns: dict[int, _ChatTurn] = {}
        self._pending = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._room = asyncio.Condition()
        #: Updates pending beyond which :meth:`wait_for_room` waits.
        self.backlog = concurrency * BACKLOG_PER_SLOT

    @property
    def chats_waiting(self) -> int:
        """Chats with an update being handled or waiting: the locks held in memory."""
        return len(self._turns)

    @property
    def pending(self) -> int:
        return self._pending

    async def wait_idle(self) -> None:
        """Until no update is being handled or waiting."""
        await self._idle.wait()

    async def wait_for_room(self) -> None:
        """Until fewer than ``backlog`` updates are pending: the webhook waits here before
        it takes an update, so a flood waits on Telegram's side, not in this process."""
        if self._pending < self.backlog:
            return
        async with self._room:
            await self._room.wait_for(lambda: self._pending < self.backlog)

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        self._pending += 1
        self._idle.clear()
        UPDATES_IN_FLIGHT.inc()
        key = chat_key(update)
        turn = None
        if key is not None:
            # No await between here and the lock's queue: updates queue in arrival order.
            turn = self._turns.get(key)
            if turn is None:
                turn = self._turns[key] = _ChatTurn()
            turn.users += 1
        try:
            if turn is not None:
                async with turn.lock, self._slots, self.guard(key):  # type: ignore[arg-type]
                    if self.drain is not None and isinstance(update, Update):
                        await self.drain(key, update, coroutine, self._handle)  # type: ignore[arg-type]
                    else:
                        await self._handle(update, coroutine)
            else:
                async with self._slots:
                    await self._handle(update, coroutine)
        finally:
            if turn is not None:
                turn.users -= 1
                if turn.users == 0 and self._turns.get(key) is turn:  # type: ignore[arg-type]
                    del self._turns[key]  # type: ignore[arg-type]
            self._pending -= 1
            UPDATES_IN_FLIGHT.dec()
            if self._pending == 0:
                self._idle.set()
            if self._pending < self.backlog:
                async with self._room:
                    self._room.notify_all()

    async def _handle(self, update: object, coroutine: Awaitable[Any]) -> None:
        started = time.perf_counter()
        update_id = update.update_id if isinstance(update, Update) else None
        outcome = ["handled"]
        token = OUTCOME.set(outcome)
        with log_context(update=update_id):
            try:
                await coroutine
            except Exception:
                outcome[0] = "error"
                raise
            finally:
                OUTCOME.reset(token)
                UPDATE_SECONDS.observe(time.perf_counter() - started)
                UPDATES.labels(update_kind(update), outcome[0]).inc()

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None
