"""The campaign transport over python-telegram-bot: sends, and maps Telegram's errors.

:class:`TelegramTransport` is what the campaign sender (``bot/campaigns/sender.py``) sends
through. Telegram's exceptions stop here: each becomes one of the project's
(``bot/errors.py``), carrying a short, user-free label kept on the outbox row.

python-telegram-bot's hierarchy matters for the order of the mapping: ``BadRequest`` and
``TimedOut`` are kinds of ``NetworkError``; ``Forbidden``, ``ChatMigrated``,
``InvalidToken`` and ``RetryAfter`` are not.
"""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from telegram import Bot
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)

from bot import errors

__all__ = ["TelegramTransport", "as_project_error", "open_transport", "retry_after_seconds"]


class TelegramTransport:
    """Sends campaign messages with ``bot`` (implements ``CampaignTransport``)."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def send_text(self, chat_id: str, text: str, *, paid: bool = False) -> None:
        chat: int | str = int(chat_id) if _is_int(chat_id) else chat_id
        extra: dict[str, Any] = {"allow_paid_broadcast": True} if paid else {}
        try:
            await self.bot.send_message(chat, text, **extra)
        except TelegramError as error:
            raise as_project_error(error) from error


@asynccontextmanager
async def open_transport(token: str, *, base_url: str) -> AsyncIterator[TelegramTransport]:
    """A transport over a fresh :class:`Bot`, initialised and shut down around the block.

    ``base_url``: python-telegram-bot's form, ``<root>/bot`` (``Settings.bot_api_base_url``).
    """
    async with Bot(token, base_url=base_url) as bot:
        yield TelegramTransport(bot)


def as_project_error(error: TelegramError) -> errors.DeliveryError:
    """The project's error for what Telegram said."""
    label = error_label(error)
    if isinstance(error, RetryAfter):
        return errors.RateLimited(label, retry_after_seconds(error))
    if isinstance(error, Forbidden):
        return errors.RecipientBlocked(label)
    if isinstance(error, BadRequest | ChatMigrated):
        if "chat not found" in str(error.message).lower():
            return errors.ChatNotFound(label)
        return errors.BadRequest(label)
    if isinstance(error, InvalidToken):
        return errors.TransportRefused(label)
    if isinstance(error, TimedOut):
        return errors.TimedOut(label)
    if isinstance(error, NetworkError):  # 5xx, connection errors
        return errors.NetworkFailure(label)
    return errors.DeliveryError(label)


def _seconds(value: Any) -> float:
    if isinstance(value, timedelta):
        return value.total_seconds()
    return float(value)


def retry_after_seconds(error: RetryAfter) -> float:
    """``retry_after`` in seconds, whichever form this PTB version gives (int or timedelta)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _seconds(error.retry_after)


def error_label(error: TelegramError) -> str:
    """A short, user-free label for the row's ``error`` column: the class and Telegram's words."""
    message = str(getattr(error, "message", "") or error)
    return f"{type(error).__name__}: {message}"[:200]


def _is_int(value: str) -> bool:
    digits = value.removeprefix("-")
    return digits.isascii() and digits.isdigit()
