"""The real python-telegram-bot Application, end to end against the fake Bot API server."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from telegram.error import RetryAfter

from bot.content.catalog import Catalog
from bot.content.store import ContentStore
from bot.dialogue.engine import Engine
from bot.telegram.retry import RetryAfterWaiter
from tests.fakes.bot_api import FakeBotApi
from tests.support.conversation import help_intro
from tests.support.nlu import StubParser
from tests.support.telegram import CHAT, polling


@pytest.fixture
async def running(
    fake: FakeBotApi, engine: Engine, content_store: ContentStore
) -> AsyncIterator[Any]:
    async with polling(fake, engine, content_store) as application:
        yield application


def markup_payloads(markup: dict[str, Any] | None) -> list[str]:
    rows = (markup or {}).get("inline_keyboard", [])
    return [button["callback_data"] for row in rows for button in row]


async def next_message(fake: FakeBotApi, count: int) -> Any:
    sent = await fake.wait_for("sendMessage", chat_id=CHAT, count=count)
    return sent[count - 1]


async def test_conversation_through_telegram(
    running: Any, fake: FakeBotApi, catalog: Catalog, stub_parser: StubParser
) -> None:
    fake.push_command(CHAT, "start", "kayes_radio")
    welcome = await next_message(fake, 1)
    assert welcome.params["text"] == catalog.text("onboarding.welcome", "fr").text
    assert markup_payloads(welcome.params["reply_markup"]) == [
        f"lang:{code}" for code in catalog.languages
    ]

    fake.push_callback(CHAT, "lang:bm")
    consent = await next_message(fake, 2)
    assert consent.params["text"] == catalog.text("onboarding.consent", "bm").text
    await fake.wait_for("answerCallbackQuery", count=1)

    fake.push_callback(CHAT, "consent:yes")
    asked = await fake.wait_for("sendMessage", chat_id=CHAT, count=4)
    assert asked[2].params["text"] == catalog.text("onboarding.consent_thanks", "bm").text
    assert asked[3].params["text"] == catalog.text("subscribe.ask", "bm").text
    assert markup_payloads(asked[3].params["reply_markup"]) == ["sub:yes", "sub:no"]

    fake.push_callback(CHAT, "sub:no")
    menu = await fake.wait_for("sendMessage", chat_id=CHAT, count=6)
    assert menu[4].params["text"] == catalog.text("subscribe.declined", "bm").text
    assert menu[5].params["text"] == catalog.text("menu.title", "bm").text
    assert len(markup_payloads(menu[5].params["reply_markup"])) == len(catalog.menu.items)

    stub_parser.table["i ni ce"] = ("greet", 0.97)
    fake.push_text(CHAT, "i ni ce")
    greeting = await next_message(fake, 7)
    assert greeting.params["text"] == catalog.text("intent.greet", "bm").text

    fake.push_callback(CHAT, "topic:sahara")
    card = await next_message(fake, 8)
    assert "card:sahara:1" in markup_payloads(card.params["reply_markup"])
    assert await fake.wait_for("answerCallbackQuery", count=4)


async def test_mydata_sends_the_summary_then_a_json_file(
    running: Any, fake: FakeBotApi, catalog: Catalog
) -> None:
    fake.push_command(CHAT, "start")
    await next_message(fake, 1)
    fake.push_callback(CHAT, "lang:fr")
    await next_message(fake, 2)
    fake.push_callback(CHAT, "consent:yes")
    await fake.wait_for("sendMessage", chat_id=CHAT, count=4)
    fake.push_command(CHAT, "mydata")
    summary = await next_message(fake, 5)
    assert summary.params["text"].startswith(catalog.text("mydata.intro", "fr").text)
    assert markup_payloads(summary.params["reply_markup"])[0] == "mydata:file"

    fake.push_callback(CHAT, "mydata:file")
    (sent,) = await fake.wait_for("sendDocument", chat_id=CHAT, count=1)
    assert sent.params["caption"] == catalog.text("mydata.file_caption", "fr").text
    assert markup_payloads(sent.params["reply_markup"]) == ["action:show_menu"]
    upload = sent.files["document"]
    assert upload.filename is not None and upload.filename.endswith(".json")
    data = json.loads(upload.data.decode("utf-8"))
    assert data["account"]["id"] == str(CHAT) and data["account"]["channel"] == "telegram"
    assert data["language"] == "fr" and data["consent"]["given"] is True
    # The file was the whole answer: no text message sent beside it.
    assert len(fake.requests_for("sendMessage", chat_id=CHAT)) == 5


async def test_redelivered_update_is_answered_once(
    fake: FakeBotApi, engine: Engine, catalog: Catalog
) -> None:
    # Both copies are queued before the bot polls, as after a crash before confirming.
    update_id = fake.push_command(CHAT, "start")
    copy = dict(fake.pending_updates[-1])
    fake.push_update(copy)
    assert fake.pending_updates[-1]["update_id"] == update_id
    async with polling(fake, engine):
        fake.push_command(CHAT, "help")
        sent = await fake.wait_for("sendMessage", chat_id=CHAT, count=2)
    texts = [m.params["text"] for m in fake.requests_for("sendMessage", chat_id=CHAT)]
    assert texts[0] == catalog.text("onboarding.welcome", "fr").text, sent
    assert texts[1].startswith(help_intro(catalog, "fr"))
    assert "/help : " + catalog.text("command.help", "fr").text in texts[1], sent


async def test_voice_note_gets_the_voice_fallback(
    running: Any, fake: FakeBotApi, catalog: Catalog
) -> None:
    fake.push_voice(CHAT)
    reply = await next_message(fake, 1)
    assert reply.params["text"] == catalog.text("fallback.voice", "fr").text


async def test_group_messages_are_ignored(running: Any, fake: FakeBotApi) -> None:
    group = -100123
    fake.push_update(
        {
            "message": {
                "message_id": 1,
                "date": 1_700_000_000,
                "text": "salut",
                "chat": {"id": group, "type": "supergroup", "title": "g"},
                "from": {"id": 77, "is_bot": False, "first_name": "A"},
            }
        }
    )
    fake.push_command(CHAT, "help")
    await next_message(fake, 1)
    assert fake.requests_for("sendMessage", chat_id=group) == []


class BrokenEngine:
    """An engine whose database is gone."""

    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog

    def catalog(self) -> Catalog:
        return self._catalog

    async def handle(self, _inbound: object) -> None:
        raise RuntimeError("database unavailable")


async def test_failures_reach_the_user_as_a_friendly_message(
    fake: FakeBotApi, catalog: Catalog
) -> None:
    async with polling(fake, BrokenEngine(catalog)):
        fake.push_text(CHAT, "bonjour")
        reply = await next_message(fake, 1)
    assert reply.params["text"] == catalog.text("error.generic", "fr").text
    assert "database" not in reply.params["text"]


async def test_a_reply_refused_with_429_is_sent_after_the_wait(
    running: Any, fake: FakeBotApi, catalog: Catalog
) -> None:
    """During a surge Telegram answers 429 with retry_after: the reply waits that long and
    is sent, instead of the handler failing and the person getting nothing."""
    fake.fail_next(
        "sendMessage", error_code=429, description="Too Many Requests: retry after 1", retry_after=1
    )
    started = time.monotonic()
    fake.push_command(CHAT, "start")
    reply = await next_message(fake, 1)
    assert reply.params["text"] == catalog.text("onboarding.welcome", "fr").text
    assert [r.error_code for r in fake.injected] == [429]
    assert time.monotonic() - started >= 0.9  # it waited retry_after before sending again
    limiter = running.bot.rate_limiter
    assert limiter is not None and limiter.retried == 1


async def test_a_wait_too_long_to_hold_a_conversation_gives_up() -> None:
    waiter = RetryAfterWaiter(max_wait=5)
    calls = 0

    async def refused() -> dict[str, Any]:
        nonlocal calls
        calls += 1
        raise RetryAfter(3600)

    with pytest.raises(RetryAfter):
        await waiter.process_request(refused, (), {}, "sendMessage", {}, None)
    assert calls == 1


async def test_a_photo_captioned_with_a_cry_for_help_gets_the_emergency_answer(
    running: Any, fake: FakeBotApi, catalog: Catalog, stub_parser: StubParser
) -> None:
    """A photo captioned "je vais mourir, aidez moi" got "I cannot read photos": the
    caption is read as the text it is."""
    caption = "je vais mourir, aidez moi"
    stub_parser.table[caption] = ("emergency", 0.93)
    fake.push_photo(CHAT, caption=caption)
    reply = await next_message(fake, 1)
    assert reply.params["text"].startswith(catalog.text("intent.emergency", "fr").text[:40])
    assert reply.params["text"] != catalog.text("fallback.media", "fr").text


@pytest.mark.parametrize("kind", ["voice", "photo", "sticker", "contact"])
async def test_whatever_cannot_be_read_comes_with_the_emergency_button(
    running: Any, fake: FakeBotApi, catalog: Catalog, kind: str
) -> None:
    pushed = {
        "voice": lambda: fake.push_voice(CHAT),
        "photo": lambda: fake.push_photo(CHAT),
        "sticker": lambda: fake.push_sticker(CHAT),
        "contact": lambda: fake.push_contact(CHAT, "+22376000000", "Awa"),
    }
    pushed[kind]()
    reply = await next_message(fake, 1)
    key = "fallback.voice" if kind == "voice" else "fallback.media"
    assert reply.params["text"] == catalog.text(key, "fr").text
    assert markup_payloads(reply.params["reply_markup"])[0] == "intent:emergency"
    pressed = len(fake.requests_for("sendMessage", chat_id=CHAT))
    fake.push_callback(CHAT, "intent:emergency")
    numbers = await next_message(fake, pressed + 1)
    assert numbers.params["text"].startswith(catalog.text("intent.emergency", "fr").text[:40])
