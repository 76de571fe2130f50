"""Logging for every Kunnafoni process: one redacting filter on the root handler.

The code logs pseudonyms (``u42``), row ids, states and counts, never a person's data.
This module is the last line of defence for what libraries and exceptions write: every
record that reaches the root handler, whatever its logger (python-telegram-bot, httpx,
SQLAlchemy, the Rasa client), is redacted before it is formatted:

- Bot API tokens (``123456:ABC...``, alone or inside ``/bot<token>/`` URLs);
- whatever follows ``token=``, ``secret=``, ``password=``, ``authorization:`` or ``Bearer``;
- runs of 6 digits or more, spaces and dots allowed between them: phone numbers and
  Telegram ids (a count of a million or more is redacted too: a price worth paying).

Names and free text cannot be recognised by a pattern: they are kept out of logs at
the source (statement parameters hidden, payload-dumping library loggers held at INFO,
the bot's own messages name pseudonyms only). DEBUG is for local and test runs only
(``bot.config`` refuses it elsewhere).
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, TextIO

REDACTED = "[redacted]"

_SECRETS = (
    # A Bot API token: the bot's id, a colon, 35 URL-safe characters.
    re.compile(r"\d{5,}:[A-Za-z0-9_-]{30,}"),
    # ``token=...`` in a URL or a message, ``"password": "..."``, ``Authorization: ...``.
    re.compile(
        r"(?i)(\b(?:token|auth[_-]?token|jwt|secret|password|passwd|api[_-]?key|authorization)"
        r"\b['\"]?\s*[=:]\s*['\"]?)(?:bearer\s+)?[^\s&'\",;)}\]]+"
    ),
    re.compile(r"(?i)(\bbearer\s+)[A-Za-z0-9._~+/=-]+"),
)
#: Phone numbers and Telegram ids: 6 digits or more, single spaces or dots allowed
#: between digits, an optional ``+`` or ``-`` before (chat ids of groups are negative).
_NUMBERS = re.compile(r"(?<![\w.+-])[+-]?\d(?:[ .]?\d){5,}(?![\w])")
_IPV4 = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")

#: Loggers that dump requests, updates or statement parameters at DEBUG: held at this
#: level or above even when the rest of the process logs at DEBUG.
HELD = {
    "httpx": logging.WARNING,  # logs every URL at INFO, and the Bot API's contain the token
    "httpcore": logging.WARNING,
    "telegram": logging.INFO,  # updates, with their text, and request bodies at DEBUG
    "apscheduler": logging.INFO,
    "sqlalchemy": logging.WARNING,  # statements and their parameters at INFO and DEBUG
    "aiosqlite": logging.WARNING,
    "asyncpg": logging.WARNING,
    "psycopg": logging.WARNING,
    "alembic.runtime.plugins": logging.WARNING,
}

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_EXCEPTIONS = logging.Formatter()

#: What the record is about, when known: the Telegram update being handled and the
#: pseudonym of its person (``u42``, :func:`bot.pseudonyms.pseudonym`), never a Telegram id.
_UPDATE: ContextVar[int | None] = ContextVar("log_update", default=None)
_USER: ContextVar[str | None] = ContextVar("log_user", default=None)


@contextmanager
def log_context(*, update: int | None = None, user: str | None = None) -> Iterator[None]:
    """Records logged inside carry this update id and user pseudonym (JSON logs); what
    :func:`name_user` sets inside is undone on leaving."""
    update_token = _UPDATE.set(update if update is not None else _UPDATE.get())
    user_token = _USER.set(user if user is not None else _USER.get())
    try:
        yield
    finally:
        _USER.reset(user_token)
        _UPDATE.reset(update_token)


def name_user(user: str) -> None:
    """Until the enclosing :func:`log_context` ends, records name this pseudonym."""
    _USER.set(user)


def redact(text: str) -> str:
    """``text`` with secrets, phone numbers and long ids replaced by ``[redacted]``."""
    for pattern in _SECRETS:
        text = pattern.sub(
            lambda m: (m.group(1) if m.groups() and m.group(1) else "") + REDACTED, text
        )
    return _NUMBERS.sub(_number, text)


def _number(match: re.Match[str]) -> str:
    # An IPv4 address (127.0.0.1, a server's) is not a person's; four groups of two
    # digits (76.12.34.56) are a Malian phone number written with dots.
    found = match.group(0)
    if _IPV4.fullmatch(found) and any(len(part) != 2 for part in found.split(".")):
        return found
    return REDACTED


class RedactingFilter(logging.Filter):
    """Redacts a record's message, arguments, traceback and stack before any formatter."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not lose the record
            message = f"{record.msg!s} {record.args!r}"
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = _EXCEPTIONS.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message (already redacted by the
    filter), the update id and user pseudonym when known, and the traceback if any."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        update, user = _UPDATE.get(), _USER.get()
        if update is not None:
            entry["update_id"] = update
        if user is not None:
            entry["user"] = user
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(self.formatException(record.exc_info))
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry, ensure_ascii=False)


class _StandardError(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is when a record comes, not when it was built
    (a test runner, or a daemon, may swap it)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


def configure_logging(
    level: str, stream: TextIO | None = None, *, json_lines: bool = False
) -> logging.Handler:
    """One handler on the root logger, redacting, at ``level``; returns the handler.
    ``json_lines``: one JSON object per record (``LOG_FORMAT=json``), redacted the same.

    Replaces the handlers a previous call installed, so calling it twice is harmless.
    """
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "kunnafoni", False)]:
        root.removeHandler(old)
    handler: logging.StreamHandler = (  # type: ignore[type-arg]
        logging.StreamHandler(stream) if stream is not None else _StandardError()
    )
    handler.kunnafoni = True  # type: ignore[attr-defined]
    handler.setFormatter(JsonFormatter() if json_lines else logging.Formatter(FORMAT))
    handler.addFilter(RedactingFilter())
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name, floor in HELD.items():
        held = logging.getLogger(name)
        held.setLevel(max(floor, root.level))
    return handler
