"""The world as the fake sees it: chats, users, messages, forum topics and commands.

Messages pushed as coming from users and messages the bot sent are kept per chat, with the
Message object the Bot API returns for them, so edits, replies, copies, topics and button
presses can be checked the way Telegram checks them.
"""

from __future__ import annotations

import copy
import itertools
import json
import time
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tests.fakes.bot_api.errors import MISSING_DESCRIPTIONS, ApiError, bad_request
from tests.fakes.bot_api.records import ForumTopicState, SentMessage
from tests.fakes.bot_api.validation import INTEGER_RE


@dataclass
class StoredMessage:
    """A message of a chat: the Bot API object, and what tests read if the bot sent it."""

    payload: dict[str, Any]
    """The Message object as the Bot API returns it."""
    sent: SentMessage | None
    """Set for messages sent by the bot; ``None`` for messages pushed as coming from users."""


class ChatState:
    """Chats, users, messages, topics and commands of one fake server."""

    def __init__(self, *, bot_id: int, bot_username: str, bot_first_name: str) -> None:
        self.bot_id = bot_id
        self.bot_username = bot_username
        self.bot_first_name = bot_first_name
        self.chats: dict[int | str, dict[str, Any]] = {}
        self.users: dict[int, dict[str, Any]] = {}
        self.messages: dict[int | str, dict[int, StoredMessage]] = defaultdict(dict)
        self.last_message_id: dict[int | str, int] = defaultdict(int)
        self.channel_ids: dict[str, int] = {}
        self.callback_ids = itertools.count(1)
        self.open_callbacks: set[str] = set()
        self.commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.topics: dict[int | str, dict[int, ForumTopicState]] = defaultdict(dict)
        #: Groups added with :meth:`FakeBotApi.add_group` where the bot may not manage topics.
        self.no_topic_rights: set[int | str] = set()

    def check_reply(self, chat_key: int | str, params: Mapping[str, Any]) -> None:
        """Refuse a reply to a message that does not exist (unless told to send anyway)."""
        reply = params.get("reply_parameters")
        if not reply or reply.get("allow_sending_without_reply"):
            return
        target_chat = self.chat_key(reply.get("chat_id", chat_key))
        if int(reply["message_id"]) not in self.messages.get(target_chat, {}):
            raise bad_request("message to be replied not found")

    def forum(self, chat_id: int | str, action: str) -> int | str:
        """The key of a forum supergroup where the bot may manage topics, or a refusal."""
        chat_key = self.resolve_chat(chat_id)
        chat = self.chat(chat_key)
        if chat["type"] != "supergroup" or not chat.get("is_forum"):
            raise bad_request(
                "the chat is not a forum",
                f"chat {chat_id} is a {chat['type']} without topics: cannot {action}",
            )
        if chat_key in self.no_topic_rights:
            raise bad_request(
                "not enough rights to manage topics",
                f"the bot has no can_manage_topics right in chat {chat_id}: cannot {action}",
            )
        return chat_key

    def placement(self, chat_key: int | str, params: Mapping[str, Any]) -> dict[str, Any]:
        """Where a new message lands: its topic or reply thread, and what it replies to.

        In a forum, a message sent into a topic carries ``message_thread_id`` and
        ``is_topic_message``, and replies to the topic's first message unless it replies to
        another one.  In a supergroup without topics a reply belongs to the reply thread
        of the message it answers.  ``reply_to_message`` never nests a further reply.
        """
        chat = self.chat(chat_key)
        forum = chat["type"] == "supergroup" and bool(chat.get("is_forum"))
        messages = self.messages.get(chat_key, {})
        reply = params.get("reply_parameters") or {}
        target: StoredMessage | None = None
        if reply and self.chat_key(reply.get("chat_id", chat_key)) == chat_key:
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
                topic = self.topics.get(chat_key, {}).get(thread_id)
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

    def store_service_message(
        self, chat_key: int | str, thread_id: int, content: Mapping[str, Any]
    ) -> None:
        """A service message the bot's action leaves in a topic (bots get no update for it)."""
        message_id = self.allocate_message_id(chat_key)
        payload: dict[str, Any] = {
            "message_id": message_id,
            "from": self.bot_user(),
            "chat": self.chat(chat_key),
            "date": int(time.time()),
            "message_thread_id": thread_id,
            "is_topic_message": True,
            **copy.deepcopy(dict(content)),
        }
        self.messages[chat_key][message_id] = StoredMessage(payload, None)

    def message_to_edit(self, params: Mapping[str, Any]) -> StoredMessage:
        """The bot's message an edit request names, or Telegram's refusal."""
        if "chat_id" not in params:
            raise ApiError(400, MISSING_DESCRIPTIONS["chat_id"])
        if "message_id" not in params:
            raise ApiError(400, MISSING_DESCRIPTIONS["message_id"])
        chat_key = self.resolve_chat(params["chat_id"])
        stored = self.messages.get(chat_key, {}).get(int(params["message_id"]))
        if stored is None:
            raise bad_request(
                "message to edit not found",
                f"no message {params['message_id']} in chat {params['chat_id']}",
            )
        if stored.sent is None:
            raise bad_request("message can't be edited", "the message was sent by a user")
        return stored

    def apply_edit(self, stored: StoredMessage, markup: dict[str, Any] | None) -> dict[str, Any]:
        """Set a message's new keyboard and mark it edited; return it as the Bot API does."""
        assert stored.sent is not None
        stored.sent.reply_markup = markup
        stored.sent.edited = True
        stored.payload["edit_date"] = int(time.time())
        if markup is not None and "inline_keyboard" in markup:
            stored.payload["reply_markup"] = copy.deepcopy(markup)
        else:
            stored.payload.pop("reply_markup", None)
        return copy.deepcopy(stored.payload)

    def store_bot_message(
        self, chat_key: int | str, sent: SentMessage, content: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Keep a message the bot sent; return the Message object for the answer."""
        message_id = self.allocate_message_id(chat_key)
        sent.message_id = message_id
        payload: dict[str, Any] = {
            "message_id": message_id,
            "from": self.bot_user(),
            "chat": self.chat(chat_key),
            "date": int(time.time()),
            **content,
        }
        if sent.reply_markup is not None and "inline_keyboard" in sent.reply_markup:
            payload["reply_markup"] = copy.deepcopy(sent.reply_markup)
        self.messages[chat_key][message_id] = StoredMessage(payload, sent)
        return copy.deepcopy(payload)

    def allocate_message_id(self, chat_key: int | str) -> int:
        """The next message id of a chat (ids count up per chat, as on Telegram)."""
        self.last_message_id[chat_key] += 1
        return self.last_message_id[chat_key]

    def resolve_chat(self, chat_id: int | str) -> int | str:
        """The key of the chat a request names, refusing what cannot be a chat id."""
        if isinstance(chat_id, str) and not chat_id.startswith("@"):
            raise bad_request(
                "chat not found", f"chat_id {chat_id!r} is neither a number nor an @username"
            )
        return self.chat_key(chat_id)

    def chat_key(self, chat_id: Any) -> int | str:
        """How the fake files a chat: its numeric id (an @username gets a channel id)."""
        if isinstance(chat_id, int):
            return chat_id
        text = str(chat_id)
        if INTEGER_RE.match(text):
            return int(text)
        if text.startswith("@"):
            name = text.lower()
            if name not in self.channel_ids:
                self.channel_ids[name] = -1_001_000_000_000 - len(self.channel_ids)
                self.chats[self.channel_ids[name]] = {
                    "id": self.channel_ids[name],
                    "type": "channel",
                    "title": text[1:],
                    "username": text[1:],
                }
            return self.channel_ids[name]
        return text

    def chat(self, chat_key: int | str) -> dict[str, Any]:
        """The Chat object of a chat, known or made up from the shape of its id."""
        if chat_key in self.chats:
            return copy.deepcopy(self.chats[chat_key])
        assert isinstance(chat_key, int)
        if chat_key > 0:
            return {"id": chat_key, "type": "private", "first_name": "Test"}
        chat_type = "supergroup" if str(chat_key).startswith("-100") else "group"
        return {"id": chat_key, "type": chat_type, "title": "Test group"}

    def bot_user(self, *, full: bool = False) -> dict[str, Any]:
        """The bot as a User object (``full``: with what getMe adds)."""
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

    def default_user_id(self, chat_id: int) -> int:
        """Who writes when a test names no user: the private chat's owner."""
        return chat_id if chat_id > 0 else 10_000

    def user(self, user_id: int) -> dict[str, Any]:
        """A user seen in a pushed update, or a made-up one."""
        return copy.deepcopy(
            self.users.get(user_id, {"id": user_id, "is_bot": False, "first_name": "Test"})
        )

    def user_message(
        self, chat_id: int, user_id: int | None, language_code: str, first_name: str
    ) -> dict[str, Any]:
        """The common fields of a message from a user, with a new message id."""
        sender = {
            "id": user_id if user_id is not None else self.default_user_id(chat_id),
            "is_bot": False,
            "first_name": first_name,
            "language_code": language_code,
        }
        chat = (
            {"id": chat_id, "type": "private", "first_name": first_name}
            if chat_id > 0
            else self.chat(chat_id)
        )
        return {
            "message_id": self.allocate_message_id(chat_id),
            "from": sender,
            "chat": chat,
            "date": int(time.time()),
        }

    def remember_update(self, update: Mapping[str, Any]) -> None:
        """Learn chats, users, message ids and callback ids from an update pushed by a test."""
        for kind in ("message", "edited_message", "channel_post", "business_message"):
            message = update.get(kind)
            if not isinstance(message, dict) or "chat" not in message:
                continue
            chat_key = self.chat_key(message["chat"]["id"])
            self.chats[chat_key] = copy.deepcopy(message["chat"])
            message_id = int(message.get("message_id", 0))
            self.last_message_id[chat_key] = max(self.last_message_id[chat_key], message_id)
            if kind != "edited_message":
                self.messages[chat_key][message_id] = StoredMessage(copy.deepcopy(message), None)
            sender = message.get("from")
            if isinstance(sender, dict) and "id" in sender:
                self.users[int(sender["id"])] = copy.deepcopy(sender)
        query = update.get("callback_query")
        if isinstance(query, dict) and "id" in query:
            self.open_callbacks.add(str(query["id"]))

    def message_for_callback(
        self, chat_id: int, data: str, message_id: int | None, check_button: bool
    ) -> StoredMessage:
        """The bot's message whose button a test presses (see push_callback)."""
        chat_messages = self.messages.get(chat_id, {})
        if message_id is not None:
            stored = chat_messages.get(message_id)
            if stored is None or stored.sent is None:
                raise ValueError(f"the bot sent no message {message_id} to chat {chat_id}")
            if check_button and data not in callback_data(stored.sent.reply_markup):
                raise ValueError(
                    f"message {message_id} in chat {chat_id} has no button with "
                    f"callback_data {data!r}"
                )
            return stored
        bot_messages = [m for _, m in sorted(chat_messages.items()) if m.sent is not None]
        for stored in reversed(bot_messages):
            assert stored.sent is not None
            if data in callback_data(stored.sent.reply_markup):
                return stored
        if bot_messages and not check_button:
            return bot_messages[-1]
        raise ValueError(
            f"the bot sent no message with a button carrying callback_data {data!r} "
            f"to chat {chat_id}"
        )

    def commands_key(
        self, scope: Mapping[str, Any] | None, language_code: str | None
    ) -> tuple[str, str]:
        """Where setMyCommands files a command list: its scope and language."""
        scope_json = json.dumps(dict(scope or {"type": "default"}), sort_keys=True)
        return scope_json, language_code or ""


def callback_data(markup: Mapping[str, Any] | None) -> set[str]:
    if not markup:
        return set()
    rows = markup.get("inline_keyboard", [])
    return {button["callback_data"] for row in rows for button in row if "callback_data" in button}


def same_chat(value: Any, chat_id: int | str) -> bool:
    return value == chat_id or str(value) == str(chat_id)
