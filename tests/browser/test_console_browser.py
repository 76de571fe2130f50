"""The console in a real browser: Debian's Chromium driven by Playwright (launched by its
path; Playwright's own browser download is never used).

Sign in, see the dashboard with data seeded through the engine, apply a filter, download
a CSV, be refused a page the role may not see, sign out. The dashboard's screenshot goes
to docs/console-dashboard.png when it is missing or ``KUNNAFONI_SCREENSHOTS=1``.

Without Chromium (``KUNNAFONI_CHROMIUM``, default /usr/bin/chromium) or Playwright the
tests skip with the reason, except under ``CI=true``, where they fail.
"""

from __future__ import annotations

import asyncio
import csv
import io
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.routing import Mount

from bot.content.store import ContentStore
from bot.dialogue.decision import Thresholds
from bot.dialogue.engine import Engine
from bot.nlu.service import NluService
from bot.store.db import Database, upgrade_database
from bot.web.console.app import PREFIX, build_console
from tests.support.conversation import command, press
from tests.support.environment import CONTENT_DIR
from tests.support.nlu import StubParser
from tests.web.console_support import PASSWORD, add_accounts

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT = ROOT / "docs" / "console-dashboard.png"
CHROMIUM = Path(os.environ.get("KUNNAFONI_CHROMIUM", "/usr/bin/chromium"))


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (required under CI=true)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed")
    if not CHROMIUM.exists() and shutil.which("chromium") is None:
        _unavailable(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    executable = str(CHROMIUM) if CHROMIUM.exists() else str(shutil.which("chromium"))
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=executable, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            yield launched
        finally:
            launched.close()


async def _seed(url: str) -> None:
    """People who start the bot, choose a language and consent, through the engine."""
    await upgrade_database(url)
    database = Database(url)
    content = ContentStore(CONTENT_DIR)
    engine = Engine(
        database=database,
        content=content.current,
        nlu=NluService(StubParser(), content.matcher),
        thresholds=Thresholds(),
        language_identifier=content.language_identifier,
    )
    try:
        await add_accounts(database)
        for i, language in enumerate(["fr"] * 12 + ["bm"] * 6):
            user = f"person{i}"
            await engine.handle(command(user, "start", "radio_kayes"))
            await engine.handle(press(user, f"lang:{language}"))
            await engine.handle(press(user, "consent:yes"))
            await engine.handle(press(user, "sub:yes" if i % 2 else "sub:no"))
    finally:
        await database.dispose()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('browser') / 'console.db'}"
    # Playwright's sync API keeps an event loop in this thread: seed from another one.
    seeding = threading.Thread(target=asyncio.run, args=(_seed(url),))
    seeding.start()
    seeding.join()
    database = Database(url)
    content = ContentStore(CONTENT_DIR)
    console = build_console(
        database, secret="browser-test-" + "s" * 24, secure=False, catalog=content.current
    )
    app = Starlette(routes=[Mount(PREFIX, app=console)])
    port = _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    served = uvicorn.Server(config)
    thread = threading.Thread(target=served.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not served.started:
        assert time.monotonic() < deadline, "the console server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}{PREFIX}"
    finally:
        served.should_exit = True
        thread.join(timeout=10)


def _sign_in(page: Any, base: str, name: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


def test_a_viewer_sees_filters_downloads_and_signs_out(browser: Any, server: str) -> None:
    context = browser.new_context(viewport={"width": 1200, "height": 900}, accept_downloads=True)
    page = context.new_page()
    try:
        _sign_in(page, server, "vic")
        page.click("text=Tableau de bord")
        page.wait_for_url(f"{server}/dashboard/reach")
        headline = page.locator("#chart-headline table")
        assert "Nouvelles personnes" in headline.inner_text()
        assert "20" in page.locator("#chart-headline tbody tr").first.inner_text()
        # Charts drawn from the vendored Chart.js.
        page.wait_for_function(
            "() => window.Chart && Chart.getChart(document.querySelector('canvas'))"
        )
        if not SCREENSHOT.exists() or os.environ.get("KUNNAFONI_SCREENSHOTS") == "1":
            page.screenshot(path=str(SCREENSHOT), full_page=False)

        # A filter: htmx replaces the section, the address keeps the filter.
        page.select_option("select[name=language]", "bm")
        page.click("#filters button[type=submit]")
        page.wait_for_url("**language=bm**")
        first = page.locator("#chart-headline tbody tr").first.inner_text()
        assert "5" in first and "20" not in first

        with page.expect_download() as info:
            page.click("#chart-new_users_by_language a.download")
        download = info.value
        rows = list(csv.reader(io.StringIO(Path(download.path()).read_text(encoding="utf-8"))))
        assert rows[0] == ["Catégorie", "Nouvelles personnes"]
        assert rows[1:] == [["bm", "5"]]

        # A page the viewer's role may not see.
        refused = page.goto(f"{server}/users")
        assert refused is not None and refused.status == 403
        assert "Votre rôle ne donne pas accès" in page.content()

        page.goto(f"{server}/")
        page.click("#logout")
        page.wait_for_url("**/login?bye=1")
        again = page.goto(f"{server}/dashboard/reach")
        assert again is not None and page.url.endswith("/login")
    finally:
        context.close()


def test_a_partner_is_refused_another_partners_service(browser: Any, server: str) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844})  # a phone
    page = context.new_page()
    try:
        _sign_in(page, server, "paula")
        assert page.locator("a[href$='/services/legal_aid_bamako']").is_visible()
        response = page.goto(f"{server}/services/another_partner")
        assert response is not None and response.status == 403
        # Nothing wider than the phone's screen.
        page.goto(f"{server}/services/legal_aid_bamako")
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= 390
    finally:
        context.close()
