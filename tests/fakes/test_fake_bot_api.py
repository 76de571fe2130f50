"""Tests of the fake Telegram Bot API server used by the bot's tests.

They drive it with the real python-telegram-bot ``Bot`` and ``Application`` (through their
``base_url``) and, for requests PTB itself would never send, with raw httpx calls.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeChat,
    ForceReply,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    MessageId,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    ReplyParameters,
    Update,
)
from telegram.error import BadRequest, Forbidden, RetryAfter
from telegram.ext import ApplicationBuilder, CommandHandler, ContextTypes

from bot.telegram.transport import retry_after_seconds
from tests.fakes import bot_api
from tests.fakes.bot_api import FORUM_ICON_COLORS, SPEC_PATH, FakeBotApi, load_spec

TOKEN = "123:ABC"
CHAT_ID = 4242


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi() as server:
        yield server


@pytest_asyncio.fixture
async def bot(fake: FakeBotApi) -> AsyncIterator[Bot]:
    async with Bot(token=TOKEN, base_url=fake.base_url, base_file_url=fake.base_file_url) as bot:
        yield bot


@pytest_asyncio.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


async def call(
    http: httpx.AsyncClient, fake: FakeBotApi, method: str, **kwargs: Any
) -> tuple[int, dict[str, Any]]:
    response = await http.post(f"{fake.base_url}{TOKEN}/{method}", **kwargs)
    return response.status_code, response.json()


def keyboard(callback_data: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton("Oui", callback_data=callback_data)]])


# -- the spec and the server ------------------------------------------------------------------


def test_spec_is_the_vendored_copy_next_to_the_package() -> None:
    assert SPEC_PATH.is_file()
    assert SPEC_PATH.parent.name == "telegram_bot_api"
    assert (SPEC_PATH.parent / "LICENSE").is_file()
    spec = load_spec()
    assert spec.version.startswith("Bot API")
    assert spec.method("sendmessage") is spec.method("sendMessage")
    assert spec.types["BotCommandScopeChat"].constants == {"type": "chat"}


def test_the_fake_is_split_into_modules_of_at_most_400_lines() -> None:
    package = Path(bot_api.__file__).parent
    sizes = {
        path.name: len(path.read_text(encoding="utf-8").splitlines())
        for path in package.glob("*.py")
    }
    assert {"spec.py", "validation.py", "limits.py", "server.py", "state.py"} <= set(sizes)
    assert {name: size for name, size in sizes.items() if size > 400} == {}


@pytest.mark.asyncio
async def test_urls_point_to_loopback(fake: FakeBotApi) -> None:
    assert fake.root_url.startswith("http://127.0.0.1:")
    assert fake.base_url == f"{fake.root_url}/bot"
    assert fake.base_file_url == f"{fake.root_url}/file/bot"


@pytest.mark.asyncio
async def test_explicit_start_and_stop() -> None:
    server = FakeBotApi()
    await server.start()
    try:
        async with httpx.AsyncClient() as client:
            response = await client.get(f"{server.base_url}{TOKEN}/getMe")
        assert response.json()["result"]["is_bot"] is True
    finally:
        await server.stop()


# -- accepted requests ------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_get_me_and_send_message_with_inline_keyboard(fake: FakeBotApi, bot: Bot) -> None:
    assert bot.username == "kunnafoni_test_bot"

    message = await bot.send_message(CHAT_ID, "Bienvenue !", reply_markup=keyboard("menu:1"))

    assert message.message_id == 1
    assert message.chat.id == CHAT_ID
    assert message.text == "Bienvenue !"
    assert message.reply_markup == keyboard("menu:1")
    [request] = fake.requests_for("sendMessage")
    assert request.params["chat_id"] == CHAT_ID
    assert request.params["reply_markup"] == {
        "inline_keyboard": [[{"text": "Oui", "callback_data": "menu:1"}]]
    }
    [sent] = fake.sent_messages(CHAT_ID)
    assert (sent.text, sent.reply_markup) == ("Bienvenue !", request.params["reply_markup"])
    assert [r.method for r in fake.requests] == ["getMe", "sendMessage"]
    assert fake.refused == []


@pytest.mark.asyncio
async def test_message_ids_increase_per_chat(fake: FakeBotApi, bot: Bot) -> None:
    first = await bot.send_message(CHAT_ID, "un")
    fake.push_text(CHAT_ID, "deux")
    third = await bot.send_message(CHAT_ID, "trois")
    other = await bot.send_message(CHAT_ID + 1, "ailleurs")

    assert (first.message_id, third.message_id, other.message_id) == (1, 3, 1)


@pytest.mark.asyncio
async def test_json_form_and_multipart_bodies_are_all_accepted(
    fake: FakeBotApi, http: httpx.AsyncClient
) -> None:
    markup = {"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]}
    bodies: list[dict[str, Any]] = [
        {"json": {"chat_id": CHAT_ID, "text": "json", "reply_markup": markup}},
        {"data": {"chat_id": str(CHAT_ID), "text": "form", "reply_markup": json.dumps(markup)}},
        {
            "data": {"chat_id": str(CHAT_ID), "text": "multipart"},
            "files": {"unused": ("a.txt", b"x")},
        },
    ]
    status, body = await call(http, fake, "sendMessage", **bodies[0])
    assert (status, body["ok"]) == (200, True)
    status, body = await call(http, fake, "sendMessage", **bodies[1])
    assert (status, body["ok"]) == (200, True)
    # A file part that no parameter uses is refused, the rest of the multipart body is parsed.
    status, body = await call(http, fake, "sendMessage", **bodies[2])
    assert (status, body["description"]) == (400, 'Bad Request: unknown parameter "unused"')

    requests = fake.requests_for("sendMessage", chat_id=CHAT_ID)
    assert [r.params["reply_markup"] for r in requests] == [markup, markup]


@pytest.mark.asyncio
async def test_get_request_with_query_string(fake: FakeBotApi, http: httpx.AsyncClient) -> None:
    response = await http.get(
        f"{fake.base_url}{TOKEN}/sendMessage", params={"chat_id": CHAT_ID, "text": "via GET"}
    )
    assert response.json()["result"]["text"] == "via GET"


# -- refusals ---------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_unknown_method_is_404(fake: FakeBotApi, http: httpx.AsyncClient) -> None:
    status, body = await call(http, fake, "sendTelepathy", json={"chat_id": CHAT_ID})

    assert status == 404
    assert body == {"ok": False, "error_code": 404, "description": "Not Found"}
    assert [(r.method, r.error_code) for r in fake.refused] == [("sendTelepathy", 404)]


@pytest.mark.asyncio
async def test_malformed_token_is_404_and_wrong_token_401(http: httpx.AsyncClient) -> None:
    async with FakeBotApi(token=TOKEN) as server:
        malformed = await http.post(f"{server.base_url}not-a-token/getMe")
        wrong = await http.post(f"{server.base_url}999:XYZ/getMe")
    assert (malformed.status_code, malformed.json()["description"]) == (404, "Not Found")
    assert (wrong.status_code, wrong.json()["description"]) == (401, "Unauthorized")


@pytest.mark.asyncio
async def test_unknown_parameter_is_refused(fake: FakeBotApi, http: httpx.AsyncClient) -> None:
    status, body = await call(
        http, fake, "sendMessage", json={"chat_id": CHAT_ID, "text": "x", "colour": "red"}
    )

    assert status == 400
    assert body == {
        "ok": False,
        "error_code": 400,
        "description": 'Bad Request: unknown parameter "colour"',
    }
    [refused] = fake.refused
    assert (refused.method, refused.params["colour"]) == ("sendMessage", "red")
    assert "colour" in refused.reason


@pytest.mark.asyncio
async def test_missing_chat_id_is_refused(fake: FakeBotApi, http: httpx.AsyncClient) -> None:
    status, body = await call(http, fake, "sendMessage", json={"text": "x"})

    assert (status, body["description"]) == (400, "Bad Request: chat_id is empty")
    assert fake.refused[0].reason == "required parameter 'chat_id' of sendMessage is missing"
    assert fake.requests_for("sendMessage") == []


@pytest.mark.asyncio
async def test_missing_required_parameter_of_other_methods(
    fake: FakeBotApi, http: httpx.AsyncClient
) -> None:
    status, body = await call(http, fake, "sendVoice", json={"chat_id": CHAT_ID})
    assert (status, body["description"]) == (400, "Bad Request: there is no voice in the request")
    status, body = await call(http, fake, "sendChatAction", json={"chat_id": CHAT_ID})
    assert (status, body["description"]) == (400, 'Bad Request: parameter "action" is required')


@pytest.mark.asyncio
async def test_text_of_4097_characters_is_too_long(fake: FakeBotApi, bot: Bot) -> None:
    await bot.send_message(CHAT_ID, "é" * 4096)

    with pytest.raises(BadRequest, match="Message is too long"):
        await bot.send_message(CHAT_ID, "é" * 4097)

    assert [r.description for r in fake.refused] == ["Bad Request: message is too long"]


@pytest.mark.asyncio
async def test_empty_text_is_refused(fake: FakeBotApi, bot: Bot) -> None:
    with pytest.raises(BadRequest, match="Message text is empty"):
        await bot.send_message(CHAT_ID, "")
    with pytest.raises(BadRequest, match="Message text is empty"):
        await bot.send_message(CHAT_ID, "<b> </b>", parse_mode="HTML")

    assert {r.description for r in fake.refused} == {"Bad Request: message text is empty"}


@pytest.mark.asyncio
async def test_callback_data_of_65_bytes_is_refused(fake: FakeBotApi, bot: Bot) -> None:
    await bot.send_message(CHAT_ID, "ok", reply_markup=keyboard("é" * 32))  # 64 bytes

    with pytest.raises(BadRequest, match="Button_data_invalid"):
        await bot.send_message(CHAT_ID, "trop", reply_markup=keyboard("é" * 32 + "x"))

    [refused] = fake.refused
    assert refused.description == "Bad Request: BUTTON_DATA_INVALID"
    assert "reply_markup.inline_keyboard[0][0].callback_data is 65 bytes" in refused.reason


@pytest.mark.asyncio
async def test_empty_callback_data_is_refused(fake: FakeBotApi, http: httpx.AsyncClient) -> None:
    markup = {"inline_keyboard": [[{"text": "A", "callback_data": ""}]]}
    status, body = await call(
        http, fake, "sendMessage", json={"chat_id": CHAT_ID, "text": "x", "reply_markup": markup}
    )
    assert (status, body["description"]) == (400, "Bad Request: BUTTON_DATA_INVALID")


@pytest.mark.asyncio
async def test_wrong_scalar_types_are_refused(fake: FakeBotApi, http: httpx.AsyncClient) -> None:
    status, body = await call(
        http,
        fake,
        "sendMessage",
        data={"chat_id": str(CHAT_ID), "text": "x", "message_thread_id": "douze"},
    )
    assert (status, body["description"]) == (
        400,
        'Bad Request: field "message_thread_id" must be of type Number',
    )
    status, body = await call(
        http,
        fake,
        "sendMessage",
        json={"chat_id": CHAT_ID, "text": "x", "disable_notification": "perhaps"},
    )
    assert (status, body["description"]) == (
        400,
        'Bad Request: field "disable_notification" must be of type Boolean',
    )
    assert len(fake.refused) == 2


@pytest.mark.asyncio
async def test_integer_or_string_and_booleans_as_form_strings_are_accepted(
    fake: FakeBotApi, http: httpx.AsyncClient
) -> None:
    for chat_id in (str(CHAT_ID), "@kunnafoni_channel"):
        status, _ = await call(
            http,
            fake,
            "sendMessage",
            data={"chat_id": chat_id, "text": "x", "disable_notification": "true"},
        )
        assert status == 200
    first, second = fake.requests_for("sendMessage")
    assert first.params == {"chat_id": CHAT_ID, "text": "x", "disable_notification": True}
    assert second.params["chat_id"] == "@kunnafoni_channel"


@pytest.mark.asyncio
async def test_wrong_type_inside_reply_markup_is_refused(
    fake: FakeBotApi, http: httpx.AsyncClient
) -> None:
    markup = {"inline_keyboard": [[{"text": "A", "callback_data": 5}]]}
    status, body = await call(
        http, fake, "sendMessage", json={"chat_id": CHAT_ID, "text": "x", "reply_markup": markup}
    )
    assert (status, body["description"]) == (
        400,
        'Bad Request: can\'t parse inline keyboard button: Field "callback_data" must be of '
        "type String",
    )
    status, body = await call(
        http,
        fake,
        "sendMessage",
        json={"chat_id": CHAT_ID, "text": "x", "reply_markup": {"inline_keyboard": "A"}},
    )
    assert (status, body["description"]) == (
        400,
        'Bad Request: field "inline_keyboard" must be of type Array',
    )


@pytest.mark.asyncio
async def test_unknown_field_inside_reply_markup_is_refused(
    fake: FakeBotApi, http: httpx.AsyncClient
) -> None:
    markup = {"inline_keyboard": [[{"text": "A", "callback_data": "a", "colour": "red"}]]}
    status, body = await call(
        http, fake, "sendMessage", json={"chat_id": CHAT_ID, "text": "x", "reply_markup": markup}
    )

    assert status == 400
    assert body["description"] == (
        'Bad Request: can\'t parse inline keyboard button: Unknown field "colour"'
    )
    [refused] = fake.refused
    assert refused.reason == 'reply_markup.inline_keyboard[0][0].colour: Unknown field "colour"'


@pytest.mark.asyncio
async def test_malformed_reply_markup_json_and_buttons_without_action(
    fake: FakeBotApi, http: httpx.AsyncClient
) -> None:
    status, body = await call(
        http, fake, "sendMessage", data={"chat_id": "1", "text": "x", "reply_markup": "{oops"}
    )
    assert (status, body["description"]) == (
        400,
        "Bad Request: can't parse reply keyboard markup JSON object",
    )
    markup = {"inline_keyboard": [[{"text": "A"}]]}
    status, body = await call(
        http, fake, "sendMessage", json={"chat_id": 1, "text": "x", "reply_markup": markup}
    )
    assert body["description"] == (
        "Bad Request: can't parse inline keyboard button: "
        "Text buttons are unallowed in the inline keyboard"
    )


@pytest.mark.asyncio
async def test_reply_markup_union_accepts_each_keyboard_kind(fake: FakeBotApi, bot: Bot) -> None:
    messages = [
        await bot.send_message(
            CHAT_ID, "a", reply_markup=ReplyKeyboardMarkup([[KeyboardButton("Oui"), "Non"]])
        ),
        await bot.send_message(CHAT_ID, "b", reply_markup=ReplyKeyboardRemove()),
        await bot.send_message(CHAT_ID, "c", reply_markup=ForceReply()),
    ]

    assert fake.refused == []
    # Only inline keyboards are part of the Message object Telegram returns.
    assert [message.reply_markup for message in messages] == [None, None, None]
    assert fake.sent_messages(CHAT_ID)[1].reply_markup == {"remove_keyboard": True}


@pytest.mark.asyncio
async def test_entities_are_validated_recursively(
    fake: FakeBotApi, http: httpx.AsyncClient
) -> None:
    entities = [{"type": "bold", "offset": 0}]
    status, body = await call(
        http, fake, "sendMessage", json={"chat_id": 1, "text": "x", "entities": entities}
    )
    assert (status, body["description"]) == (
        400,
        "Bad Request: can't parse MessageEntity: Can't find field \"length\"",
    )


@pytest.mark.asyncio
async def test_parse_mode_markup_is_checked(fake: FakeBotApi, bot: Bot) -> None:
    sent = await bot.send_message(CHAT_ID, "<b>Salut</b> &amp; à bientôt", parse_mode="HTML")
    assert sent.text == "Salut & à bientôt"
    await bot.send_message(CHAT_ID, "*Attention* \\- lisez bien\\.", parse_mode="MarkdownV2")

    with pytest.raises(BadRequest, match="Can't parse entities"):
        await bot.send_message(CHAT_ID, "<b>Salut", parse_mode="HTML")
    with pytest.raises(BadRequest, match="reserved"):
        await bot.send_message(CHAT_ID, "Fin.", parse_mode="MarkdownV2")
    with pytest.raises(BadRequest, match="Unsupported parse_mode"):
        await bot.send_message(CHAT_ID, "x", parse_mode="Textile")

    assert [r.description for r in fake.refused] == [
        "Bad Request: can't parse entities: Can't find end tag corresponding to start tag \"b\"",
        "Bad Request: can't parse entities: Character '.' is reserved and must be escaped "
        "with the preceding '\\'",
        "Bad Request: unsupported parse_mode",
    ]
    [html_message, _] = fake.sent_messages(CHAT_ID)
    assert (html_message.text, html_message.plain_text) == (
        "<b>Salut</b> &amp; à bientôt",
        "Salut & à bientôt",
    )


@pytest.mark.asyncio
async def test_caption_and_callback_answer_limits(fake: FakeBotApi, bot: Bot) -> None:
    with pytest.raises(BadRequest, match="Message caption is too long"):
        await bot.send_voice(CHAT_ID, b"OggS", caption="x" * 1025)

    user = {"id": 1, "is_bot": False, "first_name": "Awa"}
    fake.push_update(
        {"callback_query": {"id": "77", "from": user, "chat_instance": "1", "data": "d"}}
    )
    with pytest.raises(BadRequest, match="Message_too_long"):
        await bot.answer_callback_query("77", text="x" * 201)
    assert await bot.answer_callback_query("77", text="x" * 200) is True
    with pytest.raises(BadRequest, match="Query is too old"):
        await bot.answer_callback_query("77")

    assert [r.description for r in fake.refused] == [
        "Bad Request: message caption is too long",
        "Bad Request: MESSAGE_TOO_LONG",
        "Bad Request: query is too old and response timeout expired or query ID is invalid",
    ]


@pytest.mark.asyncio
async def test_bot_command_scopes_accept_any_matching_subtype(
    fake: FakeBotApi, bot: Bot, http: httpx.AsyncClient
) -> None:
    commands = [BotCommand("start", "Commencer"), BotCommand("aide", "Obtenir de l'aide")]
    await bot.set_my_commands(commands, scope=BotCommandScopeChat(CHAT_ID), language_code="fr")
    await bot.set_my_commands([BotCommand("start", "Start")])

    assert await bot.get_my_commands(scope=BotCommandScopeChat(CHAT_ID), language_code="fr") == (
        tuple(commands)
    )
    assert await bot.get_my_commands() == (BotCommand("start", "Start"),)
    assert await bot.get_my_commands(language_code="bm") == ()
    assert await bot.delete_my_commands() is True
    assert await bot.get_my_commands() == ()
    assert fake.commands(scope={"type": "chat", "chat_id": CHAT_ID}, language_code="fr") == [
        command.to_dict() for command in commands
    ]

    status, body = await call(http, fake, "getMyCommands", json={"scope": {"type": "galaxy"}})
    assert (status, body["description"]) == (
        400,
        'Bad Request: can\'t parse BotCommandScope: Unsupported type "galaxy"',
    )
    status, body = await call(http, fake, "getMyCommands", json={"scope": {"type": "chat"}})
    assert (status, body["description"]) == (
        400,
        "Bad Request: can't parse BotCommandScopeChat: Can't find field \"chat_id\"",
    )
    with pytest.raises(BadRequest, match="Invalid command name specified"):
        await bot.set_my_commands([BotCommand("Start", "x")])


@pytest.mark.asyncio
async def test_unimplemented_methods(fake: FakeBotApi, http: httpx.AsyncClient) -> None:
    status, body = await call(http, fake, "banChatMember", json={"chat_id": -100, "user_id": 5})
    assert (status, body) == (200, {"ok": True, "result": True})

    status, body = await call(http, fake, "getChat", json={"chat_id": CHAT_ID})
    assert status == 501
    assert body["description"] == "Not Implemented: the fake Bot API does not implement getChat"
    assert [r.method for r in fake.refused] == ["getChat"]


# -- edits ------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_edits_need_an_existing_changed_message(fake: FakeBotApi, bot: Bot) -> None:
    message = await bot.send_message(CHAT_ID, "Question ?", reply_markup=keyboard("q:1"))

    edited = await bot.edit_message_text(
        "Question ? (répondue)", chat_id=CHAT_ID, message_id=message.message_id
    )
    assert isinstance(edited, type(message))
    assert edited.text == "Question ? (répondue)"
    assert edited.reply_markup is None  # editing without reply_markup removes the keyboard
    await bot.edit_message_reply_markup(CHAT_ID, message.message_id, reply_markup=keyboard("q:2"))

    with pytest.raises(BadRequest, match="Message to edit not found"):
        await bot.edit_message_text("x", chat_id=CHAT_ID, message_id=99)
    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_reply_markup(
            CHAT_ID, message.message_id, reply_markup=keyboard("q:2")
        )

    [sent] = fake.sent_messages(CHAT_ID)
    assert (sent.text, sent.edited) == ("Question ? (répondue)", True)
    assert sent.reply_markup == keyboard("q:2").to_dict()
    assert len(fake.refused) == 2


# -- files ------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_send_voice_upload_returns_a_new_file_id(fake: FakeBotApi, bot: Bot) -> None:
    audio = b"OggS\x00\x02" + bytes(200)

    first = await bot.send_voice(CHAT_ID, audio, duration=4, caption="Écoutez")
    second = await bot.send_voice(CHAT_ID, audio)

    assert first.voice is not None and second.voice is not None
    assert first.voice.file_id != second.voice.file_id
    assert first.voice.file_size == len(audio)
    assert first.caption == "Écoutez"
    [request, _] = fake.requests_for("sendVoice")
    assert request.files["voice"].data == audio
    file = await bot.get_file(first.voice.file_id)
    assert bytes(await file.download_as_bytearray()) == audio

    again = await bot.send_voice(CHAT_ID, first.voice.file_id)
    assert again.voice is not None and again.voice.file_id == first.voice.file_id
    with pytest.raises(BadRequest, match="Wrong file identifier"):
        await bot.send_voice(CHAT_ID, "made-up-file-id")
    assert [s.kind for s in fake.sent_messages(CHAT_ID)] == ["voice"] * 3


@pytest.mark.asyncio
async def test_send_audio_and_photo(fake: FakeBotApi, bot: Bot) -> None:
    audio = await bot.send_audio(CHAT_ID, b"ID3" + bytes(50), title="Témoignage")
    photo = await bot.send_photo(CHAT_ID, "https://example.org/affiche.jpg", caption="Affiche")

    assert audio.audio is not None and audio.audio.title == "Témoignage"
    assert len(photo.photo) == 2
    assert photo.caption == "Affiche"
    assert fake.refused == []


@pytest.mark.asyncio
async def test_pushed_voice_can_be_downloaded(fake: FakeBotApi, bot: Bot) -> None:
    fake.push_voice(CHAT_ID, duration=7, data=b"OggS-voice-note")

    [update] = await bot.get_updates()
    assert update.message is not None and update.message.voice is not None
    assert update.message.voice.to_dict()["duration"] == 7
    file = await update.message.voice.get_file()
    assert bytes(await file.download_as_bytearray()) == b"OggS-voice-note"


# -- updates ----------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_get_updates_long_poll_returns_a_pushed_update(fake: FakeBotApi, bot: Bot) -> None:
    started = time.monotonic()
    poll = asyncio.create_task(bot.get_updates(timeout=10))
    await asyncio.sleep(0.2)
    assert not poll.done()

    update_id = fake.push_text(CHAT_ID, "Bonjour", first_name="Awa")
    [update] = await asyncio.wait_for(poll, 5)

    assert time.monotonic() - started < 5
    assert update.update_id == update_id
    assert update.message is not None and update.message.text == "Bonjour"
    assert update.message.from_user is not None
    assert update.message.from_user.language_code == "fr"


@pytest.mark.asyncio
async def test_get_updates_honours_offset_limit_and_timeout(fake: FakeBotApi, bot: Bot) -> None:
    ids = [fake.push_text(CHAT_ID, f"message {n}") for n in range(3)]

    assert [u.update_id for u in await bot.get_updates(limit=2)] == ids[:2]
    assert [u.update_id for u in await bot.get_updates(offset=ids[1])] == ids[1:]
    assert [u.update_id for u in await bot.get_updates()] == ids[1:]  # ids[0] was confirmed
    started = time.monotonic()
    assert await bot.get_updates(offset=ids[2] + 1, timeout=1) == ()
    assert 0.9 < time.monotonic() - started < 4
    assert fake.pending_updates == []


@pytest.mark.asyncio
async def test_webhook_methods(fake: FakeBotApi, bot: Bot) -> None:
    assert (await bot.get_webhook_info()).url == ""
    assert await bot.set_webhook("https://bot.example.org/hook") is True
    assert (await bot.get_webhook_info()).url == "https://bot.example.org/hook"
    with pytest.raises(BadRequest, match=r"(?i)an https url must be provided"):
        await bot.set_webhook("http://bot.example.org/hook")
    fake.push_text(CHAT_ID, "perdu")
    assert await bot.delete_webhook(drop_pending_updates=True) is True
    assert await bot.get_updates() == ()


@pytest.mark.asyncio
async def test_push_helpers_build_what_handlers_expect(fake: FakeBotApi, bot: Bot) -> None:
    sent = await bot.send_message(CHAT_ID, "Choisissez", reply_markup=keyboard("lang:bm"))
    fake.push_command(CHAT_ID, "start", "campagne")
    fake.push_callback(CHAT_ID, "lang:bm")
    fake.push_location(CHAT_ID, 12.65, -8.0)

    command, callback, location = await bot.get_updates()

    assert command.message is not None and command.message.text == "/start campagne"
    assert command.message.parse_entities() == {command.message.entities[0]: "/start"}
    assert callback.callback_query is not None
    assert callback.callback_query.data == "lang:bm"
    assert callback.callback_query.message is not None
    assert callback.callback_query.message.message_id == sent.message_id
    assert location.message is not None and location.message.location is not None
    assert location.message.location.latitude == 12.65
    assert await bot.answer_callback_query(callback.callback_query.id) is True
    with pytest.raises(ValueError, match="no message with a button"):
        fake.push_callback(CHAT_ID, "lang:xx")


# -- injected failures ------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_fail_next_429_raises_retry_after(fake: FakeBotApi, bot: Bot) -> None:
    fake.fail_next(
        "sendMessage",
        error_code=429,
        description="Too Many Requests: retry after 7",
        retry_after=7,
    )

    with pytest.raises(RetryAfter) as raised:
        await bot.send_message(CHAT_ID, "x")
    # the bot opts in to timedelta periods (bot/__init__.py); seconds either way
    assert retry_after_seconds(raised.value) == 7.0
    assert str(raised.value).startswith("Flood control exceeded. Retry in ")

    await bot.send_message(CHAT_ID, "x")  # only the next request fails
    assert [r.error_code for r in fake.injected] == [429]
    assert fake.refused == []
    assert len(fake.requests_for("sendMessage")) == 1


@pytest.mark.asyncio
async def test_fail_next_403_raises_forbidden(fake: FakeBotApi, bot: Bot) -> None:
    fake.fail_next(
        "sendMessage", error_code=403, description="Forbidden: bot was blocked by the user"
    )

    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(CHAT_ID, "x")
    with pytest.raises(ValueError, match="not a Bot API"):
        fake.fail_next("sendPigeon", error_code=400, description="x")


# -- waiting ----------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_wait_for_times_out_with_a_clear_message(fake: FakeBotApi, bot: Bot) -> None:
    await bot.send_message(CHAT_ID, "un")

    assert len(await fake.wait_for("sendMessage", chat_id=CHAT_ID)) == 1
    with pytest.raises(AssertionError, match=r"waiting for 2 sendMessage request\(s\)"):
        await fake.wait_for("sendMessage", count=2, timeout=0.2)


# -- a whole PTB application ------------------------------------------------------------------


@pytest.mark.asyncio
async def test_application_polling_answers_start(fake: FakeBotApi) -> None:
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text(
            f"Bienvenue ! ({' '.join(context.args or [])})", reply_markup=keyboard("menu")
        )

    application = (
        ApplicationBuilder()
        .token(TOKEN)
        .base_url(fake.base_url)
        .base_file_url(fake.base_file_url)
        .build()
    )
    application.add_handler(CommandHandler("start", start))

    async with application:
        await application.start()
        assert application.updater is not None
        await application.updater.start_polling(poll_interval=0, timeout=2)

        fake.push_command(CHAT_ID, "start", "mali")
        [reply] = await fake.wait_for("sendMessage", chat_id=CHAT_ID, timeout=10)

        started = time.monotonic()
        await application.updater.stop()
        await application.stop()
    assert time.monotonic() - started < 5

    assert reply.params["text"] == "Bienvenue ! (mali)"
    assert reply.params["reply_markup"] == keyboard("menu").to_dict()
    assert fake.pending_updates == []  # confirmed by the final getUpdates
    methods = {r.method for r in fake.requests}
    assert {"getMe", "deleteWebhook", "getUpdates", "sendMessage"} <= methods
    assert fake.refused == []


# -- forum topics, reply threads and copies -----------------------------------------------------

FORUM = -1001234567890
GROUP = -1009876543210
AGENT = 777


@pytest.mark.asyncio
async def test_forum_topics_are_created_and_closed_in_forums_only(
    fake: FakeBotApi, bot: Bot
) -> None:
    fake.add_group(FORUM, "Agents", is_forum=True)
    fake.add_group(GROUP, "Agents without topics", is_forum=False)
    with pytest.raises(ValueError, match="not the id of a forum group"):
        fake.add_group(-4242, "Small group", is_forum=True)

    topic = await bot.create_forum_topic(FORUM, "u1 - bm")
    second = await bot.create_forum_topic(FORUM, "u2 - fr", icon_color=0xFFD67E)
    assert topic.name == "u1 - bm" and topic.icon_color in FORUM_ICON_COLORS
    assert second.message_thread_id > topic.message_thread_id
    for chat, description in (
        (GROUP, r"(?i)the chat is not a forum"),
        (CHAT_ID, r"(?i)not a forum"),
    ):
        with pytest.raises(BadRequest, match=description):
            await bot.create_forum_topic(chat, "u3 - fr")
    with pytest.raises(BadRequest, match=r"(?i)TOPIC_ICON_COLOR_INVALID"):
        await bot.create_forum_topic(FORUM, "u3 - fr", icon_color=0x123456)

    assert await bot.close_forum_topic(FORUM, topic.message_thread_id) is True
    with pytest.raises(BadRequest, match=r"(?i)TOPIC_NOT_MODIFIED"):
        await bot.close_forum_topic(FORUM, topic.message_thread_id)
    with pytest.raises(BadRequest, match=r"(?i)TOPIC_ID_INVALID"):
        await bot.close_forum_topic(FORUM, 9999)
    assert [(t.name, t.is_closed) for t in fake.forum_topics(FORUM)] == [
        ("u1 - bm", True),
        ("u2 - fr", False),
    ]
    assert [r.method for r in fake.refused] == ["createForumTopic"] * 3 + ["closeForumTopic"] * 2


@pytest.mark.asyncio
async def test_topics_need_the_right_to_manage_them(fake: FakeBotApi, bot: Bot) -> None:
    fake.add_group(FORUM, "Agents", is_forum=True, can_manage_topics=False)
    with pytest.raises(BadRequest, match=r"(?i)not enough rights"):
        await bot.create_forum_topic(FORUM, "u1 - fr")


@pytest.mark.asyncio
async def test_messages_sent_into_a_topic_carry_it(fake: FakeBotApi, bot: Bot) -> None:
    fake.add_group(FORUM, "Agents", is_forum=True)
    topic = await bot.create_forum_topic(FORUM, "u1 - fr")
    thread = topic.message_thread_id

    header = await bot.send_message(FORUM, "New conversation", message_thread_id=thread)
    assert header.message_thread_id == thread and header.is_topic_message
    assert header.reply_to_message is not None
    assert header.reply_to_message.forum_topic_created is not None
    assert header.reply_to_message.forum_topic_created.name == "u1 - fr"
    voice = await bot.send_voice(FORUM, b"OggS" + bytes(20), message_thread_id=thread)
    assert voice.message_thread_id == thread
    plain = await bot.send_message(FORUM, "In General")
    assert plain.message_thread_id is None and not plain.is_topic_message

    with pytest.raises(BadRequest, match=r"(?i)Message thread not found"):
        await bot.send_message(FORUM, "Nowhere", message_thread_id=9999)
    await bot.close_forum_topic(FORUM, thread)
    with pytest.raises(BadRequest, match=r"(?i)TOPIC_CLOSED"):
        await bot.send_message(FORUM, "Too late", message_thread_id=thread)
    fake.add_group(GROUP, "No topics", is_forum=False)
    with pytest.raises(BadRequest, match=r"(?i)Message thread not found"):
        await bot.send_message(GROUP, "Nowhere", message_thread_id=thread)
    assert [s.message_thread_id for s in fake.sent_messages(FORUM)] == [thread, thread, None]


@pytest.mark.asyncio
async def test_group_messages_in_topics_and_reply_threads(fake: FakeBotApi, bot: Bot) -> None:
    fake.add_group(FORUM, "Agents", is_forum=True)
    fake.add_group(GROUP, "Agents without topics", is_forum=False)
    topic = await bot.create_forum_topic(FORUM, "u1 - fr")
    header = await bot.send_message(GROUP, "New conversation")
    copy_in_thread = await bot.send_message(
        GROUP, "Relayed", reply_parameters=ReplyParameters(header.message_id)
    )
    assert copy_in_thread.message_thread_id == header.message_id

    fake.push_group_message(
        FORUM,
        "Hello",
        user_id=AGENT,
        first_name="Mariam",
        message_thread_id=topic.message_thread_id,
    )
    fake.push_group_message(
        GROUP, voice=b"OggS-agent", user_id=AGENT, reply_to_message_id=copy_in_thread.message_id
    )
    fake.push_group_message(GROUP, "/end", user_id=AGENT, reply_to_message_id=header.message_id)
    fake.push_group_message(GROUP, "Unrelated", user_id=AGENT)
    with pytest.raises(ValueError, match="no topic"):
        fake.push_group_message(FORUM, "Lost", user_id=AGENT, message_thread_id=9999)
    with pytest.raises(ValueError, match="either a text or a voice"):
        fake.push_group_message(FORUM, user_id=AGENT)

    in_topic, voice, end, unrelated = [u.message for u in await bot.get_updates()]
    assert in_topic is not None and in_topic.is_topic_message
    assert in_topic.message_thread_id == topic.message_thread_id
    assert in_topic.from_user is not None and in_topic.from_user.first_name == "Mariam"
    assert in_topic.chat.is_forum
    assert voice is not None and voice.voice is not None
    assert voice.message_thread_id == header.message_id  # the thread's first message
    assert voice.reply_to_message is not None
    assert voice.reply_to_message.message_id == copy_in_thread.message_id
    assert voice.reply_to_message.reply_to_message is None  # never nested
    assert end is not None and end.text == "/end" and end.entities[0].type == "bot_command"
    assert end.message_thread_id == header.message_id
    assert unrelated is not None and unrelated.message_thread_id is None


@pytest.mark.asyncio
async def test_copy_message_keeps_the_content_and_drops_the_sender(
    fake: FakeBotApi, bot: Bot
) -> None:
    fake.add_group(FORUM, "Agents", is_forum=True)
    topic = await bot.create_forum_topic(FORUM, "u1 - fr")
    fake.push_text(CHAT_ID, "J'ai besoin d'aide", first_name="Awa")
    fake.push_voice(CHAT_ID, data=b"OggS-user-voice", duration=5)
    fake.push_location(CHAT_ID, 12.65, -8.0)
    text, voice, location = [u.message for u in await bot.get_updates()]
    assert text is not None and voice is not None and location is not None

    ids = [
        await bot.copy_message(
            FORUM, CHAT_ID, message.message_id, message_thread_id=topic.message_thread_id
        )
        for message in (text, voice, location)
    ]
    assert all(isinstance(copied, MessageId) for copied in ids)
    copies = fake.sent_messages(FORUM)
    assert [c.kind for c in copies] == ["text", "voice", "location"]
    assert copies[0].text == "J'ai besoin d'aide"
    assert voice.voice is not None and copies[1].file_id == voice.voice.file_id
    assert [c.copied_from for c in copies] == [
        (CHAT_ID, m.message_id) for m in (text, voice, location)
    ]
    assert {c.message_thread_id for c in copies} == {topic.message_thread_id}
    stored = fake.message_payload(FORUM, ids[0].message_id)
    assert stored["from"]["is_bot"] is True and "forward_origin" not in stored
    assert "Awa" not in json.dumps(stored) and str(CHAT_ID) not in json.dumps(stored)

    # Back to the user: an agent's voice note stays a voice note.
    update_id = fake.push_group_message(
        FORUM, voice=b"OggS-agent", user_id=AGENT, message_thread_id=topic.message_thread_id
    )
    [agent_update] = await bot.get_updates(offset=update_id)
    assert agent_update.message is not None
    await bot.copy_message(CHAT_ID, FORUM, agent_update.message.message_id)
    back = fake.sent_messages(CHAT_ID)[-1]
    assert back.kind == "voice" and back.message_thread_id is None

    with pytest.raises(BadRequest, match=r"(?i)Message to copy not found"):
        await bot.copy_message(FORUM, CHAT_ID, 9999)
    # The topic's first message is a service message: it cannot be copied.
    with pytest.raises(BadRequest, match=r"(?i)Message can't be copied"):
        await bot.copy_message(CHAT_ID, FORUM, topic.message_thread_id)
