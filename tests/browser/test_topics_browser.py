"""A module edited in a real browser (Debian's Chromium, driven by Playwright): an editor
moves a card down, changes a quiz question's right answer, publishes, and the bot's
catalog serves the new order. The page's screenshot goes to ``docs/console-topic.png``
when missing or with ``KUNNAFONI_SCREENSHOTS=1``."""

from __future__ import annotations

import asyncio
import shutil
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.routing import Mount

from bot.content.releases import ContentDesk
from bot.store.db import Database, upgrade_database
from bot.web.console.app import PREFIX, build_console
from bot.web.console.content import content_routes
from bot.web.console.topics import topic_routes
from tests.browser.test_console_browser import _free_port, _sign_in, browser  # noqa: F401
from tests.browser.test_content_browser import _screenshot
from tests.support.environment import CONTENT_DIR
from tests.web.console_support import add_accounts, content_desk


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, ContentDesk]]:
    base = tmp_path_factory.mktemp("topics-browser")
    content = base / "content"
    shutil.copytree(CONTENT_DIR, content)
    url = f"sqlite+aiosqlite:///{base / 'console.db'}"

    async def seed() -> None:
        await upgrade_database(url)
        database = Database(url)
        try:
            await add_accounts(database)
        finally:
            await database.dispose()

    seeding = threading.Thread(target=asyncio.run, args=(seed(),))
    seeding.start()
    seeding.join()
    database = Database(url)
    desk = content_desk(database, content)
    console = build_console(
        database,
        secret="browser-test-" + "s" * 24,
        secure=False,
        catalog=desk.publisher.store.current,
        desk=desk,
        routes=[*content_routes(), *topic_routes()],
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
        yield f"http://127.0.0.1:{port}{PREFIX}", desk
    finally:
        served.should_exit = True
        thread.join(timeout=10)


def test_an_editor_reorders_cards_edits_a_question_and_publishes(
    browser: Any,  # noqa: F811
    site: tuple[str, ContentDesk],
) -> None:
    base, desk = site
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    _sign_in(page, base, "eddie")
    page.click("nav >> text=Modules")
    page.click("text=family_debt")
    page.click("#card-0 button[value=down]")
    page.wait_for_selector("p.notice[role=status]")
    assert page.locator("#card-0").inner_text().count("topic.family_debt.card2") >= 1
    page.check("#quiz-q1 input[name=correct][value='0']")
    page.click("#quiz-q1 button.save-question")
    page.wait_for_selector("p.notice[role=status]")
    _screenshot(page, "topic")
    page.goto(f"{base}/publish")
    page.click("#publish")
    page.wait_for_selector("p.notice[role=status]")
    topic = desk.catalog().topics["family_debt"]
    assert topic.cards[0].text == "topic.family_debt.card2"
    assert topic.quiz[0].answers[0].correct
    context.close()
