"""How the fake refuses a request: Telegram's error codes and descriptions.

:class:`ApiError` carries what Telegram answers (``error_code``, ``description``) and, for the
test that reads :attr:`FakeBotApi.refused`, a ``reason`` saying why in plain words.
"""

from __future__ import annotations

from typing import Any, Final

# Parameters whose absence Telegram reports with a dedicated description.
MISSING_DESCRIPTIONS: Final = {
    "chat_id": "Bad Request: chat_id is empty",
    "text": "Bad Request: message text is empty",
    "message_id": "Bad Request: message identifier is not specified",
    "user_id": "Bad Request: invalid user_id specified",
    "file_id": "Bad Request: invalid file_id",
    "callback_query_id": (
        "Bad Request: query is too old and response timeout expired or query ID is invalid"
    ),
}


class ApiError(Exception):
    """A refusal: ``description`` is what Telegram says, ``reason`` explains it to a test."""

    def __init__(
        self,
        error_code: int,
        description: str,
        reason: str | None = None,
        parameters: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(description)
        self.error_code = error_code
        self.description = description
        self.reason = reason or description
        self.parameters = parameters


def bad_request(description: str, reason: str | None = None) -> ApiError:
    return ApiError(400, f"Bad Request: {description}", reason)


def not_modified() -> ApiError:
    return bad_request(
        "message is not modified: specified new message content and reply markup are exactly "
        "the same as a current content and reply markup of the message"
    )
