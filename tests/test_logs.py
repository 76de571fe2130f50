"""No personal data and no secret in any log, at any level, on the error paths too.

The log tests read what the process's real handler wrote (``bot.logs.configure_logging``
at DEBUG, every logger included: python-telegram-bot, httpx, SQLAlchemy, the Rasa
client), after planting names, phone numbers, texts and tokens where the failures of
production put them.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError
from sqlalchemy import text as sql

from bot.config import Environment, LogFormat, Settings, debug_refused
from bot.content.store import ContentStore
from bot.dialogue.decision import Thresholds
from bot.dialogue.engine import Engine
from bot.logs import HELD, REDACTED, configure_logging, log_context, name_user, redact
from bot.nlu.rasa import RasaClient
from bot.nlu.service import NluService
from bot.store.db import Database
from tests.fakes.bot_api import FakeBotApi
from tests.support.nlu import StubParser
from tests.support.referrals import SERVICE, enable_referrals
from tests.support.telegram import CHAT, polling

#: A Bot API token of the real shape (the fixtures' short ones would not look like one).
BOT_TOKEN = "7012345678:AAHk3d9sLq0pXz8vT2mB7nC4yR6wE1uI5oP"
RASA_TOKEN = "rasa-planted-5ecret-9f3a"
NAME = "Awa Traoré"
PHONE_TYPED = "76 12 34 56"
PHONE_STORED = "22376123456"
DESCRIPTION = "Mon oncle me frappe, j'ai 16 ans et je veux partir"


@pytest.fixture
def log() -> Iterator[io.StringIO]:
    """Everything the process logs, at DEBUG, through the real redacting handler."""
    stream = io.StringIO()
    root = logging.getLogger()
    before = root.level, {name: logging.getLogger(name).level for name in HELD}
    handler = configure_logging("DEBUG", stream)
    # The fake Bot API runs in the test's process and logs what it serves at DEBUG: it
    # is the test's instrument, not part of the bot.
    fake_level = logging.getLogger("tests.fakes").level
    logging.getLogger("tests.fakes").setLevel(logging.INFO)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        logging.getLogger("tests.fakes").setLevel(fake_level)
        root.setLevel(before[0])
        for name, level in before[1].items():
            logging.getLogger(name).setLevel(level)


def assert_clean(logged: str, *planted: str) -> None:
    for value in planted:
        assert value not in logged, f"{value!r} reached the logs:\n{logged[-3000:]}"


# --- the filter --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        f"POST https://api.telegram.org/bot{BOT_TOKEN}/sendMessage",
        f"GET http://rasa:5005/model/parse?token={RASA_TOKEN}&x=1",
        f"Authorization: Bearer {RASA_TOKEN}",
        f"{{'password': '{RASA_TOKEN}'}}",
        f"secret={RASA_TOKEN}",
    ],
)
def test_tokens_are_redacted(line: str) -> None:
    redacted = redact(line)
    assert REDACTED in redacted
    assert_clean(redacted, BOT_TOKEN, RASA_TOKEN)


@pytest.mark.parametrize(
    "phone_or_id",
    ["+223 76 12 34 56", "0022376123456", "76123456", "76.12.34.56", "5550001", "-1001234567890"],
)
def test_phone_numbers_and_telegram_ids_are_redacted(phone_or_id: str) -> None:
    redacted = redact(f"chat {phone_or_id} failed")
    assert redacted == f"chat {REDACTED} failed"


@pytest.mark.parametrize(
    "kept",
    [
        "Step u12345: state=menu intent=greet replies=2",
        "Referral KF-7HQ2ZM sent to service 3",
        "content version 2026-12-04T02:42:18 published",
        "sent 250 of 1200 in 12.5 s",
        "Rasa at http://127.0.0.1:5005 is unreachable",
    ],
)
def test_what_the_team_needs_is_kept(kept: str) -> None:
    assert redact(kept) == kept


def test_a_record_with_bad_arguments_is_still_logged(log: io.StringIO) -> None:
    logging.getLogger("bot.test").warning("two %s %s", "args")
    assert "two %s %s" in log.getvalue()


def test_debug_is_refused_where_real_people_write() -> None:
    for environment in (Environment.STAGING, Environment.PRODUCTION):
        assert debug_refused("debug", environment)
        assert debug_refused("INFO", environment) is None
    assert debug_refused("DEBUG", Environment.LOCAL) is None
    assert debug_refused("DEBUG", Environment.TEST) is None
    with pytest.raises(ValueError, match="LOG_LEVEL=DEBUG is refused in production"):
        Settings(
            KUNNAFONI_ENV="production",
            LOG_LEVEL="DEBUG",
            TELEGRAM_BOT_TOKEN=BOT_TOKEN,
            RASA_TOKEN=RASA_TOKEN,
            DATABASE_URL="postgresql://kunnafoni@db/kunnafoni",
        )
    with pytest.raises(ValueError, match="LOG_LEVEL must be one of"):
        Settings(LOG_LEVEL="chatty")


def test_the_command_line_refuses_debug_in_production(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli import main

    monkeypatch.setenv("KUNNAFONI_ENV", "production")
    assert main(["--log-level", "debug", "content", "check"]) == 2
    assert "LOG_LEVEL=DEBUG is refused in production" in capsys.readouterr().err


def test_payload_dumping_libraries_stay_quiet_under_debug(log: io.StringIO) -> None:
    assert logging.getLogger().level == logging.DEBUG
    for name, floor in HELD.items():
        assert logging.getLogger(name).getEffectiveLevel() >= floor
    logging.getLogger("telegram.ext.Application").debug("update %s", {"text": DESCRIPTION})
    logging.getLogger("sqlalchemy.engine.Engine").info("[parameters: (%r,)]", NAME)
    assert_clean(log.getvalue(), DESCRIPTION, NAME)


# --- the error paths ---------------------------------------------------------------------


async def test_rasa_failing_logs_neither_its_token_nor_the_text(log: io.StringIO) -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        return httpx.Response(500, text=f"internal error while parsing {request.content!r}")

    client = RasaClient("http://127.0.0.1:9", RASA_TOKEN, transport=httpx.MockTransport(fail))
    matcher = ContentStore(Path(__file__).resolve().parents[1] / "content").matcher
    service = NluService(client, matcher)
    try:
        result = await service.parse(f"je suis {NAME}, mon numero {PHONE_TYPED}")
    finally:
        await client.aclose()
    assert result.source.value != "rasa"
    logged = log.getvalue()
    assert "NLU unavailable" in logged  # the failure itself is logged...
    assert_clean(logged, RASA_TOKEN, NAME, PHONE_TYPED, "mon numero")  # ...nothing of it


async def _make_referrals_fail(database: Database) -> None:
    """Every INSERT into referrals fails inside the database (reads still work, so the
    form runs to its end), and the driver's error carries the statement (and, unless
    hidden, its parameters)."""
    async with database.transaction() as session:
        if session.get_bind().dialect.name == "sqlite":
            await session.execute(
                sql(
                    # Not RAISE(): SQLite reports that as a constraint, which the
                    # store reads as a reference already taken.
                    "CREATE TRIGGER referrals_busy BEFORE INSERT ON referrals "
                    "BEGIN INSERT INTO referrals_busy_nowhere VALUES (1); END"
                )
            )
        else:
            await session.execute(
                sql(
                    "CREATE FUNCTION referrals_busy() RETURNS trigger LANGUAGE plpgsql AS "
                    "$$ BEGIN RAISE EXCEPTION 'database is busy'; END $$"
                )
            )
            await session.execute(
                sql(
                    "CREATE TRIGGER referrals_busy BEFORE INSERT ON referrals "
                    "FOR EACH ROW EXECUTE FUNCTION referrals_busy()"
                )
            )


async def test_a_referral_failing_in_the_database_logs_no_personal_data(
    log: io.StringIO,
    fake: FakeBotApi,
    database: Database,
    content_copy: Path,
    stub_parser: StubParser,
) -> None:
    partners = enable_referrals(content_copy)
    content = ContentStore(content_copy)
    engine = Engine(
        database=database,
        content=content.current,
        nlu=NluService(stub_parser, content.matcher),
        thresholds=Thresholds(),
        partners=partners,
    )
    await _make_referrals_fail(database)
    fake.token = BOT_TOKEN
    generic = content.current().text("error.generic", "fr").text
    steps: list[tuple[str, str]] = [
        ("command", "start"),
        ("button", "lang:fr"),
        ("button", "consent:yes"),
        ("button", "sub:no"),
        ("button", "intent:return_help"),
        ("button", "where:ml"),
        ("button", "where:r:kayes"),
        ("button", f"refer:{SERVICE}:return_help"),
        ("button", "ref:yes"),
        ("text", NAME),
        ("text", PHONE_TYPED),
        ("button", "ref:here"),
        ("text", DESCRIPTION),
        ("button", "ref:send"),
    ]
    async with polling(fake, engine, content, token=BOT_TOKEN):
        sent = 0
        for kind, value in steps:
            if kind == "command":
                fake.push_command(CHAT, value)
            elif kind == "button":
                # Steps are handled in order: the next may come before this one's last reply.
                fake.push_callback(CHAT, value, check_button=False)
            else:
                fake.push_text(CHAT, value, first_name="Awa")
            sent = len(await fake.wait_for("sendMessage", chat_id=CHAT, count=sent + 1))
        while generic not in [m.params["text"] for m in fake.requests_for("sendMessage")]:
            sent = len(await fake.wait_for("sendMessage", chat_id=CHAT, count=sent + 1))
    logged = log.getvalue()
    assert "Error while handling an update" in logged
    assert "INSERT INTO referrals" in logged  # the database's own error is there
    assert_clean(
        logged, NAME, "Traor", PHONE_TYPED, PHONE_STORED, "76123456", "oncle", BOT_TOKEN, str(CHAT)
    )


async def test_telegram_refusing_a_message_logs_no_token_and_no_text(
    log: io.StringIO, fake: FakeBotApi, engine: Engine, content_store: ContentStore
) -> None:
    fake.token = BOT_TOKEN
    async with polling(fake, engine, content_store, token=BOT_TOKEN):
        fake.fail_next(
            "sendMessage",
            error_code=400,
            description=f"Bad Request: chat {CHAT} not found",
        )
        fake.push_text(CHAT, f"je m'appelle {NAME}", first_name="Awa")
        await fake.wait_for("sendMessage", chat_id=CHAT, count=1)
    logged = log.getvalue()
    assert "Error while handling an update" in logged
    assert_clean(logged, BOT_TOKEN, NAME, str(CHAT), "je m'appelle")


# --- JSON lines (LOG_FORMAT=json) ------------------------------------------------------


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """What the process logs as JSON lines, through the same redacting handler."""
    stream = io.StringIO()
    root = logging.getLogger()
    level = root.level
    handler = configure_logging("INFO", stream, json_lines=True)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def test_json_lines_are_redacted_and_name_the_update_and_pseudonym(
    json_log: io.StringIO,
) -> None:
    logger = logging.getLogger("bot.test")
    with log_context(update=4242):
        name_user("u17")
        logger.info("Sending to %s with %s", PHONE_STORED, BOT_TOKEN)
        try:
            raise RuntimeError(f"refused: token={RASA_TOKEN}")
        except RuntimeError:
            logger.exception("Failed for %s", "5550001234")
    logger.warning("outside any update")
    lines = [json.loads(line) for line in json_log.getvalue().splitlines()]
    assert [line["level"] for line in lines] == ["INFO", "ERROR", "WARNING"]
    first, failed, outside = lines
    assert first["update_id"] == 4242 and first["user"] == "u17"
    assert first["logger"] == "bot.test" and first["time"].endswith("+00:00")
    assert first["message"] == f"Sending to {REDACTED} with {REDACTED}"
    assert "RuntimeError" in failed["exception"]
    assert "update_id" not in outside and "user" not in outside
    assert_clean(json_log.getvalue(), PHONE_STORED, BOT_TOKEN, RASA_TOKEN, "5550001234")


def test_json_format_is_chosen_by_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOG_FORMAT", "json")
    assert Settings().log_format is LogFormat.JSON
    monkeypatch.setenv("LOG_FORMAT", "xml")
    with pytest.raises(ValidationError):
        Settings()
