"""Accounts, sessions, CSRF, lock-out, audit, and the permission check for every route
and role, hand-made URLs to another partner's service or another language included."""

from __future__ import annotations

import pytest

from bot.content.store import ContentStore
from bot.store import accounts as account_store
from bot.store.db import Database
from bot.store.models import utcnow
from bot.web.console import app as console
from bot.web.console.app import MAX_FAILURES, PREFIX, PUBLIC, Guard
from bot.web.console.permissions import ALLOWED, Action, Role, allowed
from tests.web.console_support import (
    ACCOUNTS,
    PASSWORD,
    add_accounts,
    client,
    console_app,
    sign_in,
    token_in,
)

#: Every page and action of the console: (method, path, what it needs).
PAGES = [
    ("GET", "/", Action.HOME, None),
    ("GET", "/dashboard/reach", Action.DASHBOARD, None),
    ("GET", "/dashboard/help", Action.DASHBOARD, None),
    ("GET", "/dashboard/reach/new_users_per_day.csv", Action.EXPORT, None),
    ("GET", "/services/legal_aid_bamako", Action.SERVICE, "legal_aid_bamako"),
    # A hand-made URL to another partner's service.
    ("GET", "/services/another_partner", Action.SERVICE, "another_partner"),
    ("GET", "/translations/bm", Action.TRANSLATIONS, "bm"),
    # A hand-made URL to a language the translator was not given.
    ("GET", "/translations/ff", Action.TRANSLATIONS, "ff"),
    ("GET", "/users", Action.USERS, None),
    ("GET", "/audit", Action.AUDIT, None),
    ("POST", "/users/vic/disable", Action.USERS, None),
    # The NLU review queue; an item that does not exist (labelled meanwhile) goes back
    # to the queue.
    ("GET", "/review", Action.REVIEW, None),
    ("GET", "/review/reviewed.yml", Action.REVIEW, None),
    ("GET", "/review/987654321", Action.REVIEW, None),
    ("POST", "/review/987654321", Action.REVIEW, None),
    ("POST", "/review/987654321/discard", Action.REVIEW, None),
]


def expected(role: str, action: Action, scope: str | None) -> bool:
    services = ("legal_aid_bamako",) if role == "partner" else ()
    languages = ("bm",) if role == "translator" else ()
    if action not in ALLOWED[Role(role)]:
        return False
    if action is Action.SERVICE and role == "partner":
        return scope in services
    if action is Action.TRANSLATIONS and role == "translator":
        return scope in languages
    return True


def test_every_console_route_is_guarded_or_public() -> None:
    for route in console.console_routes():
        path = route.path  # type: ignore[attr-defined]
        if path in PUBLIC:
            continue
        guard = getattr(route.endpoint, "guard", None)  # type: ignore[attr-defined]
        assert isinstance(guard, Guard), f"{path} has no permission check"


def test_the_pages_list_covers_every_guarded_route() -> None:
    guarded = {
        route.path  # type: ignore[attr-defined]
        for route in console.console_routes()
        if route.path not in PUBLIC  # type: ignore[attr-defined]
    }
    templates = {
        "/",
        "/dashboard/{section}",
        "/dashboard/{section}/{table}.csv",
        "/services/{service}",
        "/translations/{language}",
        "/users",
        "/audit",
        "/users/{name}/{change}",
        "/logout",
        "/review",
        "/review/reviewed.yml",
        "/review/{item:int}",
        "/review/{item:int}/discard",
    }
    assert guarded == templates


@pytest.mark.parametrize("name", sorted(ACCOUNTS))
async def test_each_role_against_each_page(
    database: Database, content_store: ContentStore, name: str
) -> None:
    await add_accounts(database)
    role = ACCOUNTS[name][0]
    async with client(console_app(database, content_store)) as c:
        assert (await sign_in(c, name)).status_code == 303
        home = await c.get(f"{PREFIX}/")
        token = token_in(home.text)
        for method, path, action, scope in PAGES:
            if method == "POST":
                response = await c.post(f"{PREFIX}{path}", data={"csrf": token})
            else:
                response = await c.get(f"{PREFIX}{path}")
            ok = expected(role, action, scope)
            if ok:
                assert response.status_code in (200, 303), (role, path, response.status_code)
            else:
                assert response.status_code == 403, (role, path, response.status_code)


@pytest.mark.parametrize("method,path,action,scope", PAGES)
async def test_a_visitor_is_sent_to_sign_in(
    database: Database,
    content_store: ContentStore,
    method: str,
    path: str,
    action: Action,
    scope: str | None,
) -> None:
    async with client(console_app(database, content_store)) as c:
        response = await c.request(method, f"{PREFIX}{path}")
        assert response.status_code == 303
        assert response.headers["location"] == f"{PREFIX}/login"


def test_the_table_of_roles_is_the_one_check() -> None:
    account = account_store.Account(
        id=1,
        name="x",
        role="partner",
        password_hash="",
        services=("a",),
        languages=(),
        created_at=utcnow(),
        disabled_at=None,
        failed_logins=0,
        locked_until=None,
        password_changed_at=utcnow(),
    )
    assert allowed(account, Action.SERVICE, "a")
    assert not allowed(account, Action.SERVICE, "b")
    assert not allowed(account, Action.SERVICE, None)
    assert not allowed(account, Action.DASHBOARD)
    retired = account_store.Account(**{**account.__dict__, "disabled_at": utcnow()})
    assert not allowed(retired, Action.HOME)


async def test_a_post_without_the_csrf_token_is_refused(
    database: Database, content_store: ContentStore
) -> None:
    await add_accounts(database)
    async with client(console_app(database, content_store)) as c:
        await sign_in(c, "ada")
        refused = await c.post(f"{PREFIX}/users/vic/disable", data={})
        assert refused.status_code == 403
        forged = await c.post(f"{PREFIX}/users/vic/disable", headers={"X-CSRF-Token": "forged"})
        assert forged.status_code == 403
        token = token_in((await c.get(f"{PREFIX}/")).text)
        # htmx sends the token as a header.
        done = await c.post(f"{PREFIX}/users/vic/disable", headers={"X-CSRF-Token": token})
        assert done.status_code == 303
    async with database.reading() as session:
        vic = await account_store.account_by_name(session, "vic")
    assert vic is not None and not vic.active


async def test_the_sign_in_form_needs_its_token(
    database: Database, content_store: ContentStore
) -> None:
    await add_accounts(database)
    async with client(console_app(database, content_store)) as c:
        response = await c.post(f"{PREFIX}/login", data={"name": "ada", "password": PASSWORD})
        assert response.status_code == 403


async def test_wrong_passwords_lock_the_account_with_a_message(
    database: Database, content_store: ContentStore
) -> None:
    await add_accounts(database)
    async with client(console_app(database, content_store)) as c:
        for _ in range(MAX_FAILURES):
            assert (await sign_in(c, "ada", "wrong password!")).status_code == 401
        locked = await sign_in(c, "ada")
        assert locked.status_code == 429
        assert "bloqué" in locked.text
        assert "ada" not in (await c.get(f"{PREFIX}/login")).text
    async with database.reading() as session:
        log = await account_store.audit_log(session)
    # (Processes started by other tests on the shared PostgreSQL schema may have made a
    # first admin there: only what the console did is looked at.)
    assert [(e.actor, e.action) for e in log if e.actor != "cli"] == [("ada", "login.locked")]


async def test_a_disabled_account_loses_its_session(
    database: Database, content_store: ContentStore
) -> None:
    await add_accounts(database)
    async with client(console_app(database, content_store)) as c:
        await sign_in(c, "vic")
        assert (await c.get(f"{PREFIX}/dashboard/reach")).status_code == 200
        async with database.transaction() as session:
            await account_store.set_disabled(session, "vic", at=utcnow())
        assert (await c.get(f"{PREFIX}/dashboard/reach")).status_code == 303
        assert (await sign_in(c, "vic")).status_code == 401


async def test_a_new_password_ends_the_sessions_signed_before(
    database: Database, content_store: ContentStore
) -> None:
    await add_accounts(database)
    async with client(console_app(database, content_store)) as c:
        await sign_in(c, "vic")
        async with database.transaction() as session:
            await account_store.set_password_hash(session, "vic", "new-hash")
        assert (await c.get(f"{PREFIX}/")).status_code == 303


async def test_sign_out_ends_the_session(database: Database, content_store: ContentStore) -> None:
    await add_accounts(database)
    async with client(console_app(database, content_store)) as c:
        await sign_in(c, "vic")
        token = token_in((await c.get(f"{PREFIX}/")).text)
        out = await c.post(f"{PREFIX}/logout", data={"csrf": token})
        assert out.status_code == 303
        assert (await c.get(f"{PREFIX}/")).status_code == 303


async def test_the_session_cookie_is_httponly_and_samesite(
    database: Database, content_store: ContentStore
) -> None:
    await add_accounts(database)
    async with client(console_app(database, content_store)) as c:
        response = await sign_in(c, "vic")
        cookie = response.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie and "path=/console" in cookie


def test_the_cookie_is_secure_outside_local_runs(database: Database) -> None:
    app = console.build_console(database, secret="s" * 32, secure=True)
    options = app.user_middleware[0].kwargs
    assert options["https_only"] is True


async def test_admins_read_the_audit_log_of_console_changes(
    database: Database, content_store: ContentStore
) -> None:
    await add_accounts(database)
    async with client(console_app(database, content_store)) as c:
        await sign_in(c, "ada")
        token = token_in((await c.get(f"{PREFIX}/users")).text)
        await c.post(f"{PREFIX}/users/paula/disable", data={"csrf": token})
        page = await c.get(f"{PREFIX}/audit")
    assert page.status_code == 200
    assert "account.disable" in page.text and "paula" in page.text
