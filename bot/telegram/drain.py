"""One chat's webhook updates handled in update id order, whichever replica received them.

Several webhook replicas behind a load balancer share PostgreSQL; a load balancer knows
nothing of chats, so update 1 of a chat may reach one replica and update 2 another. Each
replica records the update with its chat and body in ``received_updates`` before it
answers Telegram, then queues it. When its turn for the chat comes (the chat's advisory
lock, ``bot.store.locks.ChatLocks``), the replica does not handle just its own update: it
*drains* the chat, handling every update of that chat received and not yet handled, by
update id, whichever replica received it, marking each handled (and emptying its body).
The replica that received an update someone else's drain already handled finds it done
and drops it.

Nothing is left behind: every recorded update has a task of its own waiting for the
chat's turn (a blocking ``pg_advisory_lock``) on the replica that recorded it, so an
update recorded just as a drain ends is drained by that task; a drain reads again only
while it finds full batches. A task whose update this process's drain already handled
is done without a query. An update that arrives after a later one of its chat was
handled (both taken at the same moment by different replicas) is handled at once: it
cannot be put back into the past.

A replica that stops between recording an update and handling it leaves the row pending:
the chat's next update, on any replica, drains it first (the retention purge deletes it
after ``RETENTION_UPDATE_IDS_DAYS`` if the chat never writes again). A replica that stops
while handling one leaves it pending too; the next drain handles it again, and the
engine's own record of processed updates keeps it from being answered twice.
"""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from telegram import Bot, Update

from bot.store import service as service_store
from bot.store.db import Database

logger = logging.getLogger(__name__)

#: Runs one update's handling with the processor's bookkeeping (metrics, log context).
Run = Callable[[Update, Awaitable[Any]], Awaitable[None]]


class ChatDrain:
    """Handles a chat's pending updates in id order, under the chat's turn."""

    def __init__(
        self,
        *,
        channel: str,
        database: Callable[[], Database],
        bot: Callable[[], Bot],
        handle: Callable[[Update], Awaitable[Any]],
        batch: int = 50,
        remembered: int = 10_000,
    ) -> None:
        self.channel = channel
        self._database = database
        self._bot = bot
        self._handle = handle
        self.batch = batch
        #: Ids this process's drains handled lately: a task whose update is among them
        #: (a sibling of its chat drained it) is done without asking the database.
        self._handled: OrderedDict[int, None] = OrderedDict()
        self.remembered = remembered

    def _remember(self, update_id: int) -> None:
        self._handled[update_id] = None
        while len(self._handled) > self.remembered:
            self._handled.popitem(last=False)

    async def __call__(self, chat: int, own: Update, coroutine: Awaitable[Any], run: Run) -> None:
        """Called holding ``chat``'s turn for the update ``own`` this replica received
        (``coroutine``: its handling). Returns once the chat has nothing pending."""
        if own.update_id in self._handled:
            if hasattr(coroutine, "close"):
                coroutine.close()
            return
        database = self._database()
        handled_own = False
        latest: int | None = None
        # Only to say when an update came too late to be put in its place.
        telling = logger.isEnabledFor(logging.DEBUG)
        try:
            while True:
                async with database.reading() as session:
                    pending = await service_store.pending_updates(
                        session, channel=self.channel, chat_id=chat, limit=self.batch
                    )
                    if pending and latest is None and telling:
                        latest = await service_store.latest_handled_update(
                            session, channel=self.channel, chat_id=chat
                        )
                if not pending:
                    break
                for row in pending:
                    if telling and latest is not None and row.update_id < latest:
                        logger.debug(
                            "Update %s arrived after a later update of its chat was"
                            " handled; handled now, out of turn",
                            row.update_id,
                        )
                    try:
                        if row.update_id == own.update_id:
                            handled_own = True
                            await run(own, coroutine)
                        else:
                            other = Update.de_json(json.loads(row.body), self._bot())
                            await run(other, self._handle(other))
                    finally:
                        # Handled, or failed (the error handler has told the person):
                        # either way not again, as for an update handled at once.
                        async with database.transaction() as session:
                            await service_store.mark_update_handled(
                                session, channel=self.channel, update_id=row.update_id
                            )
                        self._remember(row.update_id)
                    latest = row.update_id if latest is None else max(latest, row.update_id)
                if len(pending) < self.batch:
                    # All there was when read. One recorded since has its own task
                    # waiting for the chat's turn on the replica that recorded it.
                    break
        finally:
            if not handled_own and hasattr(coroutine, "close"):
                # Already handled by a drain (another replica's, or an earlier one here).
                coroutine.close()
