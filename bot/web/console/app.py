"""The console's pages and the one permission check every page goes through.

Mounted at ``/console`` on the service's ASGI app (:func:`bot.web.app.build_web_app`).
Sessions are Starlette's signed cookies (``HttpOnly``, ``SameSite=strict``, ``Secure``
outside local runs) holding the account id, the time of sign-in, a CSRF token and the
label language; the account is read again on every request, so a disabled account or a
changed password ends its sessions at once.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from bot.content.catalog import Catalog
from bot.content.coverage import coverage
from bot.content.publish import ContentPublisher
from bot.content.recording import find_ffmpeg
from bot.content.releases import ContentDesk
from bot.content.store import ContentStore
from bot.store import accounts as account_store
from bot.store import dashboard
from bot.store.accounts import Account
from bot.store.db import Database
from bot.store.models import utcnow
from bot.web.console.broadcasts import broadcast_routes
from bot.web.console.guard import (
    PREFIX,
    SESSION_SECONDS,
    Guard,
    _label,
    csrf_ok,
    csrf_token,
    current_account,
    guarded,
    language,
    page,
)
from bot.web.console.i18n import LANGUAGES, translator
from bot.web.console.limits import AddressLimiter, client_address, networks
from bot.web.console.nlu import nlu_routes
from bot.web.console.passwords import (
    hash_password_off_loop,
    password_problem,
    verify_password_off_loop,
)
from bot.web.console.permissions import Action, Role
from bot.web.console.review import ReviewPages
from bot.web.console.tables import Published, publish, to_csv
from bot.web.console.voice import voice_routes

__all__ = [
    "MAX_FAILURES",
    "PREFIX",
    "PUBLIC",
    "Guard",
    "build_console",
    "console_routes",
    "current_account",
    "guarded",
    "page",
]

logger = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
STATIC = HERE.parent / "static"
COOKIE = "kunnafoni_console"
#: Wrong passwords in a row before the account is locked, and for how long.
MAX_FAILURES = 5
LOCK_MINUTES = 15
#: A custom period longer than this is cut (the queries stay aggregate, but bounded).
MAX_DAYS = 366

# --- Sign in and out -------------------------------------------------------------------


async def login_form(request: Request) -> Response:
    return page(request, "login.html")


async def login(request: Request) -> Response:
    """Check the password; five wrong ones in a row lock the account for a while, and
    too many wrong ones from one address refuse that address for a while (any name)."""
    form = await request.form()
    if not await csrf_ok(request):
        return page(request, "login.html", {"error": "login.csrf"}, status=403)
    name = str(form.get("name") or "").strip()[:64]
    password = str(form.get("password") or "")
    database: Database = request.app.state.database
    now = request.app.state.clock()
    limiter: AddressLimiter = request.app.state.limiter
    address = client_address(request, request.app.state.trusted_proxies)
    wait = limiter.minutes_left(address, now)
    if wait is not None:
        return page(request, "login.html", {"error": "login.too_many", "minutes": wait}, status=429)
    async with database.reading() as db:
        account = await account_store.account_by_name(db, name)
    if account is not None and account.locked_until is not None and account.locked_until > now:
        minutes = max(1, int((account.locked_until - now).total_seconds() // 60) + 1)
        return page(
            request, "login.html", {"error": "login.locked", "minutes": minutes}, status=429
        )
    # Outside any transaction (SQLite's writers would wait for the hash) and off the loop.
    good = await verify_password_off_loop(account.password_hash if account else None, password)
    async with database.transaction() as db:
        if account is None or not good or not account.active:
            limiter.failed(address, now)
            if account is not None:
                failures = account.failed_logins + 1
                lock = now + timedelta(minutes=LOCK_MINUTES) if failures >= MAX_FAILURES else None
                await account_store.record_login_failure(db, account.id, locked_until=lock)
                if lock is not None:
                    await account_store.audit(db, actor=name, action="login.locked")
                    logger.warning("A console account was locked after %d failures", failures)
            return page(request, "login.html", {"error": "login.failed"}, status=401)
        await account_store.record_login_success(db, account.id)
    # A new session: a token of before the sign-in is not carried over.
    lang = language(request)
    request.session.clear()
    request.session.update({"account": account.id, "since": now.timestamp(), "lang": lang})
    csrf_token(request)
    first = f"{PREFIX}/password" if account.must_change_password else f"{PREFIX}/"
    return RedirectResponse(first, status_code=303)


@guarded(Action.HOME, before_new_password=True)
async def logout(request: Request) -> Response:
    lang = language(request)
    request.session.clear()
    request.session["lang"] = lang
    return RedirectResponse(f"{PREFIX}/login?bye=1", status_code=303)


async def switch_language(request: Request) -> Response:
    """The labels' language (a preference of this browser, changes no data)."""
    code = request.path_params["code"]
    if code in LANGUAGES:
        request.session["lang"] = code
    back = request.headers.get("referer", "")
    target = back if back.startswith(str(request.base_url)) else f"{PREFIX}/"
    return RedirectResponse(target, status_code=303)


@guarded(Action.PASSWORD)
async def password_form(request: Request) -> Response:
    return page(request, "password.html")


@guarded(Action.PASSWORD)
async def change_password(request: Request) -> Response:
    """The signed-in account's own password: the current one first, then the new one
    twice. Every other session of the account ends; this one goes on."""
    me: Account = request.state.account
    form = await request.form()
    current = str(form.get("current") or "")
    new, again = str(form.get("new") or ""), str(form.get("again") or "")
    now = request.app.state.clock()
    limiter: AddressLimiter = request.app.state.limiter
    address = client_address(request, request.app.state.trusted_proxies)
    wait = limiter.minutes_left(address, now)
    if wait is not None:
        context = {"error": "login.too_many", "minutes": wait}
        return page(request, "password.html", context, status=429)
    if not await verify_password_off_loop(me.password_hash, current):
        # Counted like a failed sign-in: the page must not become a way to guess.
        limiter.failed(address, now)
        return page(request, "password.html", {"error": "password.wrong_current"}, status=400)
    problem = None
    if new != again:
        problem = "password.differ"
    elif password_problem(new) is not None:
        problem = "password.too_short"
    elif new == current:
        problem = "password.same"
    if problem is not None:
        return page(request, "password.html", {"error": problem}, status=400)
    database: Database = request.app.state.database
    new_hash = await hash_password_off_loop(new)
    async with database.transaction() as db:
        await account_store.set_password_hash(db, me.name, new_hash, at=now)
        await account_store.audit(db, actor=me.name, action="password.change")
    # Sessions signed before ``now`` are no longer valid: this one is signed again.
    request.session["since"] = now.timestamp()
    request.session["csrf"] = secrets.token_urlsafe(24)
    return RedirectResponse(f"{PREFIX}/?password=changed", status_code=303)


# --- Pages -----------------------------------------------------------------------------


@guarded(Action.HOME)
async def home(request: Request) -> Response:
    catalog = request.app.state.catalog()
    languages = list(catalog.languages) if catalog is not None else []
    return page(request, "home.html", {"content_languages": languages})


def period_of(request: Request) -> tuple[str, dashboard.Period]:
    """The period asked for: ``today``, ``7d``, ``30d`` (default) or ``custom``."""
    now: datetime = request.app.state.clock()
    tomorrow = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    name = request.query_params.get("period", "30d")
    if name == "custom":
        try:
            start = date.fromisoformat(request.query_params.get("start", ""))
            end = date.fromisoformat(request.query_params.get("end", ""))
        except ValueError:
            name = "30d"
        else:
            if end < start:
                start, end = end, start
            start = max(start, end - timedelta(days=MAX_DAYS - 1))
            begin = datetime.combine(start, datetime.min.time(), tzinfo=UTC)
            finish = datetime.combine(end + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
            return name, dashboard.Period(begin, finish)
    days = {"today": 1, "7d": 7}.get(name, 30)
    if name not in ("today", "7d"):
        name = "30d"
    return name, dashboard.Period(tomorrow - timedelta(days=days), tomorrow)


def filters_of(request: Request) -> dashboard.Filters:
    q = request.query_params
    values = {
        k: (q.get(k) or "").strip()[:64] or None
        for k in ("language", "place", "age", "situation", "source")
    }
    return dashboard.Filters(**values)


async def section_tables(
    request: Request, section: str, *, services: list[str] | None = None
) -> list[Published]:
    _, period = period_of(request)
    filters = filters_of(request)
    database: Database = request.app.state.database
    # The days that are over are counted into event_days by the worker, never here: a
    # section counts the raw events of the days it has not reached yet.
    async with database.reading() as db:
        if section == "reach":
            tables = await dashboard.reach(db, period, filters)
        elif section == "funnel":
            tables = await dashboard.funnel(db, period, filters)
        elif section == "modules":
            tables = await dashboard.modules(
                db, period, filters, last_cards=last_cards(request.app.state.catalog())
            )
        elif section == "understanding":
            tables = await dashboard.understanding(db, period, filters)
        elif section == "help":
            tables = await dashboard.help_desk(db, period, filters, services=services)
        else:
            tables = await dashboard.broadcasts(db, period, filters)
    return [publish(table) for table in tables]


def last_cards(catalog: Catalog | None) -> dict[str, str]:
    """Module id -> the message key of its last card (served: the module was finished)."""
    if catalog is None:
        return {}
    return {topic_id: topic.cards[-1].text for topic_id, topic in catalog.topics.items()}


@guarded(Action.DASHBOARD)
async def dashboard_page(request: Request) -> Response:
    section = request.path_params["section"]
    if section not in dashboard.SECTIONS:
        return page(request, "error.html", {"message": "error.not_found"}, status=404)
    tables = await section_tables(request, section)
    name, period = period_of(request)
    database: Database = request.app.state.database
    async with database.reading() as db:
        options = await dashboard.choices(db)
    context = {
        "section": section,
        "tables": tables,
        "period_name": name,
        "period": period,
        "days": (period.end - period.start).days,
        "filters": filters_of(request),
        "options": options,
        "query": request.url.query,
    }
    template = "section.html" if request.headers.get("hx-request") else "dashboard.html"
    return page(request, template, context)


@guarded(Action.EXPORT)
async def dashboard_csv(request: Request) -> Response:
    section, name = request.path_params["section"], request.path_params["table"]
    if section not in dashboard.SECTIONS:
        return page(request, "error.html", {"message": "error.not_found"}, status=404)
    for table in await section_tables(request, section):
        if table.name == name:
            t = translator(language(request))
            rows = [(_label(t, table, row[0]), *row[1:]) for row in table.rows]
            body = to_csv(rows, [t(f"col.{c}") for c in table.columns])
            return Response(
                body,
                media_type="text/csv; charset=utf-8",
                headers={"Content-Disposition": f'attachment; filename="{section}-{name}.csv"'},
            )
    return page(request, "error.html", {"message": "error.not_found"}, status=404)


@guarded(Action.SERVICE, scope="service")
async def service_page(request: Request) -> Response:
    service = request.path_params["service"][:40]
    tables = await section_tables(request, "help", services=[service])
    return page(request, "service.html", {"service": service, "tables": tables})


@guarded(Action.TRANSLATIONS, scope="language")
async def translations_page(request: Request) -> Response:
    code = request.path_params["language"]
    catalog = request.app.state.catalog()
    row = next((r for r in coverage(catalog) if r.language == code), None) if catalog else None
    if row is None:
        return page(request, "error.html", {"message": "error.not_found"}, status=404)
    return page(request, "translations.html", {"row": row})


@guarded(Action.USERS)
async def users_page(request: Request) -> Response:
    database: Database = request.app.state.database
    async with database.reading() as db:
        accounts = await account_store.list_accounts(db)
    return page(request, "users.html", {"accounts": accounts, "roles": list(Role)})


@guarded(Action.USERS)
async def user_state(request: Request) -> Response:
    """Disable or enable an account (recorded in the audit log)."""
    name, change = request.path_params["name"], request.path_params["change"]
    if change not in ("enable", "disable"):
        return page(request, "error.html", {"message": "error.not_found"}, status=404)
    enable = change == "enable"
    me: Account = request.state.account
    database: Database = request.app.state.database
    async with database.transaction() as db:
        at = None if enable else request.app.state.clock()
        if name != me.name and await account_store.set_disabled(db, name, at=at):
            await account_store.audit(
                db,
                actor=me.name,
                action="account.enable" if enable else "account.disable",
                detail=name,
            )
    return RedirectResponse(f"{PREFIX}/users", status_code=303)


@guarded(Action.AUDIT)
async def audit_page(request: Request) -> Response:
    database: Database = request.app.state.database
    async with database.reading() as db:
        entries = await account_store.audit_log(db)
    return page(request, "audit.html", {"entries": entries})


def console_routes() -> list[BaseRoute]:
    return [
        Route("/", home, methods=["GET"]),
        Route("/login", login_form, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/password", password_form, methods=["GET"]),
        Route("/password", change_password, methods=["POST"]),
        Route("/lang/{code}", switch_language, methods=["GET"]),
        Route("/dashboard/{section}", dashboard_page, methods=["GET"]),
        Route("/dashboard/{section}/{table}.csv", dashboard_csv, methods=["GET"]),
        Route("/services/{service}", service_page, methods=["GET"]),
        Route("/translations/{language}", translations_page, methods=["GET"]),
        Route("/users", users_page, methods=["GET"]),
        Route("/users/{name}/{change}", user_state, methods=["POST"]),
        Route("/audit", audit_page, methods=["GET"]),
        *_feature_routes(),
        *_review_routes(),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]


def _feature_routes() -> list[BaseRoute]:
    """The routes of the console's features that live in their own modules."""
    return [*broadcast_routes(), *voice_routes(), *nlu_routes()]


def _review_routes() -> list[BaseRoute]:
    """The NLU review queue's pages (their own module), drawn and guarded by this one's."""
    return ReviewPages(render=page, prefix=PREFIX).routes(guarded)


#: Routes open without signing in (everything else is guarded).
PUBLIC = frozenset({"/login", "/lang/{code}", "/static"})


def build_console(
    database: Database,
    *,
    secret: str,
    secure: bool,
    catalog: Callable[[], Catalog | None] = lambda: None,
    clock: Callable[[], datetime] = utcnow,
    trusted_proxies: tuple[str, ...] = (),
    content: ContentStore | None = None,
    publisher: ContentPublisher | None = None,
    ffmpeg: str | Literal["find"] | None = "find",
    desk: ContentDesk | None = None,
    routes: Sequence[BaseRoute] = (),
    cases: Any = None,
    nlu_data_dir: Path | None = None,
) -> Starlette:
    """The console as its own ASGI app, to mount at :data:`PREFIX`.

    ``trusted_proxies``: the addresses whose ``X-Forwarded-For`` is believed (the
    sign-in rate limit). ``content`` (with ``publisher``, which credits each change to
    its author) lets the console write content: campaigns and voice notes; without it
    those pages say the content cannot be changed from here. ``ffmpeg`` is looked for
    on ``PATH`` once, now. ``routes``: pages of other modules, guarded by
    :func:`guarded` (the partners' cases: :func:`bot.web.console.cases.case_routes`);
    ``cases``: what those pages need (a :class:`bot.web.console.cases.CaseDesk`).
    Without a ``desk`` (the content's drafts and publisher) the content pages say they
    are unavailable. ``nlu_data_dir``: where the NLU review queue writes ``reviewed.yml``
    (default: the project's nlu/data).
    """
    app = Starlette(
        routes=[*routes, *console_routes()],
        middleware=[
            Middleware(
                SessionMiddleware,
                secret_key=secret,
                session_cookie=COOKIE,
                max_age=SESSION_SECONDS,
                path=PREFIX,
                same_site="strict",
                https_only=secure,
            )
        ],
    )
    app.state.database = database
    app.state.templates = Jinja2Templates(directory=HERE / "templates")
    app.state.catalog = catalog
    app.state.clock = clock
    app.state.limiter = AddressLimiter()
    app.state.trusted_proxies = networks(trusted_proxies)
    app.state.content = content
    app.state.publisher = publisher
    app.state.ffmpeg = find_ffmpeg() if ffmpeg == "find" else ffmpeg
    app.state.cases = cases
    app.state.desk = desk
    app.state.nlu_data_dir = nlu_data_dir
    return app
