"""The human handover relay, through the real PTB Application against the fake Bot API.

A small application stands in for the bot's: private messages go to the relay first (what it
does not handle is recorded as "passed to the engine"), messages of the agents' chat go to
the relay too. Users are opened a handover directly, as the ask_human screen will do.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from telegram import Update
from telegram.ext import Application, ApplicationBuilder, ContextTypes, MessageHandler, filters

from bot.config import Settings
from bot.content.catalog import Catalog, placeholders
from bot.content.store import ContentStore
from bot.dialogue.engine import COMMANDS
from bot.pseudonyms import pseudonym
from bot.store import handovers
from bot.store import repositories as repo
from bot.store.db import Database
from bot.store.models import Handover
from bot.telegram.handover import HANDOVER_KEYS, HandoverRelay
from tests.fakes.bot_api import FakeBotApi

TOKEN = "123456:TEST"
AGENTS = -1001000000001
OTHER_GROUP = -1001000000002
CHAT = 5550001  # the user's Telegram id and private chat
OTHER_CHAT = 5550002
SYNC_CHAT = 5550099  # never in a handover: its messages always reach the "engine"
AGENT = 777
NAME = "Awa"


@dataclass
class Harness:
    fake: FakeBotApi
    relay: HandoverRelay
    app: Application[Any, Any, Any, Any, Any, Any]
    database: Database
    catalog: Catalog
    #: Private messages the relay did not take (the dialogue engine would get them).
    passed_on: list[str] = field(default_factory=list)
    users: dict[int, int] = field(default_factory=dict)

    @property
    def bot(self) -> Any:
        return self.app.bot

    async def user(self, chat_id: int, language: str = "bm") -> int:
        """The internal id of the user of ``chat_id``, created with a language."""
        if chat_id not in self.users:
            async with self.database.transaction() as session:
                record, _ = await repo.get_or_create_user(
                    session, channel="telegram", external_id=str(chat_id)
                )
                await repo.update_user(session, user_id=record.id, language=language)
            self.users[chat_id] = record.id
        return self.users[chat_id]

    async def open(self, chat_id: int = CHAT, language: str = "bm") -> int:
        user_id = await self.user(chat_id, language)
        await self.relay.open(self.bot, user_id=user_id, chat_id=chat_id, language=language)
        return user_id

    async def sync(self) -> None:
        """Wait until every update pushed so far has been handled (PTB handles them in order)."""
        marker = f"sync-{len(self.passed_on)}"
        self.fake.push_text(SYNC_CHAT, marker)
        for _ in range(500):
            if marker in self.passed_on:
                return
            await asyncio.sleep(0.01)
        raise AssertionError("the application did not handle the updates")

    def texts_to(self, chat_id: int) -> list[str]:
        return [m.plain_text or "" for m in self.fake.sent_messages(chat_id) if m.kind == "text"]

    def t(self, key: str, language: str, /, **fields: str) -> str:
        return self.catalog.text(key, language).text.format(**fields)

    async def rows(self) -> list[Handover]:
        async with self.database.transaction() as session:
            return list(await session.scalars(select(Handover).order_by(Handover.id)))


@asynccontextmanager
async def running(
    fake: FakeBotApi, database: Database, content_store: ContentStore, *, forum: bool = True
) -> AsyncIterator[Harness]:
    fake.add_group(AGENTS, "Agents", is_forum=forum)
    fake.add_group(OTHER_GROUP, "Somewhere else", is_forum=True)
    relay = HandoverRelay(
        database,
        content_store.current,
        AGENTS,
        matcher=content_store.matcher,
        commands=COMMANDS,
        staff={AGENT},
    )
    app = (
        ApplicationBuilder()
        .token(TOKEN)
        .base_url(fake.base_url)
        .base_file_url(fake.base_file_url)
        .build()
    )
    harness = Harness(fake, relay, app, database, content_store.current())

    async def on_private(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if not await relay.from_user(update, context.bot):
            assert update.message is not None
            harness.passed_on.append(update.message.text or "<media>")

    async def on_group(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await relay.from_agents(update, context.bot)

    app.add_handler(
        MessageHandler(filters.ChatType.PRIVATE & ~filters.StatusUpdate.ALL, on_private)
    )
    app.add_handler(MessageHandler(filters.ChatType.GROUPS, on_group))
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0.0, timeout=1)
        try:
            yield harness
        finally:
            await app.updater.stop()
            await app.stop()


def visible_in(fake: FakeBotApi, chat_id: int) -> str:
    """Everything the members of ``chat_id`` can read of the bot's messages there."""
    return json.dumps(
        [fake.message_payload(chat_id, m.message_id) for m in fake.sent_messages(chat_id)],
        ensure_ascii=False,
    )


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG, logger="bot")
    return caplog


def bot_logs(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("bot."))


# -- content and settings ---------------------------------------------------------------------


def test_every_handover_text_exists_in_french_and_bambara(catalog: Catalog) -> None:
    for key in HANDOVER_KEYS:
        assert key in catalog.messages["fr"], key
        assert key in catalog.messages["bm"], key
    assert placeholders(catalog.text("agent.handover_opened", "fr").text) == {"user", "language"}
    assert placeholders(catalog.text("agent.handover_closed", "fr").text) == {"user"}
    assert "/end" in catalog.text("handover.opened", "fr").text
    assert "/end" in catalog.text("agent.handover_opened", "fr").text


def test_agents_chat_id_setting() -> None:
    assert Settings().agents_chat_id is None
    assert Settings(AGENTS_CHAT_ID="").agents_chat_id is None
    with_staff = Settings(AGENTS_CHAT_ID=str(AGENTS), AGENTS_STAFF_IDS=f"{AGENT}, 778")
    assert with_staff.agents_chat_id == AGENTS
    assert with_staff.agents_staff_ids == frozenset({AGENT, 778})
    # The agents' chat is a group, and only named agents talk to users.
    with pytest.raises(ValueError, match="AGENTS_STAFF_IDS must list"):
        Settings(AGENTS_CHAT_ID=str(AGENTS))
    with pytest.raises(ValueError, match="a person's private chat cannot be the agents' chat"):
        Settings(AGENTS_CHAT_ID="123456789", AGENTS_STAFF_IDS=str(AGENT))


# -- store ------------------------------------------------------------------------------------


async def test_store_keeps_one_open_handover_per_user(database: Database) -> None:
    async with database.transaction() as session:
        user, _ = await repo.get_or_create_user(session, channel="telegram", external_id="9")
        first = await handovers.open_handover(
            session, user_id=user.id, agent_chat_id=AGENTS, thread_id=12, forum=True
        )
        assert first is not None and first.forum and first.thread_id == 12
        assert first.external_id == "9" and first.is_open
        assert (
            await handovers.open_handover(
                session, user_id=user.id, agent_chat_id=AGENTS, thread_id=14, forum=True
            )
            is None
        )
        found = await handovers.open_for_thread(session, agent_chat_id=AGENTS, thread_id=12)
        assert found == first
        assert await handovers.open_for_thread(session, agent_chat_id=AGENTS, thread_id=13) is None
        assert await handovers.open_for_thread(session, agent_chat_id=-5, thread_id=12) is None
        assert await handovers.close_handover(session, handover_id=first.id, closed_by="user")
        assert not await handovers.close_handover(session, handover_id=first.id, closed_by="user")
        assert await handovers.open_for_user(session, user_id=user.id) is None
        # A reply thread keeps its header id; the mode is read back from the row.
        second = await handovers.open_handover(
            session, user_id=user.id, agent_chat_id=AGENTS, thread_id=20, forum=False
        )
        assert second is not None and not second.forum and second.thread_id == 20
        by_external = await handovers.open_for_external(
            session, channel="telegram", external_id="9"
        )
        assert by_external == second
        assert (
            await handovers.open_for_thread(session, agent_chat_id=AGENTS, thread_id=20) == second
        )
        closed = await handovers.get_handover(session, handover_id=first.id)
        assert closed is not None and closed.closed_by == "user" and closed.closed_at is not None


# -- forum mode -------------------------------------------------------------------------------


async def test_a_handover_relays_both_ways_and_the_user_ends_it(
    fake: FakeBotApi, database: Database, content_store: ContentStore, logs: Any
) -> None:
    async with running(fake, database, content_store) as h:
        user_id = await h.open()
        [topic] = fake.forum_topics(AGENTS)
        assert topic.name == f"{pseudonym(user_id)} \u00b7 bm"
        header = fake.sent_messages(AGENTS)[0]
        assert header.message_thread_id == topic.message_thread_id
        assert header.plain_text == h.t(
            "agent.handover_opened", "fr", user=pseudonym(user_id), language="Bamanankan (bm)"
        )
        assert h.texts_to(CHAT) == [h.t("handover.opened", "bm")]

        fake.push_text(CHAT, "N mago bɛ dɛmɛ na", first_name=NAME)
        fake.push_voice(CHAT, data=b"OggS-user-voice")
        await fake.wait_for("copyMessage", count=2)
        text_copy, voice_copy = fake.sent_messages(AGENTS)[1:]
        assert (text_copy.kind, text_copy.text) == ("text", "N mago bɛ dɛmɛ na")
        assert voice_copy.kind == "voice"
        assert {text_copy.message_thread_id, voice_copy.message_thread_id} == {
            topic.message_thread_id
        }

        fake.push_group_message(
            AGENTS, "I ni ce, n bɛ yan.", user_id=AGENT, message_thread_id=topic.message_thread_id
        )
        fake.push_group_message(
            AGENTS,
            voice=b"OggS-agent-voice",
            user_id=AGENT,
            reply_to_message_id=voice_copy.message_id,  # a reply in the topic
        )
        await fake.wait_for("copyMessage", count=4)
        to_user = fake.sent_messages(CHAT)
        assert [m.kind for m in to_user] == ["text", "text", "voice"]
        assert to_user[1].text == "I ni ce, n bɛ yan."
        assert all(m.message_thread_id is None for m in to_user)

        fake.push_command(CHAT, "end")
        await fake.wait_for("closeForumTopic", count=1)
        fake.push_text(CHAT, "after the end")
        await h.sync()

    assert h.texts_to(CHAT)[-1] == h.t("handover.closed", "bm")
    assert h.texts_to(AGENTS)[-1] == h.t("agent.handover_closed", "fr", user=pseudonym(user_id))
    assert fake.forum_topics(AGENTS)[0].is_closed
    assert len(fake.requests_for("copyMessage")) == 4  # nothing after the close
    assert "after the end" in h.passed_on  # the dialogue engine has the user back
    [row] = await h.rows()
    assert (row.status, row.closed_by) == ("closed", "user")
    # The agents never see who the user is; the logs never say it either.
    seen = visible_in(fake, AGENTS)
    assert NAME not in seen and str(CHAT) not in seen
    logged = bot_logs(logs)
    assert pseudonym(user_id) in logged
    for secret in (str(CHAT), NAME, "N mago", "I ni ce, n"):
        assert secret not in logged


async def test_an_agent_ends_the_handover(
    fake: FakeBotApi, database: Database, content_store: ContentStore
) -> None:
    async with running(fake, database, content_store) as h:
        user_id = await h.open(language="fr")
        [topic] = fake.forum_topics(AGENTS)
        fake.push_group_message(
            AGENTS,
            "/end@kunnafoni_test_bot",
            user_id=AGENT,
            message_thread_id=topic.message_thread_id,
        )
        await fake.wait_for("closeForumTopic", count=1)
        # A late message in the closed handover's topic goes nowhere.
        fake.push_text(CHAT, "encore là ?")
        await h.sync()

    assert h.texts_to(CHAT) == [h.t("handover.opened", "fr"), h.t("handover.closed", "fr")]
    assert h.texts_to(AGENTS)[-1] == h.t("agent.handover_closed", "fr", user=pseudonym(user_id))
    assert fake.requests_for("copyMessage") == []
    assert h.passed_on[0] == "encore là ?"
    [row] = await h.rows()
    assert (row.status, row.closed_by) == ("closed", f"agent:{AGENT}")


async def test_a_second_open_only_reminds(
    fake: FakeBotApi, database: Database, content_store: ContentStore
) -> None:
    async with running(fake, database, content_store) as h:
        await h.open()
        await h.open()
    assert len(fake.requests_for("createForumTopic")) == 1
    assert h.texts_to(CHAT) == [h.t("handover.opened", "bm"), h.t("handover.already_open", "bm")]
    assert [row.status for row in await h.rows()] == ["open"]


async def test_nothing_leaks_from_other_chats_or_threads(
    fake: FakeBotApi, database: Database, content_store: ContentStore
) -> None:
    async with running(fake, database, content_store) as h:
        await h.open(CHAT)
        other = await h.open(OTHER_CHAT, language="fr")
        mine, theirs = fake.forum_topics(AGENTS)
        stray = await h.bot.create_forum_topic(OTHER_GROUP, "elsewhere")

        # Another group (even a topic with the same number), the agents' General topic,
        # a reply in General to the header: none of it is for the user.
        fake.push_group_message(
            OTHER_GROUP, "not for you", user_id=AGENT, message_thread_id=stray.message_thread_id
        )
        fake.push_group_message(AGENTS, "general chatter", user_id=AGENT)
        fake.push_group_message(AGENTS, "/end", user_id=AGENT)
        # The bot's own messages and service messages in the user's topic are not relayed.
        fake.push_group_message(
            AGENTS, "echo", user_id=fake.bot_id, message_thread_id=mine.message_thread_id
        )
        service = fake.message_payload(AGENTS, mine.message_thread_id)  # "topic created"
        fake.push_update(
            {
                "message": {
                    key: service[key]
                    for key in ("chat", "date", "message_thread_id", "is_topic_message")
                }
                | {
                    "message_id": service["message_id"] + 1000,
                    "from": {"id": AGENT, "is_bot": False, "first_name": "Mariam"},
                    "forum_topic_edited": {"name": "renamed"},
                }
            }
        )
        # The other user's topic reaches the other user only.
        fake.push_group_message(
            AGENTS, "pour l'autre", user_id=AGENT, message_thread_id=theirs.message_thread_id
        )
        await fake.wait_for("copyMessage", count=1)
        await h.sync()

    [copy] = fake.requests_for("copyMessage")
    assert copy.params["chat_id"] == OTHER_CHAT
    assert h.texts_to(CHAT) == [h.t("handover.opened", "bm")]
    assert [row.status for row in await h.rows()] == ["open", "open"]
    assert mine.message_thread_id != theirs.message_thread_id
    assert other != h.users[CHAT]


async def test_emergency_words_get_the_emergency_reply_and_are_still_relayed(
    fake: FakeBotApi, database: Database, content_store: ContentStore
) -> None:
    """The person gets the numbers from the bot at once; the agents see it flagged."""
    catalog = content_store.current()
    keyword = next(
        phrase
        for intent, language, phrase in catalog.keywords()
        if intent == "emergency" and language == "fr"
    )
    async with running(fake, database, content_store) as h:
        user_id = await h.open(language="fr")
        fake.push_text(CHAT, f"je suis en {keyword} ici")
        await fake.wait_for("copyMessage", count=1)
    assert h.texts_to(CHAT) == [h.t("handover.opened", "fr"), h.t("intent.emergency", "fr")]
    flag, words = fake.sent_messages(AGENTS)[-2:]
    template = content_store.current().text("agent.emergency_flag", "fr").text
    assert flag.text == template.format(user=f"u{user_id}")  # flagged before the words
    assert words.text == f"je suis en {keyword} ici"


@pytest.mark.parametrize("name", ["stop", "forget", "help"])
async def test_the_bots_commands_keep_working_during_a_relay(
    fake: FakeBotApi, database: Database, content_store: ContentStore, name: str
) -> None:
    """/stop, /forget and /help during a relay were copied to the agents and did nothing:
    they go to the bot, which answers them, and the relay stays open."""
    async with running(fake, database, content_store) as h:
        await h.open(language="fr")
        fake.push_command(CHAT, name)
        fake.push_text(CHAT, "toujours là")
        await fake.wait_for("copyMessage", count=1)
    assert h.passed_on == [f"/{name}"]
    assert [m.text for m in fake.sent_messages(AGENTS)][-1] == "toujours là"
    assert f"/{name}" not in [m.text for m in fake.sent_messages(AGENTS)]
    [row] = await h.rows()
    assert row.status == "open"


# -- reply-thread mode ------------------------------------------------------------------------


async def test_without_topics_the_agents_answer_in_a_reply_thread(
    fake: FakeBotApi, database: Database, content_store: ContentStore
) -> None:
    async with running(fake, database, content_store, forum=False) as h:
        user_id = await h.open()
        [header] = fake.sent_messages(AGENTS)
        assert header.message_thread_id is None
        assert pseudonym(user_id) in (header.plain_text or "")

        fake.push_text(CHAT, "Allo ?", first_name=NAME)
        fake.push_voice(CHAT)
        await fake.wait_for("copyMessage", count=2)
        text_copy, voice_copy = fake.sent_messages(AGENTS)[1:]
        assert {text_copy.message_thread_id, voice_copy.message_thread_id} == {header.message_id}
        assert voice_copy.kind == "voice"

        # Agents answer the header or any relayed message: the same thread.
        fake.push_group_message(
            AGENTS, "Bonjour, je vous lis.", user_id=AGENT, reply_to_message_id=header.message_id
        )
        fake.push_group_message(
            AGENTS, voice=b"OggS-agent", user_id=AGENT, reply_to_message_id=voice_copy.message_id
        )
        fake.push_group_message(AGENTS, "not a reply", user_id=AGENT)
        await fake.wait_for("copyMessage", count=4)
        fake.push_group_message(
            AGENTS, "/end", user_id=AGENT, reply_to_message_id=text_copy.message_id
        )
        await fake.wait_for("sendMessage", chat_id=CHAT, count=2)
        await h.sync()

    assert [m.kind for m in fake.sent_messages(CHAT)] == ["text", "text", "voice", "text"]
    assert h.texts_to(CHAT)[-1] == h.t("handover.closed", "bm")
    closing = fake.sent_messages(AGENTS)[-1]
    assert closing.plain_text == h.t("agent.handover_closed", "fr", user=pseudonym(user_id))
    assert closing.message_thread_id == header.message_id
    assert fake.requests_for("closeForumTopic") == []
    assert NAME not in visible_in(fake, AGENTS)
    [row] = await h.rows()
    assert (row.status, row.closed_by) == ("closed", f"agent:{AGENT}")
    # Telegram refused the topic, as expected for a chat without topics; nothing else.
    assert [r.method for r in fake.refused] == ["createForumTopic"]
    fake.refused.clear()


async def test_an_unreachable_agents_chat_points_to_the_services(
    fake: FakeBotApi, database: Database, content_store: ContentStore
) -> None:
    async with running(fake, database, content_store, forum=False) as h:
        fake.fail_next(
            "sendMessage",
            error_code=403,
            description="Forbidden: bot was kicked from the supergroup chat",
        )
        await h.open()
        fake.push_text(CHAT, "hello?")
        await h.sync()
    assert h.texts_to(CHAT) == [h.t("handover.unavailable", "bm")]
    assert await h.rows() == []
    assert "hello?" in h.passed_on
    assert [r.method for r in fake.refused] == ["createForumTopic"]
    fake.refused.clear()


async def test_a_topic_closed_by_hand_ends_the_handover(
    fake: FakeBotApi, database: Database, content_store: ContentStore
) -> None:
    async with running(fake, database, content_store) as h:
        await h.open(language="fr")
        [topic] = fake.forum_topics(AGENTS)
        await h.bot.close_forum_topic(AGENTS, topic.message_thread_id)  # as an agent would
        fake.push_text(CHAT, "il y a quelqu'un ?")
        await fake.wait_for("sendMessage", chat_id=CHAT, count=2)
        await h.sync()
    assert h.texts_to(CHAT)[-1] == h.t("handover.closed", "fr")
    [row] = await h.rows()
    assert (row.status, row.closed_by) == ("closed", "system")
    # The copy into the closed topic and the closing note were refused, as Telegram would.
    assert {r.method for r in fake.refused} == {"copyMessage", "sendMessage", "closeForumTopic"}
    fake.refused.clear()


async def test_self_harm_words_flag_the_conversation_for_the_agents(
    fake: FakeBotApi, database: Database, content_store: ContentStore
) -> None:
    async with running(fake, database, content_store) as h:
        user_id = await h.open(language="fr")
        fake.push_text(CHAT, "des fois je veux plus vivre")
        await fake.wait_for("copyMessage", count=1)
    flag, words = fake.sent_messages(AGENTS)[-2:]
    template = content_store.current().text("agent.crisis_flag", "fr").text
    assert flag.text == template.format(user=f"u{user_id}")
    assert words.text == "des fois je veux plus vivre"
    # The person is not sent the emergency block: a person of the team is there.
    assert h.texts_to(CHAT) == [h.t("handover.opened", "fr")]


async def test_an_idle_relay_is_closed_and_both_sides_told(
    fake: FakeBotApi, database: Database, content_store: ContentStore
) -> None:
    """A relay nobody wrote in stayed open for ever: it closes after the idle time, and
    a message in it keeps it open."""
    async with running(fake, database, content_store) as h:
        user_id = await h.open(language="fr")
        fake.push_text(CHAT, "vous etes la ?")
        await fake.wait_for("copyMessage", count=1)
        await h.sync()  # the relay has stored the message's time
        hour = timedelta(hours=1)
        soon = datetime.now(UTC) + timedelta(minutes=59)
        assert await h.relay.close_idle(h.app.bot, idle_after=hour, now=soon) == 0
        later = datetime.now(UTC) + timedelta(minutes=61)
        assert await h.relay.close_idle(h.app.bot, idle_after=hour, now=later) == 1
        assert await h.relay.close_idle(h.app.bot, idle_after=hour, now=later) == 0
        await fake.wait_for("closeForumTopic", count=1)
    assert h.texts_to(CHAT)[-1] == h.t("handover.idle_closed", "fr", minutes="60")
    assert h.texts_to(AGENTS)[-1] == h.t(
        "agent.handover_idle", "fr", user=pseudonym(user_id), minutes="60"
    )
    [row] = await h.rows()
    assert (row.status, row.closed_by) == ("closed", "system")


async def test_only_named_agents_talk_to_the_user(
    fake: FakeBotApi, database: Database, content_store: ContentStore, logs: Any
) -> None:
    """Any member of the agents' chat could talk to any user in a relay: a message from
    someone not on AGENTS_STAFF_IDS is refused (the chat is told why), never copied."""
    async with running(fake, database, content_store) as h:
        await h.open(language="fr")
        [topic] = fake.forum_topics(AGENTS)
        fake.push_group_message(
            AGENTS,
            "je suis un intrus",
            user_id=AGENT + 1,
            message_thread_id=topic.message_thread_id,
        )
        fake.push_group_message(
            AGENTS, "Bonjour, je suis là.", user_id=AGENT, message_thread_id=topic.message_thread_id
        )
        await fake.wait_for("copyMessage", count=1)
        await h.sync()
    to_user = [m.text for m in fake.sent_messages(CHAT)]
    assert "je suis un intrus" not in to_user and "Bonjour, je suis là." in to_user
    assert h.t("agent.not_staff", "fr") in h.texts_to(AGENTS)
    assert str(AGENT + 1) not in bot_logs(logs)
