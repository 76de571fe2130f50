"""What every console page shares: the permission check, the session's account, CSRF,
and rendering a page with the labels of the session's language.

Kept apart from :mod:`bot.web.console.app` (which builds the app and wires the routes)
so that the pages of each feature, in their own modules, use the one check without an
import cycle.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import wraps
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from bot.store import accounts as account_store
from bot.store import dashboard
from bot.store.accounts import Account
from bot.store.db import Database
from bot.web.console.i18n import LANGUAGES, translator
from bot.web.console.passwords import MIN_LENGTH
from bot.web.console.permissions import Action, allowed
from bot.web.console.tables import Published

PREFIX = "/console"
#: A session lasts a working day at most.
SESSION_SECONDS = 8 * 3600

Endpoint = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True)
class Guard:
    """What a route needs: an action, and the path parameter that scopes it."""

    action: Action
    scope: str | None = None


def guarded(
    action: Action, *, scope: str | None = None, before_new_password: bool = False
) -> Callable[[Endpoint], Endpoint]:
    """The one permission check: signed in, allowed by :func:`allowed`, and for a POST a
    valid CSRF token. Every console route but the sign-in page is wrapped in it.

    An account whose password was given by someone else sees only the page to choose its
    own (and may sign out: ``before_new_password``) until it has."""

    def wrap(endpoint: Endpoint) -> Endpoint:
        @wraps(endpoint)
        async def route(request: Request) -> Response:
            account = await current_account(request)
            if account is None:
                return RedirectResponse(f"{PREFIX}/login", status_code=303)
            request.state.account = account
            if (
                account.must_change_password
                and action is not Action.PASSWORD
                and not before_new_password
            ):
                return RedirectResponse(f"{PREFIX}/password", status_code=303)
            if request.method == "POST" and not await csrf_ok(request):
                return page(request, "error.html", {"message": "error.csrf"}, status=403)
            target = request.path_params.get(scope) if scope else None
            if not allowed(account, action, target):
                return page(request, "error.html", {"message": "error.forbidden"}, status=403)
            return await endpoint(request)

        route.guard = Guard(action, scope)  # type: ignore[attr-defined]
        return route

    return wrap


async def current_account(request: Request) -> Account | None:
    """The signed-in account, or None (and the session cleared) when there is none, it is
    disabled, its password changed since, or the session is too old."""
    session = request.session
    account_id, since = session.get("account"), session.get("since")
    if not isinstance(account_id, int) or not isinstance(since, float):
        return None
    database: Database = request.app.state.database
    async with database.reading() as db:
        account = await account_store.account_by_id(db, account_id)
    now = request.app.state.clock().timestamp()
    if (
        account is None
        or not account.active
        or account.password_changed_at.timestamp() > since
        or now - since > SESSION_SECONDS
    ):
        session.pop("account", None)
        session.pop("since", None)
        return None
    return account


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(24)
        request.session["csrf"] = token
    return token


async def csrf_ok(request: Request) -> bool:
    """A form's ``csrf`` field or htmx's ``X-CSRF-Token`` header equals the session's."""
    expected = request.session.get("csrf")
    given = request.headers.get("x-csrf-token")
    if given is None:
        form = await request.form()
        value = form.get("csrf")
        given = value if isinstance(value, str) else None
    return isinstance(expected, str) and given is not None and hmac.compare_digest(expected, given)


def language(request: Request) -> str:
    chosen = request.session.get("lang")
    return chosen if chosen in LANGUAGES else LANGUAGES[0]


def page(
    request: Request, template: str, context: dict[str, Any] | None = None, *, status: int = 200
) -> Response:
    templates: Jinja2Templates = request.app.state.templates
    lang = language(request)
    account: Account | None = getattr(request.state, "account", None)
    t = translator(lang)
    values = {
        "t": t,
        "label": lambda table, cell: _label(t, table, cell),
        "chart_of": lambda table: _chart(t, table),
        "one_day": timedelta(days=1),
        "lang": lang,
        "other_lang": next(code for code in LANGUAGES if code != lang),
        "account": account,
        "can": (
            lambda action, scope=None: (
                account is not None and allowed(account, Action(action), scope)
            )
        ),
        "csrf": csrf_token(request),
        "prefix": PREFIX,
        "min_length": MIN_LENGTH,
        "sections": dashboard.SECTIONS,
        **(context or {}),
    }
    return templates.TemplateResponse(request, template, values, status_code=status)


def _label(t: Callable[..., str], table: Published, cell: Any) -> Any:
    """A row's name: translated for headline figures and funnel steps, else as stored."""
    prefix = {"figures": "figure.", "funnel": "step."}.get(table.kind)
    return t(prefix + str(cell)) if prefix else cell


def _chart(t: Callable[..., str], table: Published) -> dict[str, Any]:
    data = table.chart()
    data["labels"] = [_label(t, table, label) for label in data["labels"]]
    for series in data["series"]:
        series["name"] = t("col." + series.pop("key"))
    return data
