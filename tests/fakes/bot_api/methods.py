"""What the fake does for each Bot API method it implements, over its state.

Sending, editing, deleting and copying messages, answering button presses, commands, forum
topics and files; getUpdates and webhooks are the update queue's.  Each method refuses what
Telegram refuses for the state it is in (an unknown message, an unchanged edit, a closed
topic...).  A valid method without behaviour here returns True if Telegram returns a
Boolean, and is otherwise refused as not implemented (see :mod:`tests.fakes.bot_api.server`).
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Awaitable, Callable
from typing import Any, Final

from tests.fakes.bot_api.errors import MISSING_DESCRIPTIONS, ApiError, bad_request, not_modified
from tests.fakes.bot_api.files import FileStore
from tests.fakes.bot_api.limits import (
    FORUM_ICON_COLORS,
    MAX_CALLBACK_ANSWER_LENGTH,
    MAX_DOWNLOAD_BYTES,
    MAX_TEXT_LENGTH,
    MAX_TOPIC_NAME_LENGTH,
    check_caption,
    check_text,
)
from tests.fakes.bot_api.records import ApiRequest, ForumTopicState, SentMessage
from tests.fakes.bot_api.state import ChatState
from tests.fakes.bot_api.updates import UpdateQueue

Handler = Callable[[ApiRequest], Awaitable[Any]]

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


class BotMethods:
    """The Bot API methods the fake implements, by lower-case name in :attr:`handlers`."""

    def __init__(self, state: ChatState, files: FileStore, updates: UpdateQueue) -> None:
        self.state = state
        self.files = files
        self.updates = updates
        self.handlers: dict[str, Handler] = {
            "getme": self.get_me,
            "getupdates": updates.get_updates,
            "setwebhook": updates.set_webhook,
            "deletewebhook": updates.delete_webhook,
            "getwebhookinfo": updates.get_webhook_info,
            "sendmessage": self.send_message,
            "sendvoice": functools.partial(self.send_media, "voice"),
            "sendaudio": functools.partial(self.send_media, "audio"),
            "sendphoto": functools.partial(self.send_media, "photo"),
            "senddocument": functools.partial(self.send_media, "document"),
            "editmessagetext": self.edit_message_text,
            "editmessagereplymarkup": self.edit_message_reply_markup,
            "deletemessage": self.delete_message,
            "answercallbackquery": self.answer_callback_query,
            "sendchataction": self.send_chat_action,
            "setmycommands": self.set_my_commands,
            "getmycommands": self.get_my_commands,
            "deletemycommands": self.delete_my_commands,
            "close": self.return_true,
            "logout": self.return_true,
            "getfile": self.get_file,
            "copymessage": self.copy_message,
            "createforumtopic": self.create_forum_topic,
            "closeforumtopic": self.close_forum_topic,
        }

    async def return_true(self, request: ApiRequest) -> bool:
        return True

    async def get_me(self, request: ApiRequest) -> dict[str, Any]:
        return self.state.bot_user(full=True)

    async def send_message(self, request: ApiRequest) -> dict[str, Any]:
        params = request.params
        text = str(params["text"])
        parse_mode = params.get("parse_mode")
        plain = check_text(text, parse_mode, MAX_TEXT_LENGTH)
        chat_key = self.state.resolve_chat(params["chat_id"])
        self.state.check_reply(chat_key, params)
        placement = self.state.placement(chat_key, params)
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
        return self.state.store_bot_message(chat_key, sent, {**placement, "text": plain})

    async def send_media(self, kind: str, request: ApiRequest) -> dict[str, Any]:
        params = request.params
        caption = params.get("caption")
        plain_caption = None
        if caption is not None:
            plain_caption = check_caption(str(caption), params.get("parse_mode"))
        chat_key = self.state.resolve_chat(params["chat_id"])
        self.state.check_reply(chat_key, params)
        placement = self.state.placement(chat_key, params)
        stored = self.files.media_file(kind, request)
        content: dict[str, Any] = {**placement, kind: self.files.media_object(kind, stored, params)}
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
        return self.state.store_bot_message(chat_key, sent, content)

    async def edit_message_text(self, request: ApiRequest) -> dict[str, Any] | bool:
        params = request.params
        text = str(params["text"])
        parse_mode = params.get("parse_mode")
        plain = check_text(text, parse_mode, MAX_TEXT_LENGTH)
        if "inline_message_id" in params:
            return True
        stored = self.state.message_to_edit(params)
        sent = stored.sent
        assert sent is not None
        markup = params.get("reply_markup")
        if sent.kind != "text":
            raise bad_request("there is no text in the message to edit")
        if (sent.plain_text, sent.reply_markup) == (plain, markup):
            raise not_modified()
        sent.text, sent.plain_text, sent.parse_mode = text, plain, parse_mode
        stored.payload["text"] = plain
        return self.state.apply_edit(stored, markup)

    async def edit_message_reply_markup(self, request: ApiRequest) -> dict[str, Any] | bool:
        params = request.params
        if "inline_message_id" in params:
            return True
        stored = self.state.message_to_edit(params)
        assert stored.sent is not None
        markup = params.get("reply_markup")
        if stored.sent.reply_markup == markup:
            raise not_modified()
        return self.state.apply_edit(stored, markup)

    async def delete_message(self, request: ApiRequest) -> bool:
        chat_key = self.state.resolve_chat(request.params["chat_id"])
        message_id = int(request.params["message_id"])
        if self.state.messages[chat_key].pop(message_id, None) is None:
            raise bad_request("message to delete not found")
        return True

    async def answer_callback_query(self, request: ApiRequest) -> bool:
        params = request.params
        query_id = str(params["callback_query_id"])
        text = params.get("text")
        if text is not None and len(str(text)) > MAX_CALLBACK_ANSWER_LENGTH:
            raise bad_request(
                "MESSAGE_TOO_LONG",
                f"answerCallbackQuery text is {len(str(text))} characters, Telegram accepts 200",
            )
        if query_id not in self.state.open_callbacks:
            raise ApiError(
                400,
                MISSING_DESCRIPTIONS["callback_query_id"],
                f"callback query {query_id!r} was not pushed or was already answered",
            )
        self.state.open_callbacks.discard(query_id)
        return True

    async def send_chat_action(self, request: ApiRequest) -> bool:
        self.state.resolve_chat(request.params["chat_id"])
        if request.params["action"] not in _CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        return True

    async def set_my_commands(self, request: ApiRequest) -> bool:
        key = self.state.commands_key(
            request.params.get("scope"), request.params.get("language_code")
        )
        commands = [dict(command) for command in request.params["commands"]]
        if len(commands) > 100:
            raise bad_request("too many commands")
        if commands:
            self.state.commands[key] = commands
        else:
            self.state.commands.pop(key, None)
        return True

    async def get_my_commands(self, request: ApiRequest) -> list[dict[str, Any]]:
        key = self.state.commands_key(
            request.params.get("scope"), request.params.get("language_code")
        )
        return copy.deepcopy(self.state.commands.get(key, []))

    async def delete_my_commands(self, request: ApiRequest) -> bool:
        key = self.state.commands_key(
            request.params.get("scope"), request.params.get("language_code")
        )
        self.state.commands.pop(key, None)
        return True

    async def copy_message(self, request: ApiRequest) -> dict[str, Any]:
        params = request.params
        source_key = self.state.resolve_chat(params["from_chat_id"])
        original = self.state.messages.get(source_key, {}).get(int(params["message_id"]))
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
            content["caption"] = check_caption(str(params["caption"]), params.get("parse_mode"))
            content.pop("caption_entities", None)
        chat_key = self.state.resolve_chat(params["chat_id"])
        self.state.check_reply(chat_key, params)
        placement = self.state.placement(chat_key, params)
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
        stored = self.state.store_bot_message(chat_key, sent, {**placement, **content})
        return {"message_id": stored["message_id"]}

    async def create_forum_topic(self, request: ApiRequest) -> dict[str, Any]:
        params = request.params
        chat_key = self.state.forum(params["chat_id"], "create a topic")
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
        thread_id = self.state.last_message_id[chat_key] + 1
        topic = ForumTopicState(thread_id, name, icon_color)
        self.state.topics[chat_key][thread_id] = topic
        created: dict[str, Any] = {"name": name, "icon_color": icon_color}
        if "icon_custom_emoji_id" in params:
            created["icon_custom_emoji_id"] = params["icon_custom_emoji_id"]
        self.state.store_service_message(chat_key, thread_id, {"forum_topic_created": created})
        return {"message_thread_id": thread_id, "name": name, "icon_color": icon_color}

    async def close_forum_topic(self, request: ApiRequest) -> bool:
        params = request.params
        chat_key = self.state.forum(params["chat_id"], "close a topic")
        thread_id = int(params["message_thread_id"])
        topic = self.state.topics[chat_key].get(thread_id)
        if topic is None:
            raise bad_request("TOPIC_ID_INVALID", f"no topic {thread_id} in chat {chat_key}")
        if topic.is_closed:
            raise bad_request("TOPIC_NOT_MODIFIED", f"topic {thread_id} is already closed")
        topic.is_closed = True
        self.state.store_service_message(chat_key, thread_id, {"forum_topic_closed": {}})
        return True

    async def get_file(self, request: ApiRequest) -> dict[str, Any]:
        stored = self.files.by_id.get(str(request.params["file_id"]))
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
