"""The admins' NLU page: runs and the latest comparison, retrain and undo buttons."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from starlette.applications import Starlette

from bot.content.store import ContentStore
from bot.nlu.runs import RetrainLauncher
from bot.store import accounts as account_store
from bot.store.db import Database
from bot.web.console.guard import PREFIX
from tests.web.console_support import add_accounts, client, console_app, sign_in, token_in

RUN: dict[str, Any] = {
    "id": "20261204T180000Z-abcd1234",
    "by": "ada",
    "status": "refused",
    "heldout": {
        "current": {
            "groups": {"fr": {"macro_f1": 0.95, "n": 40}, "bm": {"macro_f1": 0.9, "n": 30}},
            "intents": {"emergency": {"f1": 1.0, "recall": 1.0, "n": 8}},
        },
        "candidate": {
            "groups": {"fr": {"macro_f1": 0.96, "n": 40}, "bm": {"macro_f1": 0.85, "n": 30}},
            "intents": {"emergency": {"f1": 0.9, "recall": 0.875, "n": 8}},
        },
    },
    "decision": {"promote": False, "reasons": ["bm: macro-F1 0.850 < 0.900 - 0.01 (current)"]},
}


class Starts(RetrainLauncher):
    """Records what would start; ``running`` makes it look busy."""

    def __init__(self, runs_dir: Path) -> None:
        super().__init__(runs_dir, command=(sys.executable, "-c", "pass"))
        self.started: list[tuple[str, str]] = []
        self.running = False

    @property
    def busy(self) -> bool:
        return self.running

    def start(self, action: str, by: str) -> bool:
        if self.running:
            return False
        self.started.append((action, by))
        return True


def app_with(database: Database, content: ContentStore, launcher: RetrainLauncher) -> Starlette:
    app = console_app(database, content)
    app.routes[0].app.state.nlu_launcher = launcher  # type: ignore[attr-defined]
    return app


def write_run(runs_dir: Path, record: dict[str, Any]) -> None:
    folder = runs_dir / record["id"]
    folder.mkdir(parents=True)
    (folder / "run.json").write_text(json.dumps(record), encoding="utf-8")


async def test_admins_see_the_comparison_and_start_a_run_recorded_in_the_audit_log(
    database: Database, content_store: ContentStore, tmp_path: Path
) -> None:
    await add_accounts(database)
    write_run(tmp_path, RUN)
    launcher = Starts(tmp_path)
    async with client(app_with(database, content_store, launcher)) as c:
        await sign_in(c, "ada")
        page = await c.get(f"{PREFIX}/nlu")
        assert page.status_code == 200
        html = page.text
        assert RUN["id"] in html and "0.850" in html and "-0.050" in html
        assert "bm: macro-F1 0.850 &lt; 0.900" in html
        assert 'id="nlu-rollback"' not in html  # nothing promoted, nothing to undo
        started = await c.post(f"{PREFIX}/nlu/retrain", data={"csrf": token_in(html)})
        assert started.status_code == 303
        assert started.headers["location"] == f"{PREFIX}/nlu?notice=started"
    assert launcher.started == [("retrain", "ada")]
    async with database.reading() as db:
        log = await account_store.audit_log(db)
    assert any(e.actor == "ada" and e.action == "nlu.retrain" for e in log)


async def test_one_run_at_a_time_and_undo_only_after_a_promotion(
    database: Database, content_store: ContentStore, tmp_path: Path
) -> None:
    await add_accounts(database)
    write_run(tmp_path, {**RUN, "status": "promoted", "decision": {"promote": True, "reasons": []}})
    launcher = Starts(tmp_path)
    async with client(app_with(database, content_store, launcher)) as c:
        await sign_in(c, "ada")
        html = (await c.get(f"{PREFIX}/nlu")).text
        assert 'id="nlu-rollback"' in html
        token = token_in(html)
        launcher.running = True
        refused = await c.post(f"{PREFIX}/nlu/rollback", data={"csrf": token})
        assert refused.headers["location"] == f"{PREFIX}/nlu?notice=busy"
        busy = (await c.get(f"{PREFIX}/nlu?notice=busy")).text
        assert 'id="nlu-busy"' in busy and 'id="nlu-retrain"' not in busy
        forged = (await c.get(f"{PREFIX}/nlu?notice=<script>")).text
        assert "<script>" not in forged
    assert launcher.started == []


async def test_without_the_nlu_sources_there_is_no_button(
    database: Database, content_store: ContentStore, tmp_path: Path
) -> None:
    await add_accounts(database)
    launcher = RetrainLauncher(tmp_path, checkout=(tmp_path / "missing",))
    async with client(app_with(database, content_store, launcher)) as c:
        await sign_in(c, "ada")
        html = (await c.get(f"{PREFIX}/nlu")).text
        assert 'id="nlu-unavailable"' in html and 'id="nlu-retrain"' not in html
        response = await c.post(f"{PREFIX}/nlu/retrain", data={"csrf": token_in(html)})
        assert response.headers["location"] == f"{PREFIX}/nlu?notice=unavailable"


def test_the_launcher_starts_the_command_once_and_refuses_a_second(tmp_path: Path) -> None:
    launcher = RetrainLauncher(
        tmp_path, command=(sys.executable, "-c", "import time, sys; time.sleep(5)")
    )
    assert launcher.start("retrain", "ada")
    assert launcher.busy and not launcher.start("rollback", "ada")
    assert launcher._process is not None
    assert list(launcher._process.args)[-4:] == [  # type: ignore[arg-type]
        "--by",
        "ada",
        "--runs-dir",
        str(tmp_path),
    ]
    launcher._process.kill()
    launcher._process.wait()
    assert not launcher.busy
