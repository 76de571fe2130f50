"""``kunnafoni run`` as a service: the webhook (secret, duplicates, registration), health,
readiness and metrics, polling beside the HTTP server, and a graceful stop."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.content.store import ContentStore
from bot.dialogue.decision import Thresholds
from bot.dialogue.engine import Engine
from bot.nlu.service import NluService
from bot.nlu.types import CALLER, NluResult
from bot.store.db import Database
from tests.fakes.bot_api import FakeBotApi
from tests.support.databases import sqlite_copy
from tests.support.nlu import StubParser
from tests.support.service import SECRET, Serving, made_update, serving

CHAT = 5550001
OTHER = 5550002


class TimedParser(StubParser):
    """The stub NLU, slow for some texts, remembering when each parse ran and for whom."""

    def __init__(self, slow: dict[str, float] | None = None) -> None:
        super().__init__()
        self.slow = slow or {}
        self.spans: list[tuple[str | None, str, float, float]] = []

    async def parse(self, text: str) -> NluResult:
        started = time.monotonic()
        await asyncio.sleep(self.slow.get(text, 0.0))
        result = await super().parse(text)
        self.spans.append((CALLER.get(), text, started, time.monotonic()))
        return result


@pytest.fixture
async def sqlite_database(sqlite_template: Path, tmp_path: Path) -> AsyncIterator[Database]:
    """A real SQLite file (no outer transaction): the service's sessions run concurrently."""
    async with sqlite_copy(sqlite_template, tmp_path / "service.db") as database:
        yield database


@pytest.fixture
def parser() -> TimedParser:
    return TimedParser()


@pytest.fixture
def service_engine(
    sqlite_database: Database, content_store: ContentStore, parser: TimedParser
) -> Engine:
    return Engine(
        database=sqlite_database,
        content=content_store.current,
        nlu=NluService(parser, content_store.matcher),
        thresholds=Thresholds(),
        language_identifier=content_store.language_identifier,
    )


@pytest.fixture
async def webhook(
    fake: FakeBotApi, service_engine: Engine, content_store: ContentStore
) -> AsyncIterator[Serving]:
    async with serving(fake, service_engine, content_store) as running:
        yield running


async def test_the_webhook_is_registered_with_its_secret_and_limits(
    webhook: Serving, fake: FakeBotApi
) -> None:
    (registered,) = fake.requests_for("setWebhook")
    assert registered.params["url"] == "https://bot.example.org/telegram/updates"
    assert registered.params["secret_token"] == SECRET
    assert registered.params["allowed_updates"] == ["message", "callback_query"]
    assert int(registered.params["max_connections"]) == 40


async def test_a_missing_or_wrong_secret_is_refused(webhook: Serving, fake: FakeBotApi) -> None:
    update = made_update(fake, fake.push_command(CHAT, "start"))
    missing = await webhook.deliver(update, secret=None)
    wrong = await webhook.deliver(update, secret=SECRET[:-1] + "X")
    assert (missing.status_code, wrong.status_code) == (401, 403)
    assert SECRET not in missing.text + wrong.text
    await asyncio.sleep(0.2)
    assert fake.requests_for("sendMessage") == []  # nothing was processed
    accepted = await webhook.deliver(update)
    assert accepted.status_code == 200
    await fake.wait_for("sendMessage", chat_id=CHAT)


async def test_a_body_that_is_not_an_update_is_refused(webhook: Serving) -> None:
    answer = await webhook.http.post(
        "/telegram/updates",
        content=b"{not json",
        headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
    )
    assert answer.status_code == 400


async def test_a_redelivered_update_is_answered_200_and_processed_once(
    webhook: Serving, fake: FakeBotApi
) -> None:
    fake.push_command(CHAT, "start")
    first = made_update(fake, fake.pending_updates[-1]["update_id"])
    assert (await webhook.deliver(first)).status_code == 200
    await fake.wait_for("sendMessage", chat_id=CHAT)
    # A button press: its spinner is stopped before the engine sees it, so only the
    # webhook's record of the update id can keep a redelivery from being handled twice.
    press = made_update(fake, fake.push_callback(CHAT, "lang:fr"))
    answers = await asyncio.gather(*(webhook.deliver(press) for _ in range(3)))
    assert [a.status_code for a in answers] == [200, 200, 200]
    await fake.wait_for("answerCallbackQuery", count=1)
    await fake.wait_for("sendMessage", chat_id=CHAT, count=2)
    await asyncio.sleep(0.3)
    assert len(fake.requests_for("answerCallbackQuery")) == 1
    assert len(fake.requests_for("sendMessage", chat_id=CHAT)) == 2


@pytest.mark.parametrize("webhook_mode", [True, False], ids=["webhook", "polling"])
async def test_one_slow_chat_does_not_hold_up_another(
    fake: FakeBotApi,
    service_engine: Engine,
    content_store: ContentStore,
    parser: TimedParser,
    webhook_mode: bool,
) -> None:
    parser.slow = {"lent": 1.0}
    async with serving(fake, service_engine, content_store, webhook=webhook_mode) as running:
        if webhook_mode:
            slow = made_update(fake, fake.push_text(CHAT, "lent"))
            then = made_update(fake, fake.push_text(CHAT, "ensuite"))
            fast = made_update(fake, fake.push_text(OTHER, "vite"))
            for update in (slow, then, fast):
                assert (await running.deliver(update)).status_code == 200
        else:  # the same three updates fetched by one long poll
            fake.push_text(CHAT, "lent")
            fake.push_text(CHAT, "ensuite")
            fake.push_text(OTHER, "vite")
        await fake.wait_for("sendMessage", chat_id=CHAT, count=2, timeout=10)
        await fake.wait_for("sendMessage", chat_id=OTHER, count=1)
    spans = {text: (caller, start, end) for caller, text, start, end in parser.spans}
    # The other chat was answered while the slow parse was still running...
    assert spans["vite"][2] < spans["lent"][2]
    # ...and the slow chat's next message waited for its first one.
    assert spans["ensuite"][1] >= spans["lent"][2]
    assert spans["lent"][0] == spans["ensuite"][0] != spans["vite"][0]


async def test_healthz_and_readyz_when_everything_answers(webhook: Serving) -> None:
    health = await webhook.http.get("/healthz")
    assert (health.status_code, health.json()) == (200, {"status": "alive"})
    ready = await webhook.http.get("/readyz")
    body = ready.json()
    assert ready.status_code == 200 and body["status"] == "ready"
    assert {name for name, check in body["checks"].items() if check["ok"]} == {
        "database",
        "content",
        "nlu",
        "telegram",
    }


async def test_readyz_is_503_when_the_database_or_telegram_is_down(
    fake: FakeBotApi, service_engine: Engine, content_store: ContentStore, sqlite_database: Database
) -> None:
    async with serving(fake, service_engine, content_store) as running:
        fake.fail_next("getMe", error_code=502, description="Bad Gateway")
        down = await running.http.get("/readyz")
        assert down.status_code == 503
        body = down.json()
        assert body["status"] == "unavailable"
        assert body["checks"]["telegram"]["ok"] is False
        assert body["checks"]["database"]["ok"] is True
        # The database file gone unreadable: the database check fails too.
        assert sqlite_database.engine is not None
        await sqlite_database.engine.dispose()
        Path(sqlite_database.engine.url.database or "").write_bytes(b"not a database" * 100)
        worse = (await running.http.get("/readyz")).json()
        assert worse["checks"]["database"]["ok"] is False
        assert "not a database" not in str(worse)


async def test_readyz_reports_a_failing_nlu_server_without_failing(
    fake: FakeBotApi, service_engine: Engine, content_store: ContentStore
) -> None:
    class Down:
        async def status(self) -> dict[str, Any]:
            raise ConnectionError("refused")

    service_engine.nlu.rasa = Down()  # type: ignore[assignment]
    async with serving(fake, service_engine, content_store) as running:
        ready = await running.http.get("/readyz")
        assert ready.status_code == 200
        body = ready.json()
        assert body["status"] == "degraded"
        assert body["checks"]["nlu"] == {
            "ok": False,
            "required": False,
            "detail": "ConnectionError",
        }


async def test_metrics_count_updates_replies_and_show_the_database_gauges(
    webhook: Serving, fake: FakeBotApi, content_store: ContentStore
) -> None:
    update = made_update(fake, fake.push_text(CHAT, "bonjour"))
    await webhook.deliver(update)
    await webhook.deliver(update)  # a duplicate
    await fake.wait_for("sendMessage", chat_id=CHAT)
    await asyncio.sleep(0.1)
    page = await webhook.http.get("/metrics")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/plain")
    text = page.text
    for line in (
        'kunnafoni_updates_total{kind="message",outcome="handled"}',
        'kunnafoni_updates_total{kind="message",outcome="duplicate"}',
        "kunnafoni_update_handling_seconds_bucket",
        'kunnafoni_nlu_answers_total{source="rasa"}',
        "kunnafoni_replies_sent_total",
        "kunnafoni_outbox_depth 0.0",
        'kunnafoni_referrals{status="sent"} 0.0',
        "kunnafoni_referral_oldest_unacknowledged_seconds 0.0",
        "kunnafoni_handovers_open 0.0",
        f'kunnafoni_content_version_info{{version="{content_store.current().version}"}} 1.0',
    ):
        assert line in text, line
    # No chat or user in any label.
    assert str(CHAT) not in text


async def test_polling_runs_beside_the_http_server(
    fake: FakeBotApi, service_engine: Engine, content_store: ContentStore
) -> None:
    async with serving(fake, service_engine, content_store, webhook=False) as running:
        assert (await running.http.get("/healthz")).status_code == 200
        assert (await running.http.get("/console/login")).status_code == 200
        fake.push_command(CHAT, "start")
        await fake.wait_for("sendMessage", chat_id=CHAT)
        assert (await running.http.post("/telegram/updates", json={})).status_code in (404, 405)
    assert fake.requests_for("setWebhook") == []


async def test_a_stop_finishes_the_updates_in_flight(
    fake: FakeBotApi, service_engine: Engine, content_store: ContentStore, parser: TimedParser
) -> None:
    parser.slow = {"lent": 0.8}
    async with serving(fake, service_engine, content_store) as running:
        update = made_update(fake, fake.push_text(CHAT, "lent"))
        assert (await running.deliver(update)).status_code == 200
        await asyncio.sleep(0.1)
        # Leaving the block stops the server as SIGTERM does (uvicorn's should_exit).
    assert len(fake.requests_for("sendMessage", chat_id=CHAT)) >= 1


async def test_the_console_is_served_beside_the_webhook(webhook: Serving, fake: FakeBotApi) -> None:
    """The web console shares the service's server, in webhook mode as in polling mode."""
    page = await webhook.http.get("/console/login")
    assert page.status_code == 200
    assert 'name="csrf"' in page.text
    assert (await webhook.http.get("/console/dashboard/reach")).status_code == 303
    assert (await webhook.http.get("/console/static/vendor/htmx.min.js")).status_code == 200
