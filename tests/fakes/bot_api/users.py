"""What users do, as tests script it: messages, commands, button presses, voice, groups.

:class:`UserActions` is the part of :class:`FakeBotApi` that builds the Updates Telegram would
send when a user writes to the bot, presses one of its buttons, records a voice note, shares
a location, or posts in a group (a forum topic, a reply thread), and queues them for the bot.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any, Final

from tests.fakes.bot_api.entities import utf16_length
from tests.fakes.bot_api.errors import ApiError
from tests.fakes.bot_api.files import FileStore
from tests.fakes.bot_api.state import ChatState
from tests.fakes.bot_api.updates import UpdateQueue

_COMMAND_RE: Final = re.compile(r"^/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]+)?(?=\s|$)")


class UserActions:
    """Test helpers that queue Updates as if users had acted (mixed into FakeBotApi)."""

    state: ChatState
    files: FileStore
    updates: UpdateQueue

    def push_update(self, update: Mapping[str, Any]) -> int:
        """Queue a raw Update for ``getUpdates``; assigns ``update_id`` when absent."""
        queued = copy.deepcopy(dict(update))
        self.state.remember_update(queued)
        return self.updates.push(queued)

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
        message = self.state.user_message(chat_id, user_id, language_code, first_name)
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
        message = self.state.message_for_callback(chat_id, data, message_id, check_button)
        query_id = str(next(self.state.callback_ids) * 1_000_003 + 7_000_000_000_000)
        user = self.state.user(
            user_id if user_id is not None else self.state.default_user_id(chat_id)
        )
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
        stored = self.files.store("voice", data, file_id=file_id, mime_type=mime_type)
        message = self.state.user_message(chat_id, user_id, "fr", "Test")
        message["voice"] = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "duration": duration,
            "mime_type": mime_type,
            "file_size": len(data),
        }
        return self.push_update({"message": message})

    def push_photo(
        self, chat_id: int, *, caption: str | None = None, user_id: int | None = None
    ) -> int:
        """Queue a photo sent by a user, with a caption when given."""
        stored = self.files.store("photo", b"\xff\xd8\xff" + bytes(61), mime_type="image/jpeg")
        message = self.state.user_message(chat_id, user_id, "fr", "Test")
        message["photo"] = [
            {
                "file_id": stored.file_id,
                "file_unique_id": stored.file_unique_id,
                "width": 90,
                "height": 90,
                "file_size": 64,
            }
        ]
        if caption is not None:
            message["caption"] = caption
        return self.push_update({"message": message})

    def push_sticker(self, chat_id: int, *, user_id: int | None = None) -> int:
        """Queue a sticker sent by a user."""
        stored = self.files.store("sticker", b"RIFF" + bytes(60), mime_type="image/webp")
        message = self.state.user_message(chat_id, user_id, "fr", "Test")
        message["sticker"] = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
        }
        return self.push_update({"message": message})

    def push_contact(
        self, chat_id: int, phone_number: str, first_name: str, *, user_id: int | None = None
    ) -> int:
        """Queue a contact card shared by a user."""
        message = self.state.user_message(chat_id, user_id, "fr", "Test")
        message["contact"] = {"phone_number": phone_number, "first_name": first_name}
        return self.push_update({"message": message})

    def push_location(
        self, chat_id: int, lat: float, lon: float, *, user_id: int | None = None
    ) -> int:
        """Queue a location shared by a user."""
        message = self.state.user_message(chat_id, user_id, "fr", "Test")
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
        self.state.chats[chat_id] = chat
        if can_manage_topics:
            self.state.no_topic_rights.discard(chat_id)
        else:
            self.state.no_topic_rights.add(chat_id)

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
            placement = self.state.placement(chat_id, params)
        except ApiError as error:
            raise ValueError(f"cannot post in chat {chat_id}: {error.reason}") from None
        message = self.state.user_message(chat_id, user_id, "fr", first_name)
        message |= placement
        if text is not None:
            message["text"] = text
            command = _COMMAND_RE.match(text)
            if command:
                length = utf16_length(command.group(0))
                message["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
        else:
            assert voice is not None
            stored = self.files.store("voice", voice)
            message["voice"] = {
                "file_id": stored.file_id,
                "file_unique_id": stored.file_unique_id,
                "duration": 3,
                "mime_type": stored.mime_type,
                "file_size": len(voice),
            }
        return self.push_update({"message": message})
