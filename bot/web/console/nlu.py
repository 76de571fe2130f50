"""The admins' NLU page: retraining runs, the latest comparison, retrain and undo buttons.

The runs are ``kunnafoni nlu retrain`` runs (:mod:`bot.nlu.runs`); the buttons start that
command (or ``rollback``) as a child process and return at once, so training never blocks
the console or the bot. Each start is recorded in the audit log.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from bot.nlu.runs import RetrainLauncher, read_runs
from bot.store import accounts as account_store
from bot.store.accounts import Account
from bot.store.db import Database
from bot.web.console.guard import PREFIX, guarded, page
from bot.web.console.permissions import Action

#: Runs listed on the page, newest first.
SHOWN_RUNS = 20
#: What the page says after a button (``?notice=``); anything else is ignored.
NOTICES = frozenset({"started", "busy", "unavailable"})


def launcher_of(request: Request) -> RetrainLauncher:
    """The console's launcher (one per console, so one run at a time)."""
    state = request.app.state
    launcher = getattr(state, "nlu_launcher", None)
    if launcher is None:
        launcher = state.nlu_launcher = RetrainLauncher()
    return launcher


def comparison(run: dict[str, Any]) -> dict[str, Any] | None:
    """Rows of the latest run's held-out tables: per language group and per intent."""
    heldout = run.get("heldout")
    if not isinstance(heldout, dict):
        return None
    current, candidate = heldout.get("current") or {}, heldout.get("candidate") or {}

    def rows(section: str, figure: str) -> list[dict[str, Any]]:
        out = []
        for name, before in (current.get(section) or {}).items():
            after = (candidate.get(section) or {}).get(name) or {}
            b, a = before.get(figure), after.get(figure)
            out.append(
                {
                    "name": name,
                    "n": before.get("n"),
                    "current": b,
                    "candidate": a,
                    "change": None if b is None or a is None else a - b,
                }
            )
        return out

    return {"groups": rows("groups", "macro_f1"), "intents": rows("intents", "f1")}


@guarded(Action.NLU)
async def nlu_page(request: Request) -> Response:
    launcher = launcher_of(request)
    runs = list(reversed(read_runs(launcher.runs_dir)))
    latest = runs[0] if runs else None
    return page(
        request,
        "nlu.html",
        {
            "runs": runs[:SHOWN_RUNS],
            "latest": latest,
            "table": comparison(latest) if latest else None,
            "busy": launcher.busy,
            "available": launcher.available,
            "can_undo": any(run.get("status") == "promoted" for run in runs),
            "notice": notice if (notice := request.query_params.get("notice")) in NOTICES else None,
        },
    )


async def _start(request: Request, action: str) -> Response:
    me: Account = request.state.account
    launcher = launcher_of(request)
    if not launcher.start(action, me.name):
        notice = "busy" if launcher.busy else "unavailable"
        return RedirectResponse(f"{PREFIX}/nlu?notice={notice}", status_code=303)
    database: Database = request.app.state.database
    async with database.transaction() as db:
        await account_store.audit(db, actor=me.name, action=f"nlu.{action}", detail="")
    return RedirectResponse(f"{PREFIX}/nlu?notice=started", status_code=303)


@guarded(Action.NLU)
async def retrain(request: Request) -> Response:
    """Start a retraining run (train, compare, promote if not worse)."""
    return await _start(request, "retrain")


@guarded(Action.NLU)
async def rollback(request: Request) -> Response:
    """Load again the model the latest promotion replaced."""
    return await _start(request, "rollback")


def nlu_routes() -> list[BaseRoute]:
    return [
        Route("/nlu", nlu_page, methods=["GET"]),
        Route("/nlu/retrain", retrain, methods=["POST"]),
        Route("/nlu/rollback", rollback, methods=["POST"]),
    ]
