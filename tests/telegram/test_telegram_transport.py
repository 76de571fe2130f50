"""Telegram's errors become the project's: each class of ``telegram.error`` maps to one."""

from __future__ import annotations

import pytest
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)

from bot import errors
from bot.telegram.transport import TelegramTransport, as_project_error


@pytest.mark.parametrize(
    ("telegram_error", "expected", "label"),
    [
        (Forbidden("Forbidden: bot was blocked by the user"), errors.RecipientBlocked, None),
        (
            BadRequest("Bad Request: chat not found"),
            errors.ChatNotFound,
            "BadRequest: Chat not found",
        ),
        (BadRequest("Message is too long"), errors.BadRequest, "BadRequest: Message is too long"),
        (ChatMigrated(-100123), errors.BadRequest, None),
        (InvalidToken(), errors.TransportRefused, None),
        (TimedOut(), errors.TimedOut, "TimedOut: Timed out"),
        (NetworkError("Bad Gateway"), errors.NetworkFailure, "NetworkError: Bad Gateway"),
        (Conflict("terminated by other getUpdates"), errors.DeliveryError, None),
        (TelegramError("something new"), errors.DeliveryError, "TelegramError: something new"),
    ],
)
def test_each_telegram_error_maps_to_one_project_error(
    telegram_error: TelegramError, expected: type[errors.DeliveryError], label: str | None
) -> None:
    mapped = as_project_error(telegram_error)
    assert type(mapped) is expected
    assert isinstance(mapped, errors.KunnafoniError)
    assert mapped.label.startswith(f"{type(telegram_error).__name__}: ")
    if label is not None:
        assert mapped.label == label


def test_retry_after_keeps_the_seconds_to_wait() -> None:
    mapped = as_project_error(RetryAfter(7))
    assert isinstance(mapped, errors.RateLimited) and mapped.seconds == 7.0


async def test_only_project_errors_leave_the_transport() -> None:
    class Refusing:
        async def send_message(self, *args: object, **kwargs: object) -> None:
            raise Forbidden("Forbidden: bot was blocked by the user")

    transport = TelegramTransport(Refusing())  # type: ignore[arg-type]
    with pytest.raises(errors.RecipientBlocked) as raised:
        await transport.send_text("42", "hello")
    assert isinstance(raised.value.__cause__, Forbidden)
