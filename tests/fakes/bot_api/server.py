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
"""

from __future__ import annotations

import asyncio
import copy
import functools
import itertools
import json
import logging
import math
import re
import time
import uuid
from collections import Counter, defaultdict, deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Final
from urllib.parse import urlsplit

from aiohttp import web

from tests.fakes.bot_api.entities import utf16_length, visible_text
from tests.fakes.bot_api.errors import MISSING_DESCRIPTIONS, ApiError, bad_request, not_modified
from tests.fakes.bot_api.limits import (
    FORUM_ICON_COLORS,
    MAX_CALLBACK_ANSWER_LENGTH,
    MAX_CAPTION_LENGTH,
    MAX_DOWNLOAD_BYTES,
    MAX_TEXT_LENGTH,
    MAX_TOPIC_NAME_LENGTH,
    MAX_UPLOAD_BYTES,
    SENDING_METHODS,
    FloodWindows,
    TelegramLimits,
)
from tests.fakes.bot_api.records import (
    ApiRequest,
    ForumTopicState,
    InjectedFailure,
    RefusedRequest,
    SentMessage,
    UploadedFile,
)
from tests.fakes.bot_api.spec import BotApiSpec, MethodSpec, load_spec
from tests.fakes.bot_api.validation import INTEGER_RE, RequestValidator

_LOG = logging.getLogger(__name__)

LOOPBACK_HOST: Final = "127.0.0.1"

_CHAT_ACTIONS: Final = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
_COMMAND_RE: Final = re.compile(r"^/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]+)?(?=\s|$)")
_TOKEN_RE: Final = re.compile(r"^\d+:[A-Za-z0-9_-]+$")

# File kinds the fake can send: Bot API result field, file_id prefix, download folder, extension.
_MEDIA: Final = {
    "voice": ("AwACAgQAAxkBAAI", "voice", "oga", "audio/ogg"),
    "audio": ("CQACAgQAAxkBAAI", "music", "mp3", "audio/mpeg"),
    "photo": ("AgACAgQAAxkBAAI", "photos", "jpg", "image/jpeg"),
    "document": ("BQACAgQAAxkBAAI", "documents", "bin", "application/octet-stream"),
}
# Message fields copyMessage carries over: the content, never the sender or the origin.
_COPIED_FIELDS: Final = (
    "text",
    "entities",
    "caption",
    "caption_entities",
    "animation",
    "audio",
    "document",
    "photo",
    "sticker",
    "video",
    "video_note",
    "voice",
    "contact",
    "dice",
    "location",
    "venue",
    "poll",
)


@dataclass
class _StoredFile:
    file_id: str
    file_unique_id: str
    kind: str
    data: bytes
    file_path: str
    mime_type: str


@dataclass
class _StoredMessage:
    payload: dict[str, Any]
    """The Message object as the Bot API returns it."""
    sent: SentMessage | None
    """Set for messages sent by the bot; ``None`` for messages pushed as coming from users."""


_Handler = Callable[[ApiRequest], Awaitable[Any]]


class FakeBotApi:
    """A loopback Telegram Bot API server for python-telegram-bot, with test helpers.

    Use it as ``async with FakeBotApi() as fake:`` or with explicit :meth:`start` and
    :meth:`stop`, then point PTB at it::

        bot = Bot(token="123:ABC", base_url=fake.base_url, base_file_url=fake.base_file_url)
    """

    def __init__(
        self,
        *,
        token: str | None = None,
        bot_username: str = "kunnafoni_test_bot",
        bot_first_name: str = "Kunnafoni",
        spec: BotApiSpec | None = None,
        limits: TelegramLimits | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``token``, when given, is the only one accepted (others get 401 Unauthorized).

        ``limits`` turns on Telegram's flood limits (429 beyond them); ``clock`` is where
        their windows read the time.
        """
        self.spec = spec or load_spec()
        self.validator = RequestValidator(self.spec)
        self.token = token
        self.bot_id = int(token.split(":")[0]) if token and _TOKEN_RE.match(token) else 123
        self.bot_username = bot_username
        self.bot_first_name = bot_first_name

        self.requests: list[ApiRequest] = []
        """Accepted requests, in arrival order."""
        self.refused: list[RefusedRequest] = []
        """Requests refused because Telegram would refuse them (or the fake cannot serve)."""
        self.injected: list[RefusedRequest] = []
        """Requests answered with a failure queued by :meth:`fail_next`."""
        self.limits = limits
        self.throttled: list[RefusedRequest] = []
        """Sending requests answered 429 because they exceeded :attr:`limits`."""
        self.deliveries: Counter[int | str] = Counter()
        """Messages accepted per chat (every sending method), to spot duplicates."""
        self.send_times: list[float] = []
        """When each accepted message arrived (``clock``), in order."""
        self._clock = clock
        self._flood = FloodWindows(limits) if limits is not None else None

        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._closing = False
        self._activity = asyncio.Event()
        self._updates_changed = asyncio.Event()
        self._poll_generation = 0

        self._updates: deque[dict[str, Any]] = deque()
        self._next_update_id = 1
        self._allowed_updates: list[str] = []
        self._webhook: dict[str, Any] | None = None

        self._chats: dict[int | str, dict[str, Any]] = {}
        self._users: dict[int, dict[str, Any]] = {}
        self._messages: dict[int | str, dict[int, _StoredMessage]] = defaultdict(dict)
        self._last_message_id: dict[int | str, int] = defaultdict(int)
        self._channel_ids: dict[str, int] = {}
        self._files: dict[str, _StoredFile] = {}
        self._file_paths: dict[str, _StoredFile] = {}
        self._file_counter = itertools.count(1)
        self._callback_ids = itertools.count(1)
        self._open_callbacks: set[str] = set()
        self._commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._topics: dict[int | str, dict[int, ForumTopicState]] = defaultdict(dict)
        #: Groups added with :meth:`add_group` where the bot may not manage topics.
        self._no_topic_rights: set[int | str] = set()
        self._failures: dict[str, deque[InjectedFailure]] = defaultdict(deque)

        self._handlers: dict[str, _Handler] = {
            "getme": self._get_me,
            "getupdates": self._get_updates,
            "setwebhook": self._set_webhook,
            "deletewebhook": self._delete_webhook,
            "getwebhookinfo": self._get_webhook_info,
            "sendmessage": self._send_message,
            "sendvoice": functools.partial(self._send_media, "voice"),
            "sendaudio": functools.partial(self._send_media, "audio"),
            "sendphoto": functools.partial(self._send_media, "photo"),
            "senddocument": functools.partial(self._send_media, "document"),
            "editmessagetext": self._edit_message_text,
            "editmessagereplymarkup": self._edit_message_reply_markup,
            "deletemessage": self._delete_message,
            "answercallbackquery": self._answer_callback_query,
            "sendchataction": self._send_chat_action,
            "setmycommands": self._set_my_commands,
            "getmycommands": self._get_my_commands,
            "deletemycommands": self._delete_my_commands,
            "close": self._return_true,
            "logout": self._return_true,
            "getfile": self._get_file,
            "copymessage": self._copy_message,
            "createforumtopic": self._create_forum_topic,
            "closeforumtopic": self._close_forum_topic,
        }

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Start serving on 127.0.0.1 on a free port."""
        if self._runner is not None:
            raise RuntimeError("FakeBotApi is already started")
        app = web.Application(client_max_size=MAX_UPLOAD_BYTES + 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_route("GET", "/file/bot{token}/{path:.+}", self._handle_file)
        app.router.add_route("*", "/{tail:.*}", self._handle_not_found)
        runner = web.AppRunner(
            app, access_log=None, handler_cancellation=True, shutdown_timeout=1.0
        )
        await runner.setup()
        site = web.TCPSite(runner, LOOPBACK_HOST, 0)
        await site.start()
        self._runner = runner
        self._closing = False
        address = runner.addresses[0]
        self._port = int(address[1])
        _LOG.info("Fake Bot API (Bot API %s) listening on %s", self.spec.version, self.root_url)

    async def stop(self) -> None:
        """Answer pending long polls and stop serving."""
        if self._runner is None:
            return
        self._closing = True
        self._updates_changed.set()
        runner, self._runner = self._runner, None
        await runner.cleanup()
        _LOG.info("Fake Bot API on port %s stopped", self._port)

    async def __aenter__(self) -> FakeBotApi:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def root_url(self) -> str:
        """``http://127.0.0.1:PORT``: for code configured with a Bot API root."""
        if self._port is None:
            raise RuntimeError("FakeBotApi is not started")
        return f"http://{LOOPBACK_HOST}:{self._port}"

    @property
    def base_url(self) -> str:
        """For ``Bot(base_url=...)`` and ``ApplicationBuilder().base_url(...)``."""
        return f"{self.root_url}/bot"

    @property
    def base_file_url(self) -> str:
        """For ``Bot(base_file_url=...)`` and ``ApplicationBuilder().base_file_url(...)``."""
        return f"{self.root_url}/file/bot"

    # -- test helpers: updates ---------------------------------------------------------------

    def push_update(self, update: Mapping[str, Any]) -> int:
        """Queue a raw Update for ``getUpdates``; assigns ``update_id`` when absent."""
        queued = copy.deepcopy(dict(update))
        if "update_id" not in queued:
            queued["update_id"] = self._next_update_id
        self._next_update_id = max(self._next_update_id, int(queued["update_id"]) + 1)
        self._remember_update(queued)
        self._updates.append(queued)
        self._updates_changed.set()
        _LOG.debug("Queued update %s", queued["update_id"])
        return int(queued["update_id"])

    def push_text(
        self,
        chat_id: int,
        text: str,
        *,
        user_id: int | None = None,
        language_code: str = "fr",
        first_name: str = "Test",
    ) -> int:
        """Queue a text message from a user (a ``/command`` gets its ``bot_command`` entity)."""
        message = self._user_message(chat_id, user_id, language_code, first_name)
        message["text"] = text
        command = _COMMAND_RE.match(text)
        if command:
            length = utf16_length(command.group(0))
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
        return self.push_update({"message": message})

    def push_command(
        self, chat_id: int, command: str, args: str = "", *, user_id: int | None = None
    ) -> int:
        """Queue ``/command args`` as PTB's ``CommandHandler`` expects it."""
        text = "/" + command.removeprefix("/")
        if args:
            text = f"{text} {args}"
        return self.push_text(chat_id, text, user_id=user_id)

    def push_callback(
        self,
        chat_id: int,
        data: str,
        *,
        message_id: int | None = None,
        user_id: int | None = None,
        check_button: bool = True,
    ) -> int:
        """Queue a press on an inline button of a message the bot sent to ``chat_id``.

        Without ``message_id`` the latest bot message carrying a button with this
        ``callback_data`` is used (or the latest bot message when ``check_button`` is false).
        With ``check_button`` (the default) the button must be on that message, as a user can
        only press buttons they are shown.
        """
        message = self._message_for_callback(chat_id, data, message_id, check_button)
        query_id = str(next(self._callback_ids) * 1_000_003 + 7_000_000_000_000)
        user = self._user(user_id if user_id is not None else self._default_user_id(chat_id))
        query = {
            "id": query_id,
            "from": user,
            "message": copy.deepcopy(message.payload),
            "chat_instance": str(abs(chat_id) * 7919 + 104_729),
            "data": data,
        }
        return self.push_update({"callback_query": query})

    def push_voice(
        self,
        chat_id: int,
        file_id: str | None = None,
        duration: int = 3,
        *,
        data: bytes = b"OggS\x00\x02" + bytes(58),
        user_id: int | None = None,
        mime_type: str = "audio/ogg",
    ) -> int:
        """Queue a voice message; its file can be fetched with ``getFile`` and downloaded."""
        stored = self._store_file("voice", data, file_id=file_id, mime_type=mime_type)
        message = self._user_message(chat_id, user_id, "fr", "Test")
        message["voice"] = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "duration": duration,
            "mime_type": mime_type,
            "file_size": len(data),
        }
        return self.push_update({"message": message})

    def push_location(
        self, chat_id: int, lat: float, lon: float, *, user_id: int | None = None
    ) -> int:
        """Queue a location shared by a user."""
        message = self._user_message(chat_id, user_id, "fr", "Test")
        message["location"] = {"latitude": lat, "longitude": lon}
        return self.push_update({"message": message})

    def add_group(
        self, chat_id: int, title: str, *, is_forum: bool, can_manage_topics: bool = True
    ) -> None:
        """Declare a group the bot is a member of (an administrator, unless told otherwise).

        ``is_forum`` makes it a supergroup with topics; forums are always supergroups, whose
        ids start with ``-100``.  Without ``can_manage_topics`` the bot may not create or
        close topics (Telegram then answers ``not enough rights``).
        """
        supergroup = str(chat_id).startswith("-100")
        if chat_id >= 0 or (is_forum and not supergroup):
            raise ValueError(f"{chat_id} is not the id of a {'forum ' if is_forum else ''}group")
        chat: dict[str, Any] = {
            "id": chat_id,
            "type": "supergroup" if supergroup else "group",
            "title": title,
        }
        if is_forum:
            chat["is_forum"] = True
        self._chats[chat_id] = chat
        if can_manage_topics:
            self._no_topic_rights.discard(chat_id)
        else:
            self._no_topic_rights.add(chat_id)

    def push_group_message(
        self,
        chat_id: int,
        text: str | None = None,
        *,
        voice: bytes | None = None,
        user_id: int,
        first_name: str = "Agent",
        message_thread_id: int | None = None,
        reply_to_message_id: int | None = None,
    ) -> int:
        """Queue a text (a ``/command`` gets its entity) or voice message from a group member.

        ``message_thread_id`` posts it in a forum topic; ``reply_to_message_id`` makes it a
        reply, which in a supergroup also puts it in the reply thread of that message, as
        Telegram does (``message_thread_id`` is then the thread's first message).
        """
        if (text is None) == (voice is None):
            raise ValueError("a group message has either a text or a voice note")
        params: dict[str, Any] = {}
        if message_thread_id is not None:
            params["message_thread_id"] = message_thread_id
        if reply_to_message_id is not None:
            params["reply_parameters"] = {"message_id": reply_to_message_id}
        try:
            placement = self._placement(chat_id, params)
        except ApiError as error:
            raise ValueError(f"cannot post in chat {chat_id}: {error.reason}") from None
        message = self._user_message(chat_id, user_id, "fr", first_name)
        message |= placement
        if text is not None:
            message["text"] = text
            command = _COMMAND_RE.match(text)
            if command:
                length = utf16_length(command.group(0))
                message["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
        else:
            assert voice is not None
            stored = self._store_file("voice", voice)
            message["voice"] = {
                "file_id": stored.file_id,
                "file_unique_id": stored.file_unique_id,
                "duration": 3,
                "mime_type": stored.mime_type,
                "file_size": len(voice),
            }
        return self.push_update({"message": message})

    def forum_topics(self, chat_id: int) -> list[ForumTopicState]:
        """The topics the bot created in ``chat_id``, oldest first."""
        topics = self._topics.get(self._chat_key(chat_id), {})
        return [copy.copy(topic) for _, topic in sorted(topics.items())]

    def register_file(
        self, data: bytes, *, kind: str = "document", file_id: str | None = None
    ) -> str:
        """Make a file known to the fake (as if a user had sent it); returns its ``file_id``."""
        return self._store_file(kind, data, file_id=file_id).file_id

    @property
    def pending_updates(self) -> list[dict[str, Any]]:
        """Updates queued and not yet confirmed by a ``getUpdates`` offset."""
        return list(self._updates)

    # -- test helpers: what the bot did ------------------------------------------------------

    async def wait_for(
        self,
        method: str,
        *,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109 - part of the helper's documented API
        chat_id: int | str | None = None,
    ) -> list[ApiRequest]:
        """Wait until at least ``count`` accepted requests of ``method`` exist; return them all."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            found = self.requests_for(method, chat_id=chat_id)
            if len(found) >= count:
                return found
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(self._wait_failure(method, count, timeout, chat_id, found))
            activity = self._activity
            try:
                await asyncio.wait_for(activity.wait(), remaining)
            except TimeoutError:
                continue

    def requests_for(self, method: str, *, chat_id: int | str | None = None) -> list[ApiRequest]:
        """Accepted requests of ``method`` (case-insensitive), optionally to one chat."""
        wanted = method.lower()
        return [
            request
            for request in self.requests
            if request.method.lower() == wanted
            and (chat_id is None or _same_chat(request.params.get("chat_id"), chat_id))
        ]

    def sent_messages(self, chat_id: int | str) -> list[SentMessage]:
        """Messages the bot sent to ``chat_id``, in order, as they are now (after edits)."""
        stored = self._messages.get(self._chat_key(chat_id), {})
        return [message.sent for _, message in sorted(stored.items()) if message.sent]

    def message_payload(self, chat_id: int | str, message_id: int) -> dict[str, Any]:
        """A message of ``chat_id`` (sent by the bot or pushed) as the Bot API returns it."""
        stored = self._messages.get(self._chat_key(chat_id), {}).get(message_id)
        if stored is None:
            raise KeyError(f"no message {message_id} in chat {chat_id}")
        return copy.deepcopy(stored.payload)

    def fail_next(
        self,
        method: str,
        *,
        error_code: int,
        description: str,
        retry_after: int | None = None,
    ) -> None:
        """Answer the next valid request of ``method`` with this error instead of serving it.

        ``retry_after`` adds ``parameters: {"retry_after": N}`` (429 Too Many Requests).
        """
        if self.spec.method(method) is None:
            raise ValueError(f"{method!r} is not a Bot API {self.spec.version} method")
        self._failures[method.lower()].append(InjectedFailure(error_code, description, retry_after))

    def duplicates(self) -> dict[int | str, int]:
        """Chats that received more than one message, with how many they received."""
        return {chat: count for chat, count in self.deliveries.items() if count > 1}

    def max_in_window(self, seconds: float = 1.0) -> int:
        """The most accepted messages that arrived within any ``seconds``-long window."""
        times = self.send_times
        best = 0
        start = 0
        for end, moment in enumerate(times):
            while moment - times[start] >= seconds:
                start += 1
            best = max(best, end - start + 1)
        return best

    def commands(
        self, *, scope: Mapping[str, Any] | None = None, language_code: str = ""
    ) -> list[dict[str, Any]]:
        """The commands set for ``scope`` (default scope when omitted) and language."""
        return copy.deepcopy(self._commands.get(self._commands_key(scope, language_code), []))

    # -- HTTP handling -----------------------------------------------------------------------

    async def _handle_not_found(self, request: web.Request) -> web.Response:
        return _error_response(404, "Not Found")

    async def _handle_api(self, request: web.Request) -> web.Response:
        method_name = request.match_info["method"]
        raw: dict[str, str] = {}
        files: dict[str, UploadedFile] = {}
        try:
            self._check_token(request.match_info["token"])
            raw, files = await self._read_parameters(request)
            method = self.spec.method(method_name)
            if method is None:
                raise ApiError(
                    404, "Not Found", f"{method_name!r} is not a Bot API {self.spec.version} method"
                )
            params = self.validator.validate(method, raw, files)
            api_request = ApiRequest(method.name, params, files)
            failure = self._next_failure(method.name)
            if failure is not None:
                return self._inject(api_request, raw, failure)
            sending = method.name.lower() in SENDING_METHODS
            if sending and self._flood is not None:
                throttled = self._throttle(api_request, raw)
                if throttled is not None:
                    return throttled
            result = await self._dispatch(method, api_request)
        except ApiError as error:
            return self._refuse(method_name, raw, error)
        if sending:
            self._count_delivery(api_request)
        self.requests.append(api_request)
        self._notify()
        _LOG.debug("Accepted %s %s", method.name, params)
        return web.json_response({"ok": True, "result": result})

    async def _handle_file(self, request: web.Request) -> web.Response:
        try:
            self._check_token(request.match_info["token"])
        except ApiError as error:
            return _error_response(error.error_code, error.description)
        stored = self._file_paths.get(request.match_info["path"])
        if stored is None:
            return _error_response(404, "Not Found")
        return web.Response(body=stored.data, content_type=stored.mime_type)

    def _check_token(self, token: str) -> None:
        if not _TOKEN_RE.match(token):
            raise ApiError(404, "Not Found", f"malformed bot token {token!r}")
        if self.token is not None and token != self.token:
            raise ApiError(401, "Unauthorized", "the token is not the one this fake accepts")
        self.bot_id = int(token.split(":")[0])

    async def _read_parameters(
        self, request: web.Request
    ) -> tuple[dict[str, str], dict[str, UploadedFile]]:
        raw: dict[str, str] = dict(request.query)
        files: dict[str, UploadedFile] = {}
        if request.method not in ("POST", "PUT") or not request.can_read_body:
            return raw, files
        if request.content_type == "application/json":
            try:
                body = json.loads(await request.text())
            except ValueError:
                raise bad_request("can't parse JSON encoded request") from None
            if not isinstance(body, dict):
                raise bad_request("JSON object expected as request body")
            for name, value in body.items():
                if value is not None:
                    raw[name] = value if isinstance(value, str) else json.dumps(value)
            return raw, files
        if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
            for name, value in form.items():
                if isinstance(value, web.FileField):
                    files[name] = UploadedFile(
                        name, value.filename, value.content_type, value.file.read()
                    )
                elif isinstance(value, str):
                    raw[name] = value
                else:
                    raw[name] = bytes(value).decode("utf-8")
        return raw, files

    async def _dispatch(self, method: MethodSpec, request: ApiRequest) -> Any:
        handler = self._handlers.get(method.name.lower())
        if handler is not None:
            return await handler(request)
        if method.returns == ("Boolean",):
            return True
        raise ApiError(
            501,
            f"Not Implemented: the fake Bot API does not implement {method.name}",
            f"{method.name} is valid but FakeBotApi has no behaviour for it",
        )

    def _next_failure(self, method: str) -> InjectedFailure | None:
        queue = self._failures.get(method.lower())
        return queue.popleft() if queue else None

    def _inject(
        self, request: ApiRequest, raw: dict[str, str], failure: InjectedFailure
    ) -> web.Response:
        record = RefusedRequest(
            request.method, raw, "injected by fail_next", failure.error_code, failure.description
        )
        self.injected.append(record)
        self._notify()
        _LOG.info("Injected failure for %s: %s", request.method, failure.description)
        parameters = {"retry_after": failure.retry_after} if failure.retry_after else None
        return _error_response(failure.error_code, failure.description, parameters)

    def _throttle(self, request: ApiRequest, raw: dict[str, str]) -> web.Response | None:
        """A 429 when the message would exceed a flood limit; None when it may go."""
        assert self._flood is not None
        chat_key = self._chat_key(request.params.get("chat_id"))
        paid = bool(request.params.get("allow_paid_broadcast"))
        wait = self._flood.retry_after(chat_key, self._clock(), paid)
        if wait <= 0:
            return None
        retry_after = max(1, math.ceil(wait))
        description = f"Too Many Requests: retry after {retry_after}"
        self.throttled.append(RefusedRequest(request.method, raw, "flood limit", 429, description))
        self._notify()
        return _error_response(429, description, {"retry_after": retry_after})

    def _count_delivery(self, request: ApiRequest) -> None:
        chat_key = self._chat_key(request.params.get("chat_id"))
        self.deliveries[chat_key] += 1
        now = self._clock()
        self.send_times.append(now)
        if self._flood is not None:
            self._flood.record(chat_key, now, bool(request.params.get("allow_paid_broadcast")))

    def _refuse(self, method: str, raw: dict[str, str], error: ApiError) -> web.Response:
        self.refused.append(
            RefusedRequest(method, raw, error.reason, error.error_code, error.description)
        )
        self._notify()
        _LOG.warning("Refused %s (%s): %s", method, error.description, error.reason)
        return _error_response(error.error_code, error.description, error.parameters)

    def _notify(self) -> None:
        self._activity.set()
        self._activity = asyncio.Event()

    def _wait_failure(
        self,
        method: str,
        count: int,
        timeout: float,
        chat_id: int | str | None,
        found: list[ApiRequest],
    ) -> str:
        where = "" if chat_id is None else f" to chat {chat_id}"
        seen = ", ".join(request.method for request in self.requests[-20:]) or "none"
        lines = [
            f"Timed out after {timeout}s waiting for {count} {method} request(s){where}; "
            f"got {len(found)}.",
            f"Accepted requests (last 20): {seen}.",
        ]
        lines += [f"Refused: {r.method}: {r.description} ({r.reason})" for r in self.refused]
        lines += [f"Injected failure: {r.method}: {r.description}" for r in self.injected]
        return "\n".join(lines)

    # -- methods -----------------------------------------------------------------------------

    async def _return_true(self, request: ApiRequest) -> bool:
        return True

    async def _get_me(self, request: ApiRequest) -> dict[str, Any]:
        return self._bot_user(full=True)

    async def _get_updates(self, request: ApiRequest) -> list[dict[str, Any]]:
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
        self._updates_changed.set()  # a newer long poll supersedes a pending one
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            ready = [update for update in self._updates if self._is_allowed(update)]
            remaining = deadline - loop.time()
            if ready or remaining <= 0 or self._closing or generation != self._poll_generation:
                return copy.deepcopy(ready[:limit])
            self._updates_changed.clear()
            try:
                await asyncio.wait_for(self._updates_changed.wait(), remaining)
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

    async def _set_webhook(self, request: ApiRequest) -> bool:
        url = str(request.params.get("url", ""))
        if not url:
            return await self._delete_webhook(request)
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
        self._updates_changed.set()
        return True

    async def _delete_webhook(self, request: ApiRequest) -> bool:
        self._webhook = None
        if request.params.get("drop_pending_updates"):
            self._updates.clear()
        return True

    async def _get_webhook_info(self, request: ApiRequest) -> dict[str, Any]:
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

    async def _send_message(self, request: ApiRequest) -> dict[str, Any]:
        params = request.params
        text = str(params["text"])
        parse_mode = params.get("parse_mode")
        plain = self._check_text(text, parse_mode, MAX_TEXT_LENGTH)
        chat_key = self._resolve_chat(params["chat_id"])
        self._check_reply(chat_key, params)
        placement = self._placement(chat_key, params)
        sent = SentMessage(
            chat_id=params["chat_id"],
            message_id=0,
            kind="text",
            text=text,
            plain_text=plain,
            parse_mode=parse_mode,
            reply_markup=params.get("reply_markup"),
            message_thread_id=placement.get("message_thread_id"),
        )
        return self._store_bot_message(chat_key, sent, {**placement, "text": plain})

    async def _send_media(self, kind: str, request: ApiRequest) -> dict[str, Any]:
        params = request.params
        caption = params.get("caption")
        plain_caption = None
        if caption is not None:
            plain_caption = self._check_caption(str(caption), params.get("parse_mode"))
        chat_key = self._resolve_chat(params["chat_id"])
        self._check_reply(chat_key, params)
        placement = self._placement(chat_key, params)
        stored = self._media_file(kind, request)
        content: dict[str, Any] = {**placement, kind: self._media_object(kind, stored, params)}
        if plain_caption is not None:
            content["caption"] = plain_caption
        sent = SentMessage(
            chat_id=params["chat_id"],
            message_id=0,
            kind=kind,
            parse_mode=params.get("parse_mode"),
            caption=caption,
            reply_markup=params.get("reply_markup"),
            file_id=stored.file_id,
            message_thread_id=placement.get("message_thread_id"),
        )
        return self._store_bot_message(chat_key, sent, content)

    async def _edit_message_text(self, request: ApiRequest) -> dict[str, Any] | bool:
        params = request.params
        text = str(params["text"])
        parse_mode = params.get("parse_mode")
        plain = self._check_text(text, parse_mode, MAX_TEXT_LENGTH)
        if "inline_message_id" in params:
            return True
        stored = self._message_to_edit(params)
        sent = stored.sent
        assert sent is not None
        markup = params.get("reply_markup")
        if sent.kind != "text":
            raise bad_request("there is no text in the message to edit")
        if (sent.plain_text, sent.reply_markup) == (plain, markup):
            raise not_modified()
        sent.text, sent.plain_text, sent.parse_mode = text, plain, parse_mode
        stored.payload["text"] = plain
        return self._apply_edit(stored, markup)

    async def _edit_message_reply_markup(self, request: ApiRequest) -> dict[str, Any] | bool:
        params = request.params
        if "inline_message_id" in params:
            return True
        stored = self._message_to_edit(params)
        assert stored.sent is not None
        markup = params.get("reply_markup")
        if stored.sent.reply_markup == markup:
            raise not_modified()
        return self._apply_edit(stored, markup)

    async def _delete_message(self, request: ApiRequest) -> bool:
        chat_key = self._resolve_chat(request.params["chat_id"])
        message_id = int(request.params["message_id"])
        if self._messages[chat_key].pop(message_id, None) is None:
            raise bad_request("message to delete not found")
        return True

    async def _answer_callback_query(self, request: ApiRequest) -> bool:
        params = request.params
        query_id = str(params["callback_query_id"])
        text = params.get("text")
        if text is not None and len(str(text)) > MAX_CALLBACK_ANSWER_LENGTH:
            raise bad_request(
                "MESSAGE_TOO_LONG",
                f"answerCallbackQuery text is {len(str(text))} characters, Telegram accepts 200",
            )
        if query_id not in self._open_callbacks:
            raise ApiError(
                400,
                MISSING_DESCRIPTIONS["callback_query_id"],
                f"callback query {query_id!r} was not pushed or was already answered",
            )
        self._open_callbacks.discard(query_id)
        return True

    async def _send_chat_action(self, request: ApiRequest) -> bool:
        self._resolve_chat(request.params["chat_id"])
        if request.params["action"] not in _CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        return True

    async def _set_my_commands(self, request: ApiRequest) -> bool:
        key = self._commands_key(request.params.get("scope"), request.params.get("language_code"))
        commands = [dict(command) for command in request.params["commands"]]
        if len(commands) > 100:
            raise bad_request("too many commands")
        if commands:
            self._commands[key] = commands
        else:
            self._commands.pop(key, None)
        return True

    async def _get_my_commands(self, request: ApiRequest) -> list[dict[str, Any]]:
        key = self._commands_key(request.params.get("scope"), request.params.get("language_code"))
        return copy.deepcopy(self._commands.get(key, []))

    async def _delete_my_commands(self, request: ApiRequest) -> bool:
        key = self._commands_key(request.params.get("scope"), request.params.get("language_code"))
        self._commands.pop(key, None)
        return True

    async def _copy_message(self, request: ApiRequest) -> dict[str, Any]:
        params = request.params
        source_key = self._resolve_chat(params["from_chat_id"])
        original = self._messages.get(source_key, {}).get(int(params["message_id"]))
        if original is None:
            raise bad_request(
                "message to copy not found",
                f"no message {params['message_id']} in chat {params['from_chat_id']}",
            )
        content = {k: copy.deepcopy(v) for k, v in original.payload.items() if k in _COPIED_FIELDS}
        if not content:
            raise bad_request(
                "message can't be copied",
                "service messages (and other content without a copyable body) can't be copied",
            )
        if "caption" in params:
            if "text" in content:
                raise bad_request("message caption can't be set for a text message")
            content["caption"] = self._check_caption(
                str(params["caption"]), params.get("parse_mode")
            )
            content.pop("caption_entities", None)
        chat_key = self._resolve_chat(params["chat_id"])
        self._check_reply(chat_key, params)
        placement = self._placement(chat_key, params)
        media_kinds = ("voice", "audio", "photo", "document", "video", "sticker")
        kind = next(
            (k for k in media_kinds if k in content),
            "text" if "text" in content else next(iter(content)),
        )
        media = content.get(kind)
        file_id = None
        if isinstance(media, list):  # a photo: its sizes, largest last
            file_id = media[-1]["file_id"]
        elif isinstance(media, dict):
            file_id = media.get("file_id")
        sent = SentMessage(
            chat_id=params["chat_id"],
            message_id=0,
            kind=kind,
            text=content.get("text"),
            plain_text=content.get("text"),
            caption=content.get("caption"),
            reply_markup=params.get("reply_markup"),
            file_id=file_id,
            message_thread_id=placement.get("message_thread_id"),
            copied_from=(source_key, int(params["message_id"])),
        )
        stored = self._store_bot_message(chat_key, sent, {**placement, **content})
        return {"message_id": stored["message_id"]}

    async def _create_forum_topic(self, request: ApiRequest) -> dict[str, Any]:
        params = request.params
        chat_key = self._forum(params["chat_id"], "create a topic")
        name = str(params["name"])
        if len(name) > MAX_TOPIC_NAME_LENGTH:
            raise bad_request(
                "TOPIC_TITLE_TOO_LONG",
                f"the name is {len(name)} characters, Telegram accepts {MAX_TOPIC_NAME_LENGTH}",
            )
        icon_color = int(params.get("icon_color", FORUM_ICON_COLORS[0]))
        if icon_color not in FORUM_ICON_COLORS:
            raise bad_request(
                "TOPIC_ICON_COLOR_INVALID", f"icon_color must be one of {FORUM_ICON_COLORS}"
            )
        # A topic is identified by the id of the service message that opens it.
        thread_id = self._last_message_id[chat_key] + 1
        topic = ForumTopicState(thread_id, name, icon_color)
        self._topics[chat_key][thread_id] = topic
        created: dict[str, Any] = {"name": name, "icon_color": icon_color}
        if "icon_custom_emoji_id" in params:
            created["icon_custom_emoji_id"] = params["icon_custom_emoji_id"]
        self._store_service_message(chat_key, thread_id, {"forum_topic_created": created})
        return {"message_thread_id": thread_id, "name": name, "icon_color": icon_color}

    async def _close_forum_topic(self, request: ApiRequest) -> bool:
        params = request.params
        chat_key = self._forum(params["chat_id"], "close a topic")
        thread_id = int(params["message_thread_id"])
        topic = self._topics[chat_key].get(thread_id)
        if topic is None:
            raise bad_request("TOPIC_ID_INVALID", f"no topic {thread_id} in chat {chat_key}")
        if topic.is_closed:
            raise bad_request("TOPIC_NOT_MODIFIED", f"topic {thread_id} is already closed")
        topic.is_closed = True
        self._store_service_message(chat_key, thread_id, {"forum_topic_closed": {}})
        return True

    async def _get_file(self, request: ApiRequest) -> dict[str, Any]:
        stored = self._files.get(str(request.params["file_id"]))
        if stored is None:
            raise bad_request("invalid file_id")
        result: dict[str, Any] = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.data),
        }
        if len(stored.data) > MAX_DOWNLOAD_BYTES:
            raise bad_request("file is too big")
        result["file_path"] = stored.file_path
        return result

    # -- message and file bookkeeping ---------------------------------------------------------

    def _check_text(self, text: str, parse_mode: str | None, limit: int) -> str:
        plain = visible_text(text, parse_mode)
        if not plain.strip():
            raise bad_request("message text is empty")
        if len(plain) > limit:
            raise bad_request(
                "message is too long", f"text is {len(plain)} characters, Telegram accepts {limit}"
            )
        return plain

    def _check_caption(self, caption: str, parse_mode: str | None) -> str:
        plain = visible_text(caption, parse_mode)
        if len(plain) > MAX_CAPTION_LENGTH:
            raise bad_request(
                "message caption is too long",
                f"caption is {len(plain)} characters, Telegram accepts {MAX_CAPTION_LENGTH}",
            )
        return plain

    def _check_reply(self, chat_key: int | str, params: Mapping[str, Any]) -> None:
        reply = params.get("reply_parameters")
        if not reply or reply.get("allow_sending_without_reply"):
            return
        target_chat = self._chat_key(reply.get("chat_id", chat_key))
        if int(reply["message_id"]) not in self._messages.get(target_chat, {}):
            raise bad_request("message to be replied not found")

    def _forum(self, chat_id: int | str, action: str) -> int | str:
        """The key of a forum supergroup where the bot may manage topics, or a refusal."""
        chat_key = self._resolve_chat(chat_id)
        chat = self._chat(chat_key)
        if chat["type"] != "supergroup" or not chat.get("is_forum"):
            raise bad_request(
                "the chat is not a forum",
                f"chat {chat_id} is a {chat['type']} without topics: cannot {action}",
            )
        if chat_key in self._no_topic_rights:
            raise bad_request(
                "not enough rights to manage topics",
                f"the bot has no can_manage_topics right in chat {chat_id}: cannot {action}",
            )
        return chat_key

    def _placement(self, chat_key: int | str, params: Mapping[str, Any]) -> dict[str, Any]:
        """Where a new message lands: its topic or reply thread, and what it replies to.

        In a forum, a message sent into a topic carries ``message_thread_id`` and
        ``is_topic_message``, and replies to the topic's first message unless it replies to
        another one.  In a supergroup without topics a reply belongs to the reply thread
        of the message it answers.  ``reply_to_message`` never nests a further reply.
        """
        chat = self._chat(chat_key)
        forum = chat["type"] == "supergroup" and bool(chat.get("is_forum"))
        messages = self._messages.get(chat_key, {})
        reply = params.get("reply_parameters") or {}
        target: _StoredMessage | None = None
        if reply and self._chat_key(reply.get("chat_id", chat_key)) == chat_key:
            target = messages.get(int(reply["message_id"]))
        thread_id = params.get("message_thread_id")
        if thread_id is None and target is not None:
            thread_id = target.payload.get("message_thread_id")
            if thread_id is None and chat["type"] == "supergroup" and not forum:
                thread_id = target.payload["message_id"]
        placement: dict[str, Any] = {}
        if thread_id is not None:
            thread_id = int(thread_id)
            if forum:
                topic = self._topics.get(chat_key, {}).get(thread_id)
                if topic is None:
                    raise bad_request(
                        "message thread not found", f"no topic {thread_id} in chat {chat_key}"
                    )
                if topic.is_closed:
                    raise bad_request("TOPIC_CLOSED", f"topic {thread_id} is closed")
                placement["is_topic_message"] = True
                target = target or messages.get(thread_id)
            elif "message_thread_id" in params or chat["type"] != "supergroup":
                raise bad_request(
                    "message thread not found",
                    f"chat {chat_key} has no topics: message_thread_id {thread_id} is unknown",
                )
            placement["message_thread_id"] = thread_id
        if target is not None:
            replied = copy.deepcopy(target.payload)
            replied.pop("reply_to_message", None)
            placement["reply_to_message"] = replied
        return placement

    def _store_service_message(
        self, chat_key: int | str, thread_id: int, content: Mapping[str, Any]
    ) -> None:
        """A service message the bot's action leaves in a topic (bots get no update for it)."""
        message_id = self._allocate_message_id(chat_key)
        payload: dict[str, Any] = {
            "message_id": message_id,
            "from": self._bot_user(),
            "chat": self._chat(chat_key),
            "date": int(time.time()),
            "message_thread_id": thread_id,
            "is_topic_message": True,
            **copy.deepcopy(dict(content)),
        }
        self._messages[chat_key][message_id] = _StoredMessage(payload, None)

    def _message_to_edit(self, params: Mapping[str, Any]) -> _StoredMessage:
        if "chat_id" not in params:
            raise ApiError(400, MISSING_DESCRIPTIONS["chat_id"])
        if "message_id" not in params:
            raise ApiError(400, MISSING_DESCRIPTIONS["message_id"])
        chat_key = self._resolve_chat(params["chat_id"])
        stored = self._messages.get(chat_key, {}).get(int(params["message_id"]))
        if stored is None:
            raise bad_request(
                "message to edit not found",
                f"no message {params['message_id']} in chat {params['chat_id']}",
            )
        if stored.sent is None:
            raise bad_request("message can't be edited", "the message was sent by a user")
        return stored

    def _apply_edit(self, stored: _StoredMessage, markup: dict[str, Any] | None) -> dict[str, Any]:
        assert stored.sent is not None
        stored.sent.reply_markup = markup
        stored.sent.edited = True
        stored.payload["edit_date"] = int(time.time())
        if markup is not None and "inline_keyboard" in markup:
            stored.payload["reply_markup"] = copy.deepcopy(markup)
        else:
            stored.payload.pop("reply_markup", None)
        return copy.deepcopy(stored.payload)

    def _store_bot_message(
        self, chat_key: int | str, sent: SentMessage, content: Mapping[str, Any]
    ) -> dict[str, Any]:
        message_id = self._allocate_message_id(chat_key)
        sent.message_id = message_id
        payload: dict[str, Any] = {
            "message_id": message_id,
            "from": self._bot_user(),
            "chat": self._chat(chat_key),
            "date": int(time.time()),
            **content,
        }
        if sent.reply_markup is not None and "inline_keyboard" in sent.reply_markup:
            payload["reply_markup"] = copy.deepcopy(sent.reply_markup)
        self._messages[chat_key][message_id] = _StoredMessage(payload, sent)
        return copy.deepcopy(payload)

    def _allocate_message_id(self, chat_key: int | str) -> int:
        self._last_message_id[chat_key] += 1
        return self._last_message_id[chat_key]

    def _resolve_chat(self, chat_id: int | str) -> int | str:
        if isinstance(chat_id, str) and not chat_id.startswith("@"):
            raise bad_request(
                "chat not found", f"chat_id {chat_id!r} is neither a number nor an @username"
            )
        return self._chat_key(chat_id)

    def _chat_key(self, chat_id: Any) -> int | str:
        if isinstance(chat_id, int):
            return chat_id
        text = str(chat_id)
        if INTEGER_RE.match(text):
            return int(text)
        if text.startswith("@"):
            name = text.lower()
            if name not in self._channel_ids:
                self._channel_ids[name] = -1_001_000_000_000 - len(self._channel_ids)
                self._chats[self._channel_ids[name]] = {
                    "id": self._channel_ids[name],
                    "type": "channel",
                    "title": text[1:],
                    "username": text[1:],
                }
            return self._channel_ids[name]
        return text

    def _chat(self, chat_key: int | str) -> dict[str, Any]:
        if chat_key in self._chats:
            return copy.deepcopy(self._chats[chat_key])
        assert isinstance(chat_key, int)
        if chat_key > 0:
            return {"id": chat_key, "type": "private", "first_name": "Test"}
        chat_type = "supergroup" if str(chat_key).startswith("-100") else "group"
        return {"id": chat_key, "type": chat_type, "title": "Test group"}

    def _bot_user(self, *, full: bool = False) -> dict[str, Any]:
        user: dict[str, Any] = {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.bot_first_name,
            "username": self.bot_username,
        }
        if full:
            user |= {
                "can_join_groups": True,
                "can_read_all_group_messages": False,
                "supports_inline_queries": False,
                "can_connect_to_business": False,
                "has_main_web_app": False,
            }
        return user

    def _default_user_id(self, chat_id: int) -> int:
        return chat_id if chat_id > 0 else 10_000

    def _user(self, user_id: int) -> dict[str, Any]:
        return copy.deepcopy(
            self._users.get(user_id, {"id": user_id, "is_bot": False, "first_name": "Test"})
        )

    def _user_message(
        self, chat_id: int, user_id: int | None, language_code: str, first_name: str
    ) -> dict[str, Any]:
        sender = {
            "id": user_id if user_id is not None else self._default_user_id(chat_id),
            "is_bot": False,
            "first_name": first_name,
            "language_code": language_code,
        }
        chat = (
            {"id": chat_id, "type": "private", "first_name": first_name}
            if chat_id > 0
            else self._chat(chat_id)
        )
        return {
            "message_id": self._allocate_message_id(chat_id),
            "from": sender,
            "chat": chat,
            "date": int(time.time()),
        }

    def _remember_update(self, update: Mapping[str, Any]) -> None:
        """Learn chats, users, message ids and callback ids from an update pushed by a test."""
        for kind in ("message", "edited_message", "channel_post", "business_message"):
            message = update.get(kind)
            if not isinstance(message, dict) or "chat" not in message:
                continue
            chat_key = self._chat_key(message["chat"]["id"])
            self._chats[chat_key] = copy.deepcopy(message["chat"])
            message_id = int(message.get("message_id", 0))
            self._last_message_id[chat_key] = max(self._last_message_id[chat_key], message_id)
            if kind != "edited_message":
                self._messages[chat_key][message_id] = _StoredMessage(copy.deepcopy(message), None)
            sender = message.get("from")
            if isinstance(sender, dict) and "id" in sender:
                self._users[int(sender["id"])] = copy.deepcopy(sender)
        query = update.get("callback_query")
        if isinstance(query, dict) and "id" in query:
            self._open_callbacks.add(str(query["id"]))

    def _message_for_callback(
        self, chat_id: int, data: str, message_id: int | None, check_button: bool
    ) -> _StoredMessage:
        chat_messages = self._messages.get(chat_id, {})
        if message_id is not None:
            stored = chat_messages.get(message_id)
            if stored is None or stored.sent is None:
                raise ValueError(f"the bot sent no message {message_id} to chat {chat_id}")
            if check_button and data not in _callback_data(stored.sent.reply_markup):
                raise ValueError(
                    f"message {message_id} in chat {chat_id} has no button with "
                    f"callback_data {data!r}"
                )
            return stored
        bot_messages = [m for _, m in sorted(chat_messages.items()) if m.sent is not None]
        for stored in reversed(bot_messages):
            assert stored.sent is not None
            if data in _callback_data(stored.sent.reply_markup):
                return stored
        if bot_messages and not check_button:
            return bot_messages[-1]
        raise ValueError(
            f"the bot sent no message with a button carrying callback_data {data!r} "
            f"to chat {chat_id}"
        )

    def _store_file(
        self,
        kind: str,
        data: bytes,
        *,
        file_id: str | None = None,
        mime_type: str | None = None,
    ) -> _StoredFile:
        prefix, folder, extension, default_mime = _MEDIA.get(kind, _MEDIA["document"])
        number = next(self._file_counter)
        stored = _StoredFile(
            file_id=file_id or f"{prefix}{number:06d}{uuid.uuid4().hex}",
            file_unique_id=f"AgAD{number:04d}{uuid.uuid4().hex[:8]}",
            kind=kind,
            data=data,
            file_path=f"{folder}/file_{number}.{extension}",
            mime_type=mime_type or default_mime,
        )
        self._files[stored.file_id] = stored
        self._file_paths[stored.file_path] = stored
        return stored

    def _media_file(self, kind: str, request: ApiRequest) -> _StoredFile:
        uploaded = request.files.get(kind)
        value = request.params.get(kind)
        if isinstance(value, str) and value.startswith("attach://"):
            uploaded = request.files[value.removeprefix("attach://")]
        if uploaded is not None:
            mime_type = uploaded.content_type
            if mime_type in (None, "application/octet-stream"):
                mime_type = None  # Telegram detects the real type; use the kind's usual one
            return self._store_file(kind, uploaded.data, mime_type=mime_type)
        assert isinstance(value, str)
        if value in self._files:
            return self._files[value]
        if urlsplit(value).scheme in ("http", "https"):
            return self._store_file(kind, b"")
        raise bad_request(
            "wrong file identifier/HTTP URL specified",
            f"{kind}={value!r} is neither a known file_id nor an HTTP URL",
        )

    def _media_object(
        self, kind: str, stored: _StoredFile, params: Mapping[str, Any]
    ) -> dict[str, Any] | list[dict[str, Any]]:
        base = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.data),
        }
        if kind == "photo":
            thumbnail = self._store_file("photo", stored.data)
            return [
                {
                    "file_id": thumbnail.file_id,
                    "file_unique_id": thumbnail.file_unique_id,
                    "file_size": len(stored.data),
                    "width": 90,
                    "height": 90,
                },
                base | {"width": 800, "height": 800},
            ]
        media = base | {"mime_type": stored.mime_type}
        if kind in ("voice", "audio"):
            media["duration"] = int(params.get("duration", 1))
        if kind == "audio":
            for key in ("performer", "title"):
                if key in params:
                    media[key] = params[key]
        return media

    def _commands_key(
        self, scope: Mapping[str, Any] | None, language_code: str | None
    ) -> tuple[str, str]:
        scope_json = json.dumps(dict(scope or {"type": "default"}), sort_keys=True)
        return scope_json, language_code or ""


def _callback_data(markup: Mapping[str, Any] | None) -> set[str]:
    if not markup:
        return set()
    rows = markup.get("inline_keyboard", [])
    return {button["callback_data"] for row in rows for button in row if "callback_data" in button}


def _same_chat(value: Any, chat_id: int | str) -> bool:
    return value == chat_id or str(value) == str(chat_id)


def _error_response(
    error_code: int, description: str, parameters: dict[str, Any] | None = None
) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": error_code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return web.json_response(body, status=error_code)
