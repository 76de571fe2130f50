"""The NLU review queue end to end, in Debian's Chromium: unclear messages typed through
``kunnafoni chat --json`` (the real command in a subprocess, on a SQLite file, keyword NLU,
no Rasa) appear masked in the queue; an annotator labels one on a phone-sized screen,
marking a place by selecting it, and discards another; the reviewed file then holds the
labelled one, and nothing of the person."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
import yaml
from starlette.applications import Starlette
from starlette.routing import Mount

from bot.content.store import ContentStore
from bot.store.db import Database
from bot.web.console.app import PREFIX, build_console
from tests.browser.test_console_browser import _free_port, _sign_in, browser  # noqa: F401
from tests.support.environment import CONTENT_DIR
from tests.web.console_support import add_accounts

NAME, PHONE = "Moussa Keita", "76 12 34 56"
FIRST = f"je m'appelle {NAME}, c koi le zorglub vers Kayes, appelle {PHONE}"
SECOND = "n tɔgɔ ye Awa, zorglub tɛ Kayi wa"


def chat(db: Path, lines: list[str]) -> list[dict[str, Any]]:
    env = {
        **os.environ,
        "RASA_URL": "",
        "NLU_REVIEW_CAPTURE": "true",
        "PYTHONIOENCODING": "utf-8",
    }
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "chat", "--json", "--db", f"sqlite:///{db}"],
        input="".join(line + "\n" for line in lines),
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return [json.loads(line) for line in proc.stdout.splitlines()]


@pytest.fixture(scope="module")
def queue(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    folder = tmp_path_factory.mktemp("review")
    db = folder / "bot.db"
    out = chat(
        db,
        [
            json.dumps({"command": "start"}),
            json.dumps({"button": "lang:fr"}),
            json.dumps({"button": "consent:yes"}),
            json.dumps({"button": "sub:no"}),
            json.dumps({"text": FIRST}),
            json.dumps({"text": SECOND}),
        ],
    )
    assert out[4]["meta"]["messages"][0].startswith(("clarify.", "fallback."))
    url = f"sqlite+aiosqlite:///{db}"
    seeding = threading.Thread(target=asyncio.run, args=(add_accounts(Database(url)),))
    seeding.start()
    seeding.join()
    data = folder / "nlu" / "data"
    console = build_console(
        Database(url),
        secret="browser-test-" + "r" * 24,
        secure=False,
        catalog=ContentStore(CONTENT_DIR).current,
        nlu_data_dir=data,
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
        yield f"http://127.0.0.1:{port}{PREFIX}", data / "reviewed.yml"
    finally:
        served.should_exit = True
        thread.join(timeout=10)


def test_unclear_messages_are_labelled_in_the_browser(
    browser: Any,  # noqa: F811
    queue: tuple[str, Path],
) -> None:
    base, reviewed = queue
    context = browser.new_context(viewport={"width": 390, "height": 844})  # a phone
    page = context.new_page()
    try:
        _sign_in(page, base, "anna")
        page.click("header >> text=Compréhension à revoir")
        page.wait_for_url(f"{base}/review")
        listed = page.locator(".review-item .review-text").all_inner_texts()
        assert "je m'appelle [name], c koi le zorglub vers Kayes, appelle [phone]" in listed
        assert "n tɔgɔ ye [name], zorglub tɛ Kayi wa" in listed
        html = page.content()
        assert "Moussa" not in html and "Keita" not in html and "76 12" not in html
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 390

        page.locator(".review-item", has_text="c koi le zorglub").locator("a.review-label").click()
        page.wait_for_url(f"{base}/review/*")
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
        page.select_option("#review-intent", "out_of_scope")
        page.check("input[name=language][value=fr]")
        # Select "Kayes" in the text, then mark it as a Malian place.
        page.evaluate(
            """() => { const t = document.getElementById('review-text');
                       const at = t.value.indexOf('Kayes');
                       t.focus(); t.setSelectionRange(at, at + 5); }"""
        )
        page.click("button.mark[data-entity=place_ml]")
        assert page.locator("input[name=entity_text]").first.input_value() == "Kayes"
        page.click("#save-label")
        page.wait_for_url(f"{base}/review?note=labelled")
        assert "Exemple enregistré" in page.content()

        page.locator(".review-item", has_text="zorglub tɛ Kayi").locator("a.review-label").click()
        page.click("#discard")
        page.wait_for_url(f"{base}/review?note=discarded")
        assert page.locator(".review-item").count() == 0
    finally:
        context.close()

    doc = yaml.safe_load(reviewed.read_text(encoding="utf-8"))
    (block,) = doc["nlu"]
    assert block["intent"] == "out_of_scope"
    assert block["metadata"]["lang"] == "fr" and block["metadata"]["labelled_by"] == "anna"
    assert block["examples"] == (
        "- je m'appelle [name], c koi le zorglub vers [Kayes](place_ml), appelle [phone]\n"
    )
    text = reviewed.read_text(encoding="utf-8")
    assert "Moussa" not in text and "76 12" not in text and "Awa" not in text
