"""Interactive sends that wait when Telegram says "too many requests" (429), then send.

Replies, voice notes, the partners' cards and the relay go through the application's bot.
Without this, a 429 (``RetryAfter``) during a surge raised in the handler and the person
got nothing. PTB calls :meth:`RetryAfterWaiter.process_request` for every request but
``getUpdates``: it sends at once and, on a 429, holds every request of the bot for the
``retry_after`` Telegram gives (a 429 means the whole bot is over a limit), then sends
again, a few times at most. A wait longer than ``max_wait`` is not worth holding a
conversation for: the error goes up, and is logged without the message.

Broadcasts use their own bot and sender (``bot/campaigns/sender.py``), which handles 429
itself and leaves head-room for replies (``BROADCAST_RATE`` below Telegram's 30/s).

With a :class:`~bot.budget.SendBudget`, every message first takes a reply's slot of the
budget all the bot's processes share (replies before broadcasts), and a 429 pauses them all.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

from telegram.error import (
    BadRequest,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.ext import BaseRateLimiter

from bot.budget import Priority, SendBudget
from bot.metrics import TELEGRAM_ERRORS
from bot.telegram.transport import retry_after_seconds

logger = logging.getLogger(__name__)

JSONDict = dict[str, Any]


def error_code(exc: TelegramError) -> str:
    """The Bot API's answer as a metric label: its HTTP code, or what kind of failure."""
    for kind, code in (
        (RetryAfter, "429"),
        (Forbidden, "403"),
        (InvalidToken, "401"),
        (Conflict, "409"),
        (BadRequest, "400"),
        (TimedOut, "timeout"),
        (NetworkError, "network"),
    ):
        if isinstance(exc, kind):
            return code
    return "other"


def is_message(endpoint: str) -> bool:
    """Whether a request sends a message (what Telegram's 30 a second counts)."""
    return endpoint.startswith("send") or endpoint in ("copyMessage", "forwardMessage")


class RetryAfterWaiter(BaseRateLimiter[None]):
    """Send now; on a 429, every request waits ``retry_after``, then this one is sent again."""

    def __init__(
        self, *, max_retries: int = 3, max_wait: float = 60.0, budget: SendBudget | None = None
    ) -> None:
        #: The send budget shared by every process: each message takes a reply's slot in
        #: it first, and a 429 pauses every process (None: this process only).
        self.budget = budget
        self.max_retries = max_retries
        self.max_wait = max_wait
        self._paused_until = 0.0
        #: How many requests were sent again after a 429 (for tests and logs).
        self.retried = 0

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | JSONDict | list[JSONDict]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: None,
    ) -> bool | JSONDict | list[JSONDict]:
        attempt = 0
        while True:
            pause = self._paused_until - time.monotonic()
            if pause > 0:
                await asyncio.sleep(pause)
            if self.budget is not None and is_message(endpoint):
                await self.budget.acquire(Priority.REPLY)
            try:
                return await callback(*args, **kwargs)
            except TelegramError as exc:
                TELEGRAM_ERRORS.labels(error_code(exc)).inc()
                if not isinstance(exc, RetryAfter):
                    raise
                wait = retry_after_seconds(exc)
                attempt += 1
                if attempt > self.max_retries or wait > self.max_wait:
                    logger.warning(
                        "Telegram refused %s: too many requests, retry after %.0f s; giving up"
                        " after %d attempt(s)",
                        endpoint,
                        wait,
                        attempt,
                    )
                    raise
                self._paused_until = max(self._paused_until, time.monotonic() + wait)
                if self.budget is not None:
                    await self.budget.pause(wait)
                self.retried += 1
                logger.info(
                    "Telegram asked to wait %.1f s before %s; sending again then", wait, endpoint
                )
