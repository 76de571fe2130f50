"""What the fake records about requests and messages, as tests read it.

Accepted requests (:class:`ApiRequest`), refused ones (:class:`RefusedRequest`), the messages
the bot sent as they are now (:class:`SentMessage`) and the forum topics it created
(:class:`ForumTopicState`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class UploadedFile:
    """A ``multipart/form-data`` file part of a request."""

    name: str
    filename: str | None
    content_type: str | None
    data: bytes


@dataclass(frozen=True)
class ApiRequest:
    """An accepted request: parameters decoded (numbers, booleans, JSON objects), files apart."""

    method: str
    params: dict[str, Any]
    files: dict[str, UploadedFile] = field(default_factory=dict)

    @property
    def chat_id(self) -> int | str | None:
        value = self.params.get("chat_id")
        return value if isinstance(value, int | str) else None


@dataclass(frozen=True)
class RefusedRequest:
    """A request the fake answered with an error, with the raw parameters it came with."""

    method: str
    params: dict[str, str]
    reason: str
    error_code: int
    description: str


@dataclass
class SentMessage:
    """The current state (after edits) of a message the bot sent to a chat."""

    chat_id: int | str
    message_id: int
    kind: str
    """``"text"``, ``"voice"``, ``"audio"``, ``"photo"``, ``"document"``, or for a copy the
    kind of the copied message (``"location"``, ``"sticker"``, ...)."""
    text: str | None = None
    """The text as the bot sent it (markup included when a ``parse_mode`` was used)."""
    plain_text: str | None = None
    """The text as the user sees it, after ``parse_mode`` entities were parsed."""
    parse_mode: str | None = None
    caption: str | None = None
    reply_markup: dict[str, Any] | None = None
    file_id: str | None = None
    edited: bool = False
    message_thread_id: int | None = None
    """The forum topic (or supergroup reply thread) the message was sent into."""
    copied_from: tuple[int | str, int] | None = None
    """``(chat_id, message_id)`` of the original, for a message sent with ``copyMessage``."""


@dataclass
class ForumTopicState:
    """A forum topic of a supergroup, as created (and maybe closed) by the bot."""

    message_thread_id: int
    name: str
    icon_color: int
    is_closed: bool = False


@dataclass(frozen=True)
class InjectedFailure:
    """An error queued by :meth:`FakeBotApi.fail_next` for the next request of a method."""

    error_code: int
    description: str
    retry_after: int | None
