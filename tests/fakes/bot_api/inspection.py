"""What tests read back: the requests the bot made, its messages, topics, commands, timing.

:class:`Inspection` is the part of :class:`FakeBotApi` a test asserts with: waiting for the
bot's requests, reading the messages it sent as they are now, checking deliveries and the
busiest second of a broadcast, and queueing failures for the next request of a method.
"""

from __future__ import annotations

import asyncio
import copy
from collections import Counter, deque
from collections.abc import Mapping
from typing import Any

from tests.fakes.bot_api.files import FileStore
from tests.fakes.bot_api.records import (
    ApiRequest,
    ForumTopicState,
    InjectedFailure,
    RefusedRequest,
    SentMessage,
)
from tests.fakes.bot_api.spec import BotApiSpec
from tests.fakes.bot_api.state import ChatState, same_chat
from tests.fakes.bot_api.updates import UpdateQueue


class Inspection:
    """Test helpers that read what the bot did (mixed into FakeBotApi)."""

    spec: BotApiSpec
    state: ChatState
    files: FileStore
    updates: UpdateQueue
    requests: list[ApiRequest]
    refused: list[RefusedRequest]
    injected: list[RefusedRequest]
    deliveries: Counter[int | str]
    send_times: list[float]
    _activity: asyncio.Event
    _failures: dict[str, deque[InjectedFailure]]

    def forum_topics(self, chat_id: int) -> list[ForumTopicState]:
        """The topics the bot created in ``chat_id``, oldest first."""
        topics = self.state.topics.get(self.state.chat_key(chat_id), {})
        return [copy.copy(topic) for _, topic in sorted(topics.items())]

    def register_file(
        self, data: bytes, *, kind: str = "document", file_id: str | None = None
    ) -> str:
        """Make a file known to the fake (as if a user had sent it); returns its ``file_id``."""
        return self.files.store(kind, data, file_id=file_id).file_id

    @property
    def pending_updates(self) -> list[dict[str, Any]]:
        """Updates queued and not yet confirmed by a ``getUpdates`` offset."""
        return self.updates.pending

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
            and (chat_id is None or same_chat(request.params.get("chat_id"), chat_id))
        ]

    def sent_messages(self, chat_id: int | str) -> list[SentMessage]:
        """Messages the bot sent to ``chat_id``, in order, as they are now (after edits)."""
        stored = self.state.messages.get(self.state.chat_key(chat_id), {})
        return [message.sent for _, message in sorted(stored.items()) if message.sent]

    def message_payload(self, chat_id: int | str, message_id: int) -> dict[str, Any]:
        """A message of ``chat_id`` (sent by the bot or pushed) as the Bot API returns it."""
        stored = self.state.messages.get(self.state.chat_key(chat_id), {}).get(message_id)
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
        return copy.deepcopy(
            self.state.commands.get(self.state.commands_key(scope, language_code), [])
        )

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
