"""Broadcasts and voice notes from the console in Debian's Chromium, through the fake
Telegram Bot API.

- An editor builds a campaign for a seeded audience (the live audience per language
  updates as the segment changes), saves it as a draft, publishes it with its YAML diff
  shown, plans it, confirms the send on the page that shows the audience size, and
  watches the run's progress reach delivered while the broadcast sender (the worker's)
  sends through the fake Bot API.
- An editor records a voice note in the page (Chromium's fake microphone) and uploads a
  WAV file, which ffmpeg converts; the page plays the draft back, the editor publishes
  it, and the bot then answers that message with ``sendVoice`` carrying the same
  OGG/Opus file.

Each page's screenshot goes to ``docs/console-*.png`` when missing or with
``KUNNAFONI_SCREENSHOTS=1``. Without Chromium, Playwright or ffmpeg the tests skip with
the reason, except under ``CI=true``, where they fail.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import threading
import time
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
import uvicorn
from sqlalchemy import insert
from starlette.applications import Starlette
from starlette.routing import Mount
from telegram import Bot

from bot.campaigns.sender import BroadcastSender, SenderSettings
from bot.content.publish import ContentPublisher
from bot.content.releases import ContentDesk
from bot.content.store import ContentStore
from bot.dialogue.decision import Thresholds
from bot.dialogue.engine import Engine
from bot.nlu.service import NluService
from bot.store.db import Database, upgrade_database
from bot.store.models import User
from bot.telegram.transport import TelegramTransport
from bot.web.console.app import PREFIX, build_console
from bot.web.console.content import content_routes
from tests.browser.test_console_browser import CHROMIUM, _free_port, _sign_in, _unavailable
from tests.fakes.bot_api import FakeBotApi
from tests.support.environment import CONTENT_DIR
from tests.support.nlu import StubParser
from tests.support.telegram import CHAT, polling
from tests.web.console_support import add_accounts
from tests.web.test_console_voice import wav

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
TOKEN = "123456:TEST"
SOURCE = "browser_seed"
FIRST_CHAT = 8_800_001
#: The seeded audience: 6 French and 6 Bambara readers (shown as 10, 5 and 5).
LANGUAGES = ["fr"] * 6 + ["bm"] * 6

T = TypeVar("T")


def shoot(page: Any, name: str) -> None:
    target = DOCS / f"console-{name}.png"
    if not target.exists() or os.environ.get("KUNNAFONI_SCREENSHOTS") == "1":
        page.screenshot(path=str(target), full_page=True)


@dataclass
class World:
    """Everything served from one event loop in a thread of its own."""

    loop: asyncio.AbstractEventLoop
    base: str
    fake: FakeBotApi
    store: ContentStore
    database: Database

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed")
    if not CHROMIUM.exists() and shutil.which("chromium") is None:
        _unavailable(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    if shutil.which("ffmpeg") is None:
        _unavailable("ffmpeg not found (apt-get install ffmpeg)")
    executable = str(CHROMIUM) if CHROMIUM.exists() else str(shutil.which("chromium"))
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=executable,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                # A microphone that plays a tone, allowed without asking.
                "--use-fake-ui-for-media-stream",
                "--use-fake-device-for-media-stream",
                "--autoplay-policy=no-user-gesture-required",
            ],
        )
        try:
            yield launched
        finally:
            launched.close()


async def _start(tmp: Path, port: int) -> tuple[World, list[Any]]:
    content_dir = tmp / "content"
    shutil.copytree(CONTENT_DIR, content_dir)
    url = f"sqlite+aiosqlite:///{tmp / 'console.db'}"
    await upgrade_database(url)
    database = Database(url)
    await add_accounts(database)
    now = datetime.now(UTC)
    async with database.transaction() as session:
        await session.execute(
            insert(User),
            [
                {
                    "channel": "telegram",
                    "external_id": str(FIRST_CHAT + i),
                    "language": language,
                    "consent": True,
                    "subscribed": True,
                    "subscribed_at": now - timedelta(days=2),
                    "acquisition_source": SOURCE,
                }
                for i, language in enumerate(LANGUAGES)
            ],
        )
    fake = FakeBotApi(token=TOKEN)
    await fake.start()
    store = ContentStore(content_dir)
    publisher = ContentPublisher(store, database)
    console = build_console(
        database,
        secret="browser-test-" + "s" * 24,
        secure=False,
        catalog=store.current,
        content=store,
        publisher=publisher,
        desk=ContentDesk(database, publisher),
        routes=content_routes(),
    )
    app = Starlette(routes=[Mount(PREFIX, app=console)])
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    bot = Bot(TOKEN, base_url=fake.base_url)
    await bot.initialize()
    # The worker's broadcast sender: any due row of any run, until stopped.
    sender = BroadcastSender(
        database,
        TelegramTransport(bot),
        store.current,
        settings=SenderSettings(rate=20, concurrency=2, lease=10, idle_poll=0.2),
    )
    tasks = [
        asyncio.create_task(server.serve()),
        asyncio.create_task(sender.run(None, until_done=False)),
    ]
    deadline = time.monotonic() + 20
    while not server.started:  # uvicorn offers no event to wait on
        assert time.monotonic() < deadline, "the console server did not start"
        await asyncio.sleep(0.05)
    world = World(
        asyncio.get_running_loop(), f"http://127.0.0.1:{port}{PREFIX}", fake, store, database
    )
    return world, [server, bot, *tasks]


async def _stop(world: World, held: list[Any]) -> None:
    server, bot, *tasks = held
    server.should_exit = True
    tasks[1].cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await bot.shutdown()
    await world.fake.stop()
    await world.database.dispose()


@pytest.fixture(scope="module")
def world(browser: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    tmp = tmp_path_factory.mktemp("console-features")
    started = asyncio.run_coroutine_threadsafe(_start(tmp, _free_port()), loop).result(60)
    world, held = started
    try:
        yield world
    finally:
        asyncio.run_coroutine_threadsafe(_stop(world, held), loop).result(60)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)


def test_plan_and_send_a_broadcast_to_a_seeded_audience(browser: Any, world: World) -> None:
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if "/broadcasts/audience" in r.url else None)
    try:
        _sign_in(page, world.base, "eddie")
        page.click("header >> text=Diffusions")
        page.wait_for_url(f"{world.base}/broadcasts")
        assert "legal_paths_reminder" in page.locator("#campaigns").inner_text()
        shoot(page, "broadcasts")

        page.click("#new-campaign")
        page.fill("input[name=name]", "browser_call")
        page.select_option("select[name=kind]", "oneoff")
        now = datetime.now(UTC)
        page.fill("input[name=when]", (now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"))
        # Quiet hours away from now, so the message may go at once.
        page.fill("input[name=quiet_start]", f"{(now.hour + 2) % 24:02d}:00")
        page.fill("input[name=quiet_end]", f"{(now.hour + 3) % 24:02d}:00")
        page.fill("input[name=message]", "broadcast.legal_paths_reminder")
        page.fill("input[name=sources]", SOURCE)
        page.locator("input[name=sources]").dispatch_event("change")
        total = page.locator("#audience-total")
        total.filter(has_text="10 personnes").wait_for()
        # Narrowing to Bambara readers: the live audience follows.
        page.check("input[name=languages][value=bm]")
        total.filter(has_text="5 personnes").wait_for()
        page.check("input[name=languages][value=fr]")
        total.filter(has_text="10 personnes").wait_for()
        shoot(page, "broadcast-form")
        # The live audience is asked with the segment only: no CSRF token in a URL.
        assert asked and not any("csrf" in url for url in asked)
        page.click("#campaign-form button[type=submit]")
        page.wait_for_url(f"{world.base}/broadcasts?saved=browser_call")
        # A draft: not sendable, not seen by the worker, until it is published.
        assert "browser_call" not in world.store.current().campaigns
        page.click("#campaign-saved a")
        page.wait_for_url(f"{world.base}/publish")
        assert page.locator("text=nouvelle campagne").count() == 1
        assert "+kind: oneoff" in page.locator(".campaign-diff").inner_text()
        shoot(page, "publish-campaign")
        page.click("#publish")
        page.wait_for_url("**/publish?done=*")
        assert "browser_call" in world.store.current().campaigns
        page.goto(f"{world.base}/broadcasts/browser_call")
        assert "Audience : 10" in page.locator("#plan-audience").inner_text()
        shoot(page, "broadcast")

        page.click("#send")
        page.wait_for_url(f"{world.base}/broadcasts/browser_call/send")
        assert "10 personnes" in page.locator("#confirm-audience").inner_text()
        shoot(page, "broadcast-send")
        page.click("#confirm-send")
        page.wait_for_url("**/broadcasts/runs/*")
        # htmx polls the progress until the sender has delivered everything.
        page.locator("#run-status").filter(has_text="terminé").wait_for(timeout=60_000)
        assert page.locator("#run-delivered").inner_text() == "10"
        assert page.locator("#run-remaining").inner_text() == "0"
        shoot(page, "broadcast-run")
    finally:
        context.close()

    catalog = world.store.current()

    async def delivered() -> list[tuple[str, str]]:
        return [
            (language, world.fake.sent_messages(FIRST_CHAT + i)[0].text)
            for i, language in enumerate(LANGUAGES)
        ]

    for language, text in world.run(delivered()):
        assert text == catalog.text("broadcast.legal_paths_reminder", language).text


def test_record_and_upload_a_voice_note_then_the_bot_sends_it(browser: Any, world: World) -> None:
    catalog = world.store.current()
    key = catalog.topics["sahara"].cards[0].text
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    try:
        _sign_in(page, world.base, "eddie")
        page.click("#voice-languages >> text=fr")
        page.wait_for_url(f"{world.base}/voice/fr")
        page.fill("input[name=q]", "sahara")
        page.click("form.filters button[type=submit]")
        page.wait_for_url("**q=sahara**")
        shoot(page, "voice-list")
        page.click(f"#voice-keys >> text={key}")
        page.wait_for_url(f"{world.base}/voice/fr/{key}")
        assert page.locator("#no-voice").is_visible()
        assert page.locator("#no-ffmpeg").count() == 0

        # Recorded in the page: Chromium's fake microphone, MediaRecorder, converted.
        page.click("#record-start")
        page.wait_for_timeout(1500)
        page.click("#record-stop")
        page.locator("#record-save:not([disabled])").wait_for()
        page.click("#record-save")
        page.wait_for_url("**done=draft")
        # A draft: played back in the page, not heard by users yet.
        assert page.locator("#draft-player").count() == 1
        assert world.store.current().messages["fr"][key].voice is None

        # Then a file from a phone (WAV), converted too, and played back in the page.
        page.set_input_files(
            "input[name=file]",
            files=[{"name": "note.wav", "mimeType": "audio/wav", "buffer": wav(2.0)}],
        )
        page.click("#upload")
        page.wait_for_url("**done=draft")
        assert page.locator("#voice-done").is_visible()
        duration = page.evaluate(
            """() => new Promise((ok, no) => {
                 const a = document.getElementById('draft-player');
                 const done = () => ok(a.duration);
                 if (a.readyState >= 1) { done(); } else {
                   a.addEventListener('loadedmetadata', done);
                   a.addEventListener('error', () => no('cannot play'));
                   a.load();
                 }
               })"""
        )
        assert 1.5 < float(duration) < 2.5
        shoot(page, "voice")
        assert world.store.current().messages["fr"][key].voice is None

        # Published by the editor with the other drafts: now users hear it.
        page.click("#voice-done a")
        page.wait_for_url(f"{world.base}/publish")
        assert page.locator("text=nouvelle note vocale, 2 s").count() == 1
        shoot(page, "publish-voice")
        page.click("#publish")
        page.wait_for_url("**/publish?done=*")
    finally:
        context.close()

    voice = world.store.current().messages["fr"][key].voice
    assert voice is not None
    data = (world.store.directory / voice.file).read_bytes()
    assert data.startswith(b"OggS")

    async def hear() -> bytes:
        engine = Engine(
            database=world.database,
            content=world.store.current,
            nlu=NluService(StubParser(), world.store.matcher),
            thresholds=Thresholds(),
        )
        fake = world.fake
        async with polling(fake, engine, world.store, token=TOKEN):
            fake.push_command(CHAT, "start")
            await fake.wait_for("sendMessage", chat_id=CHAT, count=1)
            fake.push_callback(CHAT, "lang:fr")
            await fake.wait_for("sendMessage", chat_id=CHAT, count=2)
            fake.push_callback(CHAT, "consent:yes")
            await fake.wait_for("sendMessage", chat_id=CHAT, count=4)
            fake.push_callback(CHAT, "sub:no")
            await fake.wait_for("sendMessage", chat_id=CHAT, count=6)
            fake.push_callback(CHAT, "topic:sahara")
            sent = await fake.wait_for("sendVoice", chat_id=CHAT, count=1)
        return bytes(sent[0].files["voice"].data)

    started = time.monotonic()
    assert world.run(hear(), timeout=90) == data
    assert time.monotonic() - started < 90
