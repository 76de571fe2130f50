"""Voice notes: attached by managers from Telegram, sent before or instead of the text,
uploaded once and then reused by file_id; and the per-language command menus."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.content.catalog import REQUIRED_KEYS, Catalog
from bot.content.editing import MessageFile
from bot.content.loader import check_content
from bot.content.store import ContentStore
from bot.content.voice import AttachError, AttachRefusal, attach_voice
from bot.dialogue.decision import Thresholds
from bot.dialogue.engine import COMMANDS, Engine
from bot.dialogue.types import Media
from bot.nlu.service import NluService
from bot.store.db import Database
from tests.fakes.bot_api import FakeBotApi
from tests.support.conversation import onboard, press
from tests.support.nlu import StubParser
from tests.support.telegram import CHAT, polling

#: The first page of an OGG/Opus stream, as Telegram's recorder writes it (header only).
OPUS = (
    b"OggS\x00\x02"
    + bytes(8)
    + b"\x01\x00\x00\x00"
    + bytes(8)
    + b"\x01\x13"
    + b"OpusHead\x01\x01\x38\x01\x80\xbb\x00\x00\x00\x00\x00"
    + b"voice data"
)
ADMIN = 4242


def engine_on(store: ContentStore, database: Database) -> Engine:
    return Engine(
        database=database,
        content=store.current,
        nlu=NluService(StubParser(), store.matcher),
        thresholds=Thresholds(),
    )


def first_card(catalog: Catalog) -> str:
    return catalog.topics["sahara"].cards[0].text


def test_every_refusal_and_command_has_a_text() -> None:
    for refusal in AttachRefusal:
        assert refusal.value in REQUIRED_KEYS
    for name in COMMANDS:
        assert f"command.{name}" in REQUIRED_KEYS


def test_attach_refuses_what_it_cannot_use_and_changes_nothing(content_copy: Path) -> None:
    store = ContentStore(content_copy)
    key = first_card(store.current())
    before = {p: p.read_bytes() for p in content_copy.rglob("*") if p.is_file()}
    cases = [
        ({"key": "no.such.key", "language": "bm", "data": OPUS}, AttachRefusal.UNKNOWN_KEY),
        ({"key": key, "language": "xx", "data": OPUS}, AttachRefusal.UNKNOWN_LANGUAGE),
        ({"key": key, "language": "bm", "data": b"ID3\x03mp3"}, AttachRefusal.NOT_OPUS),
    ]
    untranslated = next(
        (k for k in store.current().keys() if k not in store.current().messages.get("ses", {})),
        None,
    )
    if "ses" in store.current().languages and untranslated is not None:
        cases.append(
            ({"key": untranslated, "language": "ses", "data": OPUS}, AttachRefusal.NO_TEXT)
        )
    for kwargs, refusal in cases:
        with pytest.raises(AttachError) as caught:
            attach_voice(store, **kwargs)  # type: ignore[arg-type]
        assert caught.value.refusal is refusal
    after = {p: p.read_bytes() for p in content_copy.rglob("*") if p.is_file()}
    assert after == before


async def test_an_attached_voice_note_goes_with_its_text(
    content_copy: Path, database: Database
) -> None:
    store = ContentStore(content_copy)
    key = first_card(store.current())
    version = store.current().version
    attached = attach_voice(store, key=key, language="bm", data=OPUS)
    assert attached.path == f"media/bm/{key}.ogg"
    assert (content_copy / attached.path).read_bytes() == OPUS
    assert store.current().version != version
    assert check_content(content_copy) == []
    entry = MessageFile(content_copy, "bm").entry(key)
    assert entry is not None and entry["voice"]["file"] == attached.path

    engine = engine_on(store, database)
    await onboard(engine, "9", "bm")
    card = await engine.handle(press("9", "topic:sahara"))
    assert card.replies[0].media == Media("voice", attached.path, "before")
    assert card.as_json()["replies"][0]["media"]["path"] == attached.path
    # The French text has no recording: no voice note in French.
    await engine.handle(press("9", "lang:fr"))
    assert (await engine.handle(press("9", "topic:sahara"))).replies[0].media is None


def test_a_voice_file_that_is_not_opus_fails_the_check(content_copy: Path) -> None:
    key = "menu.title"
    media = content_copy / "media" / "fr" / "menu.title.ogg"
    media.parent.mkdir(parents=True)
    media.write_bytes(b"RIFF....WAVE")
    messages = MessageFile(content_copy, "fr")
    messages.update(key, voice={"file": "media/fr/menu.title.ogg", "mode": "before"})
    messages.save()
    problems = [str(p) for p in check_content(content_copy)]
    assert len(problems) == 1 and "fr.yml:" in problems[0] and "not OGG/Opus" in problems[0]
    media.unlink()
    assert "not found" in str(check_content(content_copy)[0])


# --- through Telegram ------------------------------------------------------------------------


def voice_requests(fake: FakeBotApi) -> list[Any]:
    return fake.requests_for("sendVoice", chat_id=CHAT)


async def test_voice_notes_are_uploaded_once_then_sent_by_file_id(
    fake: FakeBotApi, content_copy: Path, database: Database
) -> None:
    store = ContentStore(content_copy)
    key = first_card(store.current())
    attach_voice(store, key=key, language="fr", data=OPUS)
    engine = engine_on(store, database)
    async with polling(fake, engine, store):
        fake.push_command(CHAT, "start")
        await fake.wait_for("sendMessage", chat_id=CHAT, count=1)
        fake.push_callback(CHAT, "lang:fr")
        await fake.wait_for("sendMessage", chat_id=CHAT, count=2)
        fake.push_callback(CHAT, "consent:yes")
        await fake.wait_for("sendMessage", chat_id=CHAT, count=4)
        fake.push_callback(CHAT, "sub:no")
        await fake.wait_for("sendMessage", chat_id=CHAT, count=6)
        fake.push_callback(CHAT, "topic:sahara")
        first = await fake.wait_for("sendVoice", chat_id=CHAT, count=1)
        await fake.wait_for("sendMessage", chat_id=CHAT, count=7)
        fake.push_callback(CHAT, "topic:sahara")
        both = await fake.wait_for("sendVoice", chat_id=CHAT, count=2)
        await fake.wait_for("sendMessage", chat_id=CHAT, count=8)
    assert first[0].files["voice"].data == OPUS  # uploaded the first time
    assert "voice" not in both[1].files  # then only its file_id
    uploaded = next(m for m in fake.sent_messages(CHAT) if m.kind == "voice")
    assert both[1].params["voice"] == uploaded.file_id
    texts = [m.params["text"] for m in fake.requests_for("sendMessage", chat_id=CHAT)]
    assert texts[-1] == store.current().text(key, "fr").text


def reply_to(message: dict[str, Any], text: str) -> dict[str, Any]:
    """A text message from the same person, replying to ``message``."""
    return {
        "message_id": message["message_id"] + 1,
        "from": message["from"],
        "chat": message["chat"],
        "date": message["date"],
        "text": text,
        "entities": [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}],
        "reply_to_message": message,
    }


async def test_a_manager_attaches_a_voice_note_from_telegram(
    fake: FakeBotApi, content_copy: Path, database: Database
) -> None:
    store = ContentStore(content_copy)
    key = first_card(store.current())
    engine = engine_on(store, database)
    fake.push_voice(ADMIN, data=OPUS, user_id=ADMIN)
    recording = fake.pending_updates[-1]["message"]
    async with polling(fake, engine, store, ADMIN_TELEGRAM_IDS=str(ADMIN)):
        await fake.wait_for("sendMessage", chat_id=ADMIN, count=1)  # "I can't listen yet"
        fake.push_update({"message": reply_to(recording, "/attach")})
        fake.push_update({"message": reply_to(recording, f"/attach {key} bm")})
        sent = await fake.wait_for("sendMessage", chat_id=ADMIN, count=3)
        # Someone else trying the command gets the ordinary "not understood" reply.
        fake.push_update(
            {
                "message": reply_to(recording, f"/attach {key} fr")
                | {
                    "from": {"id": CHAT, "is_bot": False, "first_name": "U"},
                    "chat": {"id": CHAT, "type": "private", "first_name": "U"},
                }
            }
        )
        other = await fake.wait_for("sendMessage", chat_id=CHAT, count=1)
    catalog = store.current()
    assert sent[1].params["text"] == catalog.text("admin.attach_usage", "fr").text
    assert sent[2].params["text"] == catalog.text("admin.attach_done", "fr").text.format(
        key=key, lang="bm"
    )
    assert (content_copy / f"media/bm/{key}.ogg").read_bytes() == OPUS
    voice = catalog.messages["bm"][key].voice
    assert voice is not None and voice.file == f"media/bm/{key}.ogg"
    assert other[0].params["text"] == catalog.text("clarify.prompt", "fr").text
    assert not (content_copy / f"media/fr/{key}.ogg").exists()

    # The recording is on Telegram already: users get it by its file_id, never re-uploaded.
    async with polling(fake, engine, store):
        fake.push_command(CHAT, "language")
        await fake.wait_for("sendMessage", chat_id=CHAT, count=2)
        fake.push_callback(CHAT, "lang:bm")
        await fake.wait_for("sendMessage", chat_id=CHAT, count=3)
        fake.push_command(CHAT, "menu")
        await fake.wait_for("sendMessage", chat_id=CHAT, count=4)
        fake.push_callback(CHAT, "topic:sahara")
        sent_voice = await fake.wait_for("sendVoice", chat_id=CHAT, count=1)
    assert sent_voice[0].params["voice"] == recording["voice"]["file_id"]
    assert "voice" not in sent_voice[0].files


async def test_command_menus_are_set_per_language(
    fake: FakeBotApi, content_store: ContentStore, database: Database
) -> None:
    engine = engine_on(content_store, database)
    catalog = content_store.current()
    async with polling(fake, engine, content_store):
        await fake.wait_for("setMyCommands", count=1)
        codes = [code for code in catalog.languages if len(code) == 2]
        requests = await fake.wait_for("setMyCommands", count=1 + len(codes))
    assert len(requests) == 1 + len(codes)
    for code in (None, *codes):
        commands = fake.commands(language_code=code or "")
        assert [c["command"] for c in commands] == list(COMMANDS)
        language = code or catalog.default_language
        assert [c["description"] for c in commands] == [
            catalog.text(f"command.{name}", language).text for name in COMMANDS
        ]
