"""Telegram's limits: flood limits per chat, per group and in all, and size limits.

Flood limits are opt-in (:class:`TelegramLimits`, kept in sliding windows by
:class:`FloodWindows`); size limits (text, caption, ``callback_data``, command and topic
names, uploads and downloads) always hold, as they do on Telegram.
"""

from __future__ import annotations

import re
from collections import defaultdict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

from tests.fakes.bot_api.entities import visible_text
from tests.fakes.bot_api.errors import bad_request

MAX_UPLOAD_BYTES: Final = 50 * 1024 * 1024
MAX_DOWNLOAD_BYTES: Final = 20 * 1024 * 1024

MAX_TEXT_LENGTH: Final = 4096
MAX_CAPTION_LENGTH: Final = 1024
MAX_CALLBACK_DATA_BYTES: Final = 64
MAX_CALLBACK_ANSWER_LENGTH: Final = 200
MAX_TOPIC_NAME_LENGTH: Final = 128
# The colours Telegram accepts for a forum topic icon (createForumTopic's icon_color).
FORUM_ICON_COLORS: Final = (7322096, 16766590, 13338331, 9367192, 16749490, 16478047)

# Methods that put a message in a chat: the ones Telegram's flood limits count.
SENDING_METHODS: Final = frozenset(
    {
        "sendmessage",
        "sendvoice",
        "sendaudio",
        "sendphoto",
        "senddocument",
        "copymessage",
    }
)
# An inline button needs one of these fields: what pressing it does.
_INLINE_BUTTON_ACTIONS: Final = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)
_BOT_COMMAND_NAME_RE: Final = re.compile(r"^[a-z0-9_]+$")


@dataclass(frozen=True)
class TelegramLimits:
    """Telegram's flood limits for bots (sliding windows), enforced when given to the fake.

    Beyond any of them a sending request is answered ``429`` with ``retry_after``: the
    whole seconds until the window that refused it has room again (at least 1).  Paid
    broadcasts (``allow_paid_broadcast``) may use ``paid_per_second`` instead.
    """

    global_per_second: int = 30
    per_chat_per_second: int = 1
    group_per_minute: int = 20
    paid_per_second: int = 1000


class FloodWindows:
    """Arrival times of accepted messages, per limit, pruned as the windows slide."""

    def __init__(self, limits: TelegramLimits) -> None:
        self.limits = limits
        self.all: deque[float] = deque()
        self.paid: deque[float] = deque()
        self.chats: dict[int | str, deque[float]] = defaultdict(deque)
        self.groups: dict[int | str, deque[float]] = defaultdict(deque)

    @staticmethod
    def _wait(window: deque[float], now: float, span: float, limit: int) -> float:
        while window and window[0] <= now - span:
            window.popleft()
        return window[0] + span - now if len(window) >= limit else 0.0

    def retry_after(self, chat_key: int | str, now: float, paid: bool) -> float:
        """Seconds until this message would be allowed (0: allowed now)."""
        limits = self.limits
        wait = self._wait(self.chats[chat_key], now, 1.0, limits.per_chat_per_second)
        if paid:
            wait = max(wait, self._wait(self.paid, now, 1.0, limits.paid_per_second))
        else:
            wait = max(wait, self._wait(self.all, now, 1.0, limits.global_per_second))
        if isinstance(chat_key, int) and chat_key < 0:
            window = self.groups[chat_key]
            wait = max(wait, self._wait(window, now, 60.0, limits.group_per_minute))
        return wait

    def record(self, chat_key: int | str, now: float, paid: bool) -> None:
        (self.paid if paid else self.all).append(now)
        self.chats[chat_key].append(now)
        if isinstance(chat_key, int) and chat_key < 0:
            self.groups[chat_key].append(now)


def check_text(text: str, parse_mode: str | None, limit: int) -> str:
    plain = visible_text(text, parse_mode)
    if not plain.strip():
        raise bad_request("message text is empty")
    if len(plain) > limit:
        raise bad_request(
            "message is too long", f"text is {len(plain)} characters, Telegram accepts {limit}"
        )
    return plain


def check_caption(caption: str, parse_mode: str | None) -> str:
    plain = visible_text(caption, parse_mode)
    if len(plain) > MAX_CAPTION_LENGTH:
        raise bad_request(
            "message caption is too long",
            f"caption is {len(plain)} characters, Telegram accepts {MAX_CAPTION_LENGTH}",
        )
    return plain


def _check_inline_button(button: Mapping[str, Any], path: str) -> None:
    if "callback_data" in button:
        size = len(button["callback_data"].encode("utf-8"))
        if not 1 <= size <= MAX_CALLBACK_DATA_BYTES:
            raise bad_request(
                "BUTTON_DATA_INVALID",
                f"{path}.callback_data is {size} bytes long, Telegram accepts 1-64 bytes",
            )
    if not any(action in button for action in _INLINE_BUTTON_ACTIONS):
        raise bad_request(
            "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard",
            f"{path} has no action field ({', '.join(_INLINE_BUTTON_ACTIONS)})",
        )
    if "url" in button:
        url = urlsplit(button["url"])
        if url.scheme not in ("http", "https", "tg") or (url.scheme != "tg" and not url.netloc):
            raise bad_request("BUTTON_URL_INVALID", f"{path}.url {button['url']!r} is not valid")


def _check_bot_command(command: Mapping[str, Any], path: str) -> None:
    name = command["command"]
    description = command["description"].strip()
    problem = None
    if not name:
        problem = "command must be non-empty"
    elif len(name) > 32:
        problem = "command is too long"
    elif not _BOT_COMMAND_NAME_RE.match(name):
        problem = "invalid command name specified"
    elif not description:
        problem = "command description must be non-empty"
    elif len(description) > 256:
        problem = "command description is too long"
    if problem:
        raise bad_request(problem, f"{path}: {problem}")


OBJECT_CHECKS: Final[dict[str, Callable[[Mapping[str, Any], str], None]]] = {
    "InlineKeyboardButton": _check_inline_button,
    "BotCommand": _check_bot_command,
}
