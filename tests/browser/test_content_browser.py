"""Content edited in a real browser (Debian's Chromium, driven by Playwright), then
served by the bot.

A Bambara translator on a phone edits a text (checked as she types); an editor publishes
it, then changes the French: the translation shows as stale with the French change; the
translator updates it, a reviewer for Bambara marks it reviewed, the editor publishes.
``kunnafoni chat --json`` (a subprocess with keyword NLU, on its own copy of the content
folder, like a second replica on the same database) answers with the new text; after a
rollback, with the earlier one. Each page's screenshot goes to ``docs/console-*.png``
when missing or with ``KUNNAFONI_SCREENSHOTS=1``.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.routing import Mount

from bot.store.db import Database, upgrade_database
from bot.web.console.app import PREFIX, build_console
from bot.web.console.content import content_routes
from tests.browser.test_console_browser import _free_port, _sign_in, browser  # noqa: F401
from tests.support.environment import CONTENT_DIR
from tests.web.console_support import add_accounts, content_desk

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
KEY = "help.text"
FIRST = "Kunnafoni bɛ kunnafoni di bamanankan na.\n{commands}"
SECOND = "Kunnafoni bɛ kunnafoni sɛgɛsɛgɛlenw di.\n{commands}"


def _screenshot(page: Any, name: str) -> None:
    path = DOCS / f"console-{name}.png"
    if not path.exists() or os.environ.get("KUNNAFONI_SCREENSHOTS") == "1":
        page.screenshot(path=str(path), full_page=True)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    base = tmp_path_factory.mktemp("content-browser")
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
        routes=content_routes(),
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
        yield {"base": f"http://127.0.0.1:{port}{PREFIX}", "url": url, "dir": base}
    finally:
        served.should_exit = True
        thread.join(timeout=10)


def _bot_says(site: dict[str, Any], user: str) -> str:
    """What ``kunnafoni chat --json`` answers to /help in Bambara, on a replica's own copy
    of the content folder as shipped (it brings it to the published release at start)."""
    replica = site["dir"] / f"replica-{user}"
    shutil.copytree(CONTENT_DIR, replica)
    env = {**os.environ, "CONTENT_DIR": str(replica), "RASA_URL": "", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bot",
            "chat",
            "--json",
            "--lang",
            "bm",
            "--user",
            user,
            "--db",
            site["url"],
        ],
        input=json.dumps({"command": "help"}) + "\n",
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=300,
        check=True,
    )
    answer = json.loads(done.stdout.splitlines()[0])
    return str(answer["replies"][0]["text"])


def _publish(page: Any, base: str) -> None:
    page.goto(f"{base}/publish")
    page.click("#publish")
    page.wait_for_selector("p.notice[role=status]")


def test_edit_stale_review_publish_serve_and_roll_back(browser: Any, site: dict[str, Any]) -> None:  # noqa: F811
    base = site["base"]
    phone = browser.new_context(viewport={"width": 390, "height": 844}, accept_downloads=True)
    desktop = browser.new_context(viewport={"width": 1200, "height": 900})
    reviewer = browser.new_context(viewport={"width": 390, "height": 844})
    tina, eddie, rita = phone.new_page(), desktop.new_page(), reviewer.new_page()
    try:
        # The translator, on a phone: what is left for Bambara, then one message.
        _sign_in(tina, base, "tina")
        tina.click("text=Ce qui reste à faire dans cette langue")
        tina.wait_for_url("**/content/bm?status=todo")
        tina.goto(f"{base}/content/bm?q={KEY}")
        _screenshot(tina, "content-list")
        tina.click(f"a[href$='/content/bm/{KEY}']")
        tina.wait_for_url(f"**/content/bm/{KEY}")
        # Checked as she types: the placeholder first forgotten, then kept.
        tina.fill("#text", "Kunnafoni bɛ kunnafoni di bamanankan na.")
        tina.wait_for_selector("#check .issues >> text=Il manque {commands}")
        tina.fill("#text", FIRST)
        tina.wait_for_function("() => !document.querySelector('#check .issues')")
        assert "bamanankan na." in tina.inner_text("#check .bubble")
        tina.click("#save")
        tina.wait_for_selector("text=Brouillon enregistré")
        width = tina.evaluate("() => document.documentElement.scrollWidth")
        assert width <= 390

        # The editor publishes it, then changes the French.
        _sign_in(eddie, base, "eddie")
        eddie.goto(f"{base}/content")
        _screenshot(eddie, "content")
        _publish(eddie, base)
        eddie.goto(f"{base}/content/fr/{KEY}")
        french = eddie.input_value("#text")
        eddie.fill("#text", "Kunnafoni : " + french)
        eddie.click("#save")
        eddie.wait_for_selector("text=Brouillon enregistré")
        _publish(eddie, base)

        # The translation is stale, the French change shown word by word.
        tina.goto(f"{base}/content/bm/{KEY}")
        assert tina.inner_text("#state") == "Périmé"
        assert "Kunnafoni :" in tina.inner_text("#stale-diff ins")
        _screenshot(tina, "content-message")
        tina.fill("#text", SECOND)
        tina.click("#save")
        tina.wait_for_selector("text=Brouillon enregistré")

        # A spreadsheet: downloaded, changed, uploaded: the diff shows before anything.
        tina.goto(f"{base}/content/bm")
        with tina.expect_download() as info:
            tina.click("a.download >> text=CSV")
        sheet = Path(info.value.path()).read_text(encoding="utf-8-sig")
        changed = site["dir"] / "bm.csv"
        changed.write_text(sheet.replace("Ɔwɔ, n sɔnna", "Ɔwɔ, n sɔnna kosɛbɛ", 1), "utf-8")
        tina.set_input_files("input[type=file]", str(changed))
        tina.click("text=Voir les changements")
        tina.wait_for_selector("#apply")
        assert "kosɛbɛ" in tina.inner_text("table.diff-table")
        _screenshot(tina, "content-import")

        # A second person with the reviewer right for Bambara reviews it.
        _sign_in(rita, base, "rita")
        rita.goto(f"{base}/content/bm/{KEY}")
        rita.click("#review")
        rita.wait_for_selector("text=Relu par rita")

        eddie.goto(f"{base}/publish")
        _screenshot(eddie, "publish")
        _publish(eddie, base)
        assert _bot_says(site, "after-publish").startswith(SECOND.split("\n")[0])

        # The version's diff, then a rollback to the release before.
        eddie.click("table.history a >> nth=0")
        eddie.wait_for_selector("pre.filediff")
        _screenshot(eddie, "release")
        eddie.goto(f"{base}/publish")
        eddie.click("table.history tr:nth-child(2) button.rollback")
        eddie.wait_for_selector("p.notice[role=status]")
        assert _bot_says(site, "after-rollback").startswith(FIRST.split("\n")[0])
    finally:
        phone.close()
        desktop.close()
        reviewer.close()
