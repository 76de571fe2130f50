"""A partner works a case in Debian's Chromium (Playwright, launched by its path).

Sign in, open the inbox (only the partner's own cases), open a case, read what the person
shared, mark it received (the person is told through the console's channel), write a note,
give the case to a colleague; another partner's case, by a forged URL or an export, is
refused. The case page's screenshot goes to docs/console-partner-case.png when it is missing
or ``KUNNAFONI_SCREENSHOTS=1``.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.routing import Mount

from bot.content.store import ContentStore
from bot.referrals.policy import ReferralPolicy
from bot.store import accounts as account_store
from bot.store.db import Database, upgrade_database
from bot.web.console.app import PREFIX, build_console
from bot.web.console.cases import CaseDesk, case_routes
from tests.browser.test_console_browser import _free_port, _sign_in, browser  # noqa: F401
from tests.support.environment import CONTENT_DIR
from tests.web.console_support import HASH, OTHER_CASE, OWN_CASE, add_accounts, add_cases
from tests.web.test_console_cases import Recorder

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT = ROOT / "docs" / "console-partner-case.png"


async def _seed(url: str) -> None:
    await upgrade_database(url)
    database = Database(url)
    try:
        await add_accounts(database)
        await add_cases(database)
        async with database.transaction() as session:
            await account_store.create_account(
                session,
                name="pierre",
                role="partner",
                password_hash=HASH,
                services=("legal_aid_bamako",),
            )
    finally:
        await database.dispose()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Recorder]]:
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('cases') / 'console.db'}"
    seeding = threading.Thread(target=asyncio.run, args=(_seed(url),))
    seeding.start()
    seeding.join()
    database = Database(url)
    content = ContentStore(CONTENT_DIR)
    notifier = Recorder()
    desk = CaseDesk(ReferralPolicy(database, content.current), notifier)
    console = build_console(
        database,
        secret="browser-test-" + "s" * 24,
        secure=False,
        catalog=content.current,
        routes=case_routes(),
        cases=desk,
    )
    app = Starlette(routes=[Mount(PREFIX, app=console)])
    port = _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the console server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}{PREFIX}", notifier
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_a_partner_works_a_case_and_is_refused_another_partners(
    browser: object,  # noqa: F811
    served: tuple[str, Recorder],
) -> None:
    base, notifier = served
    context = browser.new_context(viewport={"width": 1100, "height": 1000})  # type: ignore[attr-defined]
    page = context.new_page()
    try:
        _sign_in(page, base, "paula")
        page.click("header >> text=Dossiers")
        page.wait_for_url(f"{base}/cases")
        table = page.locator("#cases").inner_text()
        assert OWN_CASE in table and OTHER_CASE not in table
        assert "Awa" not in table  # the list carries no name

        page.click(f"text={OWN_CASE}")
        page.wait_for_url(f"**/cases/{OWN_CASE}")
        shared = page.locator("#case-shared").inner_text()
        assert "Awa" in shared and "+22376000000" in shared and "private words" in shared

        page.click("button[data-move=received]")
        page.wait_for_url("**?done=status")
        assert page.locator("#case-status").inner_text() == "reçu"
        assert page.locator("button[data-move=received]").count() == 0
        assert len(notifier.told) == 1 and notifier.told[0][0] == "7001"

        page.fill("textarea[name=text]", "Rappelée le matin, rendez-vous jeudi")
        page.click("#case-notes button[type=submit]")
        page.wait_for_url("**?done=note")
        assert "rendez-vous jeudi" in page.locator("#case-notes").inner_text()

        page.select_option("#case-assign select[name=account]", label="pierre")
        page.click("#case-assign button[type=submit]")
        page.wait_for_url("**?done=assign")
        assert page.locator("#case-assignee").inner_text() == "pierre"
        history = page.locator("#case-history").inner_text()
        assert "console (paula)" in history
        if not SCREENSHOT.exists() or os.environ.get("KUNNAFONI_SCREENSHOTS") == "1":
            page.screenshot(path=str(SCREENSHOT), full_page=True)

        forged = page.goto(f"{base}/services/another_partner/cases/{OTHER_CASE}")
        assert forged is not None and forged.status == 403
        hidden = page.goto(f"{base}/services/legal_aid_bamako/cases/{OTHER_CASE}")
        assert hidden is not None and hidden.status == 404
        export = page.request.get(f"{base}/cases.csv?service=another_partner")
        assert export.status == 403
        mine = page.request.get(f"{base}/cases.csv")
        assert OWN_CASE in mine.text() and OTHER_CASE not in mine.text()
    finally:
        context.close()
