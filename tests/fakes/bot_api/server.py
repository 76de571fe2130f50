"""The aiohttp server: routes, request decoding, refusals, injected failures, flood limits.

:class:`FakeBotApi` binds 127.0.0.1 on a free port and serves ``/bot<token>/<method>`` and
``/file/bot<token>/<path>`` as Telegram does.  Each request is decoded (query string, JSON,
form or multipart), validated against the spec, maybe answered with a failure a test queued
or a ``429`` beyond the flood limits, then served by :class:`BotMethods`; every refusal is
recorded with Telegram's status and description.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
import time
from collections import Counter, defaultdict, deque
from collections.abc import Callable
from types import TracebackType
from typing import Any, Final

from aiohttp import web

from tests.fakes.bot_api.errors import ApiError, bad_request
from tests.fakes.bot_api.files import FileStore
from tests.fakes.bot_api.inspection import Inspection
from tests.fakes.bot_api.limits import (
    MAX_UPLOAD_BYTES,
    SENDING_METHODS,
    FloodWindows,
    TelegramLimits,
)
from tests.fakes.bot_api.methods import BotMethods
from tests.fakes.bot_api.records import ApiRequest, InjectedFailure, RefusedRequest, UploadedFile
from tests.fakes.bot_api.spec import BotApiSpec, MethodSpec, load_spec
from tests.fakes.bot_api.state import ChatState
from tests.fakes.bot_api.updates import UpdateQueue
from tests.fakes.bot_api.users import UserActions
from tests.fakes.bot_api.validation import RequestValidator

_LOG = logging.getLogger(__name__)

LOOPBACK_HOST: Final = "127.0.0.1"
_TOKEN_RE: Final = re.compile(r"^\d+:[A-Za-z0-9_-]+$")


class FakeBotApi(UserActions, Inspection):
    """A loopback Telegram Bot API server for python-telegram-bot, with test helpers.

    Use it as ``async with FakeBotApi() as fake:`` or with explicit :meth:`start` and
    :meth:`stop`, then point PTB at it::

        bot = Bot(token="123:ABC", base_url=fake.base_url, base_file_url=fake.base_file_url)

    The helpers that act as users are in :class:`UserActions`, those that read what the bot
    did in :class:`Inspection`.
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
        self.state = ChatState(
            bot_id=int(token.split(":")[0]) if token and _TOKEN_RE.match(token) else 123,
            bot_username=bot_username,
            bot_first_name=bot_first_name,
        )
        self.files = FileStore()
        self.updates = UpdateQueue()
        self.methods = BotMethods(self.state, self.files, self.updates)

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
        self._activity = asyncio.Event()
        self._failures: dict[str, deque[InjectedFailure]] = defaultdict(deque)

    @property
    def bot_id(self) -> int:
        """The bot's user id: the number before the colon of the token last used."""
        return self.state.bot_id

    @bot_id.setter
    def bot_id(self, value: int) -> None:
        self.state.bot_id = value

    @property
    def bot_username(self) -> str:
        return self.state.bot_username

    @bot_username.setter
    def bot_username(self, value: str) -> None:
        self.state.bot_username = value

    @property
    def bot_first_name(self) -> str:
        return self.state.bot_first_name

    @bot_first_name.setter
    def bot_first_name(self, value: str) -> None:
        self.state.bot_first_name = value

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
        self.updates.closing = False
        address = runner.addresses[0]
        self._port = int(address[1])
        _LOG.info("Fake Bot API (Bot API %s) listening on %s", self.spec.version, self.root_url)

    async def stop(self) -> None:
        """Answer pending long polls and stop serving."""
        if self._runner is None:
            return
        self.updates.close()
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
        stored = self.files.by_path.get(request.match_info["path"])
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
        handler = self.methods.handlers.get(method.name.lower())
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
        chat_key = self.state.chat_key(request.params.get("chat_id"))
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
        chat_key = self.state.chat_key(request.params.get("chat_id"))
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


def _error_response(
    error_code: int, description: str, parameters: dict[str, Any] | None = None
) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": error_code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return web.json_response(body, status=error_code)
