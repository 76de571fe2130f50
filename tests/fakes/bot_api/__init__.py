"""A fake Telegram Bot API server for tests.

:class:`FakeBotApi` is an aiohttp server bound to 127.0.0.1 on a free port.  python-telegram-bot's
real ``Bot`` and ``Application`` talk to it through their ``base_url``/``base_file_url`` exactly as
they talk to ``https://api.telegram.org``, so tests exercise the real HTTP encoding, the real
update parsing and the real error handling of the library.

Every request is checked against the machine-readable Bot API description vendored in
``tests/fakes/telegram_bot_api/api.json``: unknown methods, unknown parameters, missing required
parameters, wrongly typed values and malformed JSON-serialised objects (recursively, against the
``types`` section) are refused the way Telegram refuses them, with the same HTTP status and an
``{"ok": false, "error_code": ..., "description": ...}`` body.  Some limits that Telegram enforces
beyond the types are checked too (message and caption length, ``callback_data`` size, entity
parsing for ``parse_mode``, edits of unknown or unchanged messages, ...).

The fake is deliberately a little stricter than Telegram where Telegram silently ignores a
mistake that is almost certainly a bug (an unknown parameter or an unknown field inside an
object).  Those refusals use descriptions in Telegram's style.

Refused requests are kept in :attr:`FakeBotApi.refused` and accepted ones in
:attr:`FakeBotApi.requests`, so a test can drive a bot with the ``push_*`` helpers, wait for its
answers with :meth:`FakeBotApi.wait_for` and finish with ``assert fake.refused == []``.

Opt-in flood limits: ``FakeBotApi(limits=TelegramLimits())`` answers message-sending
requests beyond Telegram's limits (30 messages per second in all, one per second per chat,
20 per minute per group; sliding windows) with ``429 Too Many Requests`` and
``parameters.retry_after``, as Telegram does; those answers are kept in
:attr:`FakeBotApi.throttled`.  Accepted messages are counted per chat in
:attr:`FakeBotApi.deliveries` (always), so a test can check that nobody got one twice.

The rooms, from the wire inwards:

- ``server``: the aiohttp app and routes, request decoding, refusals, injected failures, 429s;
- ``spec``: the vendored Bot API description, methods and types looked up by name;
- ``validation``: each request's parameters against the spec (``objects``: JSON objects in them);
- ``limits``: Telegram's flood limits and size limits;
- ``entities``: ``parse_mode`` markup, parsed as Telegram parses it;
- ``methods``: what each implemented Bot API method does;
- ``updates``: the update queue behind ``getUpdates``, and webhook settings;
- ``state``: chats, users, messages, topics, commands; ``files``: files and downloads;
- ``users``: helpers that act as users; ``inspection``: helpers that read what the bot did;
- ``records``, ``errors``: what is recorded about requests and messages, and refusals.
"""

from __future__ import annotations

from tests.fakes.bot_api.entities import visible_text
from tests.fakes.bot_api.errors import ApiError
from tests.fakes.bot_api.limits import (
    FORUM_ICON_COLORS,
    MAX_CALLBACK_ANSWER_LENGTH,
    MAX_CALLBACK_DATA_BYTES,
    MAX_CAPTION_LENGTH,
    MAX_DOWNLOAD_BYTES,
    MAX_TEXT_LENGTH,
    MAX_TOPIC_NAME_LENGTH,
    MAX_UPLOAD_BYTES,
    TelegramLimits,
)
from tests.fakes.bot_api.records import (
    ApiRequest,
    ForumTopicState,
    RefusedRequest,
    SentMessage,
    UploadedFile,
)
from tests.fakes.bot_api.server import LOOPBACK_HOST, FakeBotApi
from tests.fakes.bot_api.spec import (
    SPEC_PATH,
    BotApiSpec,
    FieldSpec,
    MethodSpec,
    TypeSpec,
    load_spec,
)
from tests.fakes.bot_api.validation import RequestValidator

__all__ = [
    "FORUM_ICON_COLORS",
    "LOOPBACK_HOST",
    "MAX_CALLBACK_ANSWER_LENGTH",
    "MAX_CALLBACK_DATA_BYTES",
    "MAX_CAPTION_LENGTH",
    "MAX_DOWNLOAD_BYTES",
    "MAX_TEXT_LENGTH",
    "MAX_TOPIC_NAME_LENGTH",
    "MAX_UPLOAD_BYTES",
    "SPEC_PATH",
    "ApiError",
    "ApiRequest",
    "BotApiSpec",
    "FakeBotApi",
    "FieldSpec",
    "ForumTopicState",
    "MethodSpec",
    "RefusedRequest",
    "RequestValidator",
    "SentMessage",
    "TelegramLimits",
    "TypeSpec",
    "UploadedFile",
    "load_spec",
    "visible_text",
]
