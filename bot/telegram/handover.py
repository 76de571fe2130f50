"""The human handover relay: a user's private chat <-> the agents' chat, both ways.

Built once with the database, the live catalog and the agents' chat id (``AGENTS_CHAT_ID``)::

    relay = HandoverRelay(database, engine.catalog, settings.agents_chat_id,
                          matcher=content_store.matcher)

API, for the Telegram adapter:

``await relay.open(bot, user_id=..., chat_id=..., language=...)``
    Open a handover for a user (``user_id`` = ``users.id``; ``chat_id`` = their private chat).
    In a forum supergroup the bot creates a topic named with the pseudonym and the language
    code (``u42 \u00b7 bm``) and posts a header in it (``agent.handover_opened``, default
    language); if it cannot (the chat has no topics, or the bot may not manage them) it posts
    the header in the chat and the agents answer in that message's reply thread. The user is
    told ``handover.opened``, or ``handover.already_open`` when one is already open, or
    ``handover.unavailable`` when the agents' chat cannot be reached at all.
``await relay.from_user(update, bot) -> bool``
    For every private message. True when the user has an open handover and the message was
    dealt with: ``/end`` closes it, anything else (text, voice, photo, location...) is copied
    into their topic or thread. An emergency text also gets ``intent.emergency`` first and
    flags the conversation for the agents (``agent.emergency_flag``); words of self-harm
    flag it too (``agent.crisis_flag``). The bot's own commands (``/stop``, ``/forget``,
    ``/help``...) are not relayed: False, and the engine answers them; the relay stays open.
    False otherwise: the caller then passes the update to the dialogue engine.
``await relay.from_agents(update, bot) -> bool``
    For every message of the agents' chat. True when it belongs to an open handover's topic
    or reply thread: ``/end`` closes it, anything else is copied to the user's private chat.
    Messages of the bot itself, service messages (topic created, closed...) and messages
    outside any open handover are left alone (False).

Closing (either side, or the system when the user blocked the bot or the agents closed the
topic by hand) tells the user ``handover.closed`` and the agents ``agent.handover_closed``, and
closes the forum topic. Messages are *copied*, never forwarded: no name, username or Telegram
id of the sender travels either way. The agents see a pseudonym (``u<users.id>``) and the
language. Logs carry pseudonyms and handover ids only, never a message's content.

The bot must be an administrator of the agents' chat (with the right to manage topics for
forum mode), or have privacy mode off, to receive the agents' messages.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection
from datetime import UTC, datetime, timedelta
from typing import Any

from telegram import Bot, Message, ReplyParameters, Update
from telegram.constants import ChatType
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import filters

from bot.content.catalog import Catalog, Fields
from bot.nlu.keywords import SELF_HARM_INTENT, KeywordMatcher
from bot.pseudonyms import pseudonym
from bot.store import handovers
from bot.store.db import Database
from bot.store.handovers import HandoverRecord

logger = logging.getLogger(__name__)

CHANNEL = "telegram"
END_COMMAND = "end"
#: The forum topic's name: a pseudonym and a language code, nothing that identifies anyone.
TOPIC_NAME = "{user} \u00b7 {language}"
#: Message keys the relay uses (all have a French text; Bambara drafts).
HANDOVER_KEYS: tuple[str, ...] = (
    "handover.opened",
    "handover.already_open",
    "handover.closed",
    "handover.unavailable",
    "agent.handover_opened",
    "agent.handover_closed",
    "handover.idle_closed",
    "agent.handover_idle",
    "agent.not_staff",
)
#: Telegram refusals meaning the handover's topic or thread is gone (closed or deleted by hand).
_THREAD_GONE = ("topic_closed", "thread not found", "replied not found", "topic_id_invalid")


def _command(message: Message, bot: Bot) -> str | None:
    """The command of a ``/command`` message, unless it is addressed to another bot."""
    text = message.text
    if text is None or not text.startswith("/"):
        return None
    head = text[1:].split(maxsplit=1)[0] if len(text) > 1 else ""
    name, _, addressee = head.partition("@")
    if addressee and addressee.lower() != (bot.username or "").lower():
        return None
    return name.lower()


def _thread_key(message: Message) -> int | None:
    """The topic (or supergroup reply thread) of a message, or what it replies to."""
    if message.message_thread_id is not None:
        return message.message_thread_id
    if message.reply_to_message is not None:
        return message.reply_to_message.message_id
    return None


def _thread_gone(error: TelegramError) -> bool:
    description = error.message.lower()
    return any(marker in description for marker in _THREAD_GONE)


class HandoverRelay:
    """Relays messages between users with an open handover and the agents' chat."""

    def __init__(
        self,
        database: Database,
        catalog: Callable[[], Catalog],
        agents_chat_id: int,
        matcher: Callable[[], KeywordMatcher] | None = None,
        commands: Collection[str] = (),
        staff: Collection[int] = (),
    ) -> None:
        self.database = database
        self.catalog = catalog
        self.agents_chat_id = agents_chat_id
        self.matcher = matcher
        #: The bot's own commands (/stop, /forget, /help...): they keep working during a
        #: relay, answered by the bot, never copied to the agents.
        self.commands = frozenset(commands) - {END_COMMAND}
        #: The agents who may talk to users (``AGENTS_STAFF_IDS``); anyone else in the
        #: agents' chat is refused.
        self.staff = frozenset(staff)

    # -- texts --------------------------------------------------------------------------------

    def _text(self, key: str, language: str | None, /, **fields: str) -> str:
        text = self.catalog().text(key, language).text
        return text.format_map(Fields(fields)) if fields else text

    def _agent_text(self, key: str, /, **fields: str) -> str:
        catalog = self.catalog()
        return self._text(key, catalog.default_language, **fields)

    def _language_label(self, code: str) -> str:
        language = self.catalog().languages.get(code)
        return f"{language.name} ({code})" if language is not None else code

    # -- opening ------------------------------------------------------------------------------

    async def open(
        self, bot: Bot, *, user_id: int, chat_id: int, language: str, note: str = ""
    ) -> None:
        """Open a handover for ``user_id`` and tell both sides; see the module docstring.
        ``note``: a line for the agents under the header (why the relay was opened)."""
        user = pseudonym(user_id)
        async with self.database.transaction() as session:
            existing = await handovers.open_for_user(session, user_id=user_id)
        if existing is not None:
            logger.info("Handover %s of %s is already open", existing.id, user)
            await bot.send_message(chat_id, self._text("handover.already_open", language))
            return
        header = self._agent_text(
            "agent.handover_opened", user=user, language=self._language_label(language)
        )
        if note:
            header = f"{header}\n\n{note}"
        place = await self._open_thread(bot, user, language, header)
        if place is None:
            await bot.send_message(chat_id, self._text("handover.unavailable", language))
            return
        thread_id, forum = place
        async with self.database.transaction() as session:
            record = await handovers.open_handover(
                session,
                user_id=user_id,
                agent_chat_id=self.agents_chat_id,
                thread_id=thread_id,
                forum=forum,
            )
        if record is None:  # another replica opened one meanwhile: keep that one
            logger.info("Handover of %s opened concurrently; dropping thread %s", user, thread_id)
            if forum:
                await self._close_topic(bot, thread_id)
            await bot.send_message(chat_id, self._text("handover.already_open", language))
            return
        mode = "forum topic" if forum else "reply thread"
        logger.info("Handover %s opened for %s in a %s", record.id, user, mode)
        await bot.send_message(chat_id, self._text("handover.opened", language))

    async def _open_thread(
        self, bot: Bot, user: str, language: str, header: str
    ) -> tuple[int, bool] | None:
        """(thread id, forum?) of a new topic with its header, or of a header message."""
        name = TOPIC_NAME.format(user=user, language=language)
        try:
            topic = await bot.create_forum_topic(self.agents_chat_id, name)
        except (BadRequest, Forbidden) as exc:
            logger.info("No forum topic for %s (%s); using a reply thread", user, exc.message)
        else:
            thread_id = topic.message_thread_id
            try:
                await bot.send_message(self.agents_chat_id, header, message_thread_id=thread_id)
            except TelegramError:
                logger.exception("Could not post the header of %s in its topic", user)
            return thread_id, True
        try:
            message = await bot.send_message(self.agents_chat_id, header)
        except TelegramError:
            logger.exception("The agents' chat is unreachable; no handover for %s", user)
            return None
        return message.message_id, False

    # -- relaying -----------------------------------------------------------------------------

    async def from_user(self, update: Update, bot: Bot) -> bool:
        """Relay a private message of a user in a handover; False when there is none."""
        message = update.message
        sender = update.effective_user
        if message is None or sender is None or sender.is_bot:
            return False
        if message.chat.type != ChatType.PRIVATE:
            return False
        async with self.database.transaction() as session:
            record = await handovers.open_for_external(
                session, channel=CHANNEL, external_id=str(sender.id)
            )
        if record is None:
            return False
        command = _command(message, bot)
        if command == END_COMMAND:
            await self._close(bot, record, closed_by="user")
            return True
        if command in self.commands:
            logger.info("/%s during handover %s: answered by the bot", command, record.id)
            return False
        text = message.text or message.caption
        if text and self.matcher is not None and self.matcher().is_emergency(text):
            logger.info(
                "Emergency words from %s during handover %s", pseudonym(record.user_id), record.id
            )
            await bot.send_message(message.chat_id, self._text("intent.emergency", record.language))
            # The agents see the conversation flagged before the words themselves.
            await bot.send_message(
                self.agents_chat_id,
                self._agent_text("agent.emergency_flag", user=pseudonym(record.user_id)),
                **self._into_thread(record),
            )
        if text and self.matcher is not None and self.matcher().is_crisis(text, SELF_HARM_INTENT):
            # The agents see the conversation flagged before the words themselves.
            logger.info(
                "Self-harm words from %s during handover %s", pseudonym(record.user_id), record.id
            )
            await bot.send_message(
                self.agents_chat_id,
                self._agent_text("agent.crisis_flag", user=pseudonym(record.user_id)),
                **self._into_thread(record),
            )
        try:
            await bot.copy_message(
                self.agents_chat_id,
                message.chat_id,
                message.message_id,
                **self._into_thread(record),
            )
        except BadRequest as exc:
            if not _thread_gone(exc):
                raise
            logger.info("The thread of handover %s is gone (%s)", record.id, exc.message)
            await self._close(bot, record, closed_by="system")
            return True
        await self._touch(record)
        return True

    async def from_agents(self, update: Update, bot: Bot) -> bool:
        """Relay an agent's message in a handover's topic or thread to the user."""
        message = update.message
        if message is None or message.chat.id != self.agents_chat_id:
            return False
        sender = message.from_user
        if sender is None or sender.id == bot.id or filters.StatusUpdate.ALL.check_update(update):
            return False
        key = _thread_key(message)
        if key is None:
            return False
        async with self.database.transaction() as session:
            record = await handovers.open_for_thread(
                session, agent_chat_id=self.agents_chat_id, thread_id=key
            )
        if record is None:
            return False
        if sender.id not in self.staff:
            logger.warning(
                "A message in handover %s refused: its sender is not on AGENTS_STAFF_IDS",
                record.id,
            )
            await bot.send_message(
                self.agents_chat_id,
                self._agent_text("agent.not_staff"),
                **self._into_thread(record),
            )
            return True
        if _command(message, bot) == END_COMMAND:
            await self._close(bot, record, closed_by=f"agent:{sender.id}")
            return True
        try:
            await bot.copy_message(int(record.external_id), message.chat.id, message.message_id)
        except Forbidden:
            logger.info(
                "%s blocked the bot; closing handover %s", pseudonym(record.user_id), record.id
            )
            await self._close(bot, record, closed_by="system", tell_user=False)
            return True
        await self._touch(record)
        return True

    async def _touch(self, record: HandoverRecord) -> None:
        async with self.database.transaction() as session:
            await handovers.touch(session, handover_id=record.id)

    # -- idle relays ----------------------------------------------------------------------------

    async def close_idle(
        self, bot: Bot, *, idle_after: timedelta, now: datetime | None = None
    ) -> int:
        """Close the relays with no message either way for ``idle_after``, telling both
        sides; how many were closed."""
        before = (now or datetime.now(UTC)) - idle_after
        async with self.database.transaction() as session:
            idle = await handovers.idle_since(session, before=before)
        minutes = f"{idle_after.total_seconds() / 60:g}"
        for record in idle:
            await self._close(
                bot,
                record,
                closed_by="system",
                user_key="handover.idle_closed",
                agents_key="agent.handover_idle",
                minutes=minutes,
            )
        return len(idle)

    async def run_idle(self, bot: Bot, *, idle_after: timedelta, every: float) -> None:
        """Close idle relays forever (a task; cancel it to stop)."""
        while True:
            await asyncio.sleep(every)
            try:
                await self.close_idle(bot, idle_after=idle_after)
            except Exception:
                logger.exception("Closing idle relays failed; trying again later")

    def _into_thread(self, record: HandoverRecord) -> dict[str, Any]:
        """Where a message for the agents goes: the topic, or a reply in the header's thread."""
        if record.forum:
            return {"message_thread_id": record.thread_id}
        return {"reply_parameters": ReplyParameters(record.thread_id)}

    # -- closing ------------------------------------------------------------------------------

    async def _close(
        self,
        bot: Bot,
        record: HandoverRecord,
        *,
        closed_by: str,
        tell_user: bool = True,
        user_key: str = "handover.closed",
        agents_key: str = "agent.handover_closed",
        minutes: str = "",
    ) -> None:
        async with self.database.transaction() as session:
            closed = await handovers.close_handover(
                session, handover_id=record.id, closed_by=closed_by
            )
        if not closed:  # the other side closed it a moment ago
            return
        user = pseudonym(record.user_id)
        logger.info("Handover %s of %s closed by %s", record.id, user, closed_by.split(":")[0])
        if tell_user:
            try:
                await bot.send_message(
                    int(record.external_id),
                    self._text(user_key, record.language, minutes=minutes),
                )
            except Forbidden:
                logger.info("%s blocked the bot; not told of the close", user)
        try:
            await bot.send_message(
                self.agents_chat_id,
                self._agent_text(agents_key, user=user, minutes=minutes),
                **self._into_thread(record),
            )
        except TelegramError as exc:
            logger.info("Could not tell the agents handover %s closed (%s)", record.id, exc.message)
        if record.forum:
            await self._close_topic(bot, record.thread_id)

    async def _close_topic(self, bot: Bot, thread_id: int) -> None:
        try:
            await bot.close_forum_topic(self.agents_chat_id, thread_id)
        except TelegramError as exc:  # closed by hand already, or rights withdrawn
            logger.info("Could not close topic %s (%s)", thread_id, exc.message)
