"""The queue of updates the bot receives: ``getUpdates`` long polling and webhook settings.

Tests push updates (see :mod:`tests.fakes.bot_api.users`); a long poll waits for them, is
answered at once when a newer poll supersedes it or the server stops, and an offset confirms
what the bot has handled, as on Telegram.  A webhook only records its settings: while one is
set, ``getUpdates`` is refused with Telegram's ``409 Conflict``.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections import deque
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from tests.fakes.bot_api.errors import ApiError, bad_request
from tests.fakes.bot_api.records import ApiRequest

_LOG = logging.getLogger(__name__)


class UpdateQueue:
    """Pending updates, the long polls waiting for them, and the webhook if one is set."""

    def __init__(self) -> None:
        self.closing = False
        """Set when the server stops: pending long polls are answered at once."""
        self.changed = asyncio.Event()
        self._poll_generation = 0
        self._updates: deque[dict[str, Any]] = deque()
        self._next_update_id = 1
        self._allowed_updates: list[str] = []
        self._webhook: dict[str, Any] | None = None

    def push(self, update: dict[str, Any]) -> int:
        """Queue an Update (owned by the queue from now on); assigns ``update_id`` if absent."""
        if "update_id" not in update:
            update["update_id"] = self._next_update_id
        self._next_update_id = max(self._next_update_id, int(update["update_id"]) + 1)
        self._updates.append(update)
        self.changed.set()
        _LOG.debug("Queued update %s", update["update_id"])
        return int(update["update_id"])

    @property
    def pending(self) -> list[dict[str, Any]]:
        """Updates queued and not yet confirmed by a ``getUpdates`` offset."""
        return list(self._updates)

    def close(self) -> None:
        """Answer pending long polls now: the server is stopping."""
        self.closing = True
        self.changed.set()

    async def get_updates(self, request: ApiRequest) -> list[dict[str, Any]]:
        if self._webhook is not None:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        params = request.params
        offset = int(params.get("offset", 0))
        limit = min(max(int(params.get("limit", 100)), 1), 100)
        timeout = max(int(params.get("timeout", 0)), 0)
        if "allowed_updates" in params:
            self._allowed_updates = list(params["allowed_updates"])
        self._confirm(offset)
        self._poll_generation += 1
        generation = self._poll_generation
        self.changed.set()  # a newer long poll supersedes a pending one
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            ready = [update for update in self._updates if self._is_allowed(update)]
            remaining = deadline - loop.time()
            if ready or remaining <= 0 or self.closing or generation != self._poll_generation:
                return copy.deepcopy(ready[:limit])
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), remaining)
            except TimeoutError:
                continue

    def _confirm(self, offset: int) -> None:
        if offset > 0:
            while self._updates and self._updates[0]["update_id"] < offset:
                self._updates.popleft()
        elif offset < 0:
            while len(self._updates) > -offset:
                self._updates.popleft()

    def _is_allowed(self, update: Mapping[str, Any]) -> bool:
        if not self._allowed_updates:
            return True
        return any(kind in update for kind in self._allowed_updates)

    async def set_webhook(self, request: ApiRequest) -> bool:
        url = str(request.params.get("url", ""))
        if not url:
            return await self.delete_webhook(request)
        parts = urlsplit(url)
        if parts.scheme != "https":
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        if parts.port not in (None, 80, 88, 443, 8443):
            raise bad_request(
                "bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443"
            )
        self._webhook = dict(request.params)
        if request.params.get("drop_pending_updates"):
            self._updates.clear()
        self.changed.set()
        return True

    async def delete_webhook(self, request: ApiRequest) -> bool:
        self._webhook = None
        if request.params.get("drop_pending_updates"):
            self._updates.clear()
        return True

    async def get_webhook_info(self, request: ApiRequest) -> dict[str, Any]:
        info: dict[str, Any] = {
            "url": "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }
        if self._webhook is not None:
            info["url"] = self._webhook["url"]
            info["max_connections"] = int(self._webhook.get("max_connections", 40))
            if "allowed_updates" in self._webhook:
                info["allowed_updates"] = self._webhook["allowed_updates"]
        return info
