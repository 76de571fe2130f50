"""Accounts, sessions, CSRF, lock-out, audit, and the permission check for every route
and role, hand-made URLs to another partner's service or another language included."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from starlette.routing import BaseRoute

from bot.content.store import ContentStore
from bot.store import accounts as account_store
from bot.store import runs
from bot.store.db import Database
from bot.store.models import utcnow
from bot.web.console import app as console
from bot.web.console.app import MAX_FAILURES, PREFIX, PUBLIC, Guard
from bot.web.console.cases import case_routes
from bot.web.console.content import content_routes
from bot.web.console.limits import MAX_ADDRESS_FAILURES
from bot.web.console.passwords import verify_password
from bot.web.console.permissions import ALLOWED, Action, Role, allowed
from bot.web.console.topics import topic_routes
from tests.web.console_support import (
    ACCOUNTS,
    HASH,
    OTHER_CASE,
    OWN_CASE,
    PASSWORD,
    add_accounts,
    add_cases,
    client,
    console_app,
    content_desk,
    sign_in,
    token_in,
)

#: A new password the tests choose.
NEW = "my own new password"

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
    # Broadcasts: every page and action (editors and admins only).
    ("GET", "/broadcasts", Action.BROADCASTS, None),
    ("GET", "/broadcasts/new", Action.BROADCASTS, None),
    ("POST", "/broadcasts/new", Action.BROADCASTS, None),
    ("GET", "/broadcasts/audience?languages=fr", Action.BROADCASTS, None),
    ("GET", "/broadcasts/legal_paths_reminder", Action.BROADCASTS, None),
    ("GET", "/broadcasts/legal_paths_reminder/edit", Action.BROADCASTS, None),
    ("POST", "/broadcasts/legal_paths_reminder/edit", Action.BROADCASTS, None),
    ("GET", "/broadcasts/legal_paths_reminder/send", Action.BROADCASTS, None),
    ("POST", "/broadcasts/legal_paths_reminder/send", Action.BROADCASTS, None),
    ("GET", "/broadcasts/runs/{run}", Action.BROADCASTS, None),
    ("GET", "/broadcasts/runs/{run}/progress", Action.BROADCASTS, None),
    ("POST", "/broadcasts/runs/{run}/cancel", Action.BROADCASTS, None),
    # Voice notes: translators only in their languages.
    ("GET", "/voice/bm", Action.VOICE, "bm"),
    ("GET", "/voice/ff", Action.VOICE, "ff"),
    ("GET", "/voice/bm/{key}", Action.VOICE, "bm"),
    ("POST", "/voice/bm/{key}", Action.VOICE, "bm"),
    ("POST", "/voice/ff/{key}", Action.VOICE, "ff"),
    ("GET", "/voice/bm/{key}/audio", Action.VOICE, "bm"),
    # The draft the POST above made, heard then dropped.
    ("GET", "/voice/bm/{key}/draft.ogg", Action.VOICE, "bm"),
    ("POST", "/voice/bm/{key}/discard", Action.VOICE, "bm"),
    ("POST", "/voice/ff/{key}/discard", Action.VOICE, "ff"),
    # The partners' inbox and its export: every role that may see it, each its own scope.
    ("GET", "/cases", Action.CASES, None),
    ("GET", "/cases.csv", Action.CASES, None),
    # A filter naming another partner's service, on the page and the export: forged.
    ("GET", "/cases?service=another_partner", Action.CASE, "another_partner"),
    ("GET", "/cases.csv?service=another_partner", Action.CASE, "another_partner"),
    (
        "GET",
        f"/services/legal_aid_bamako/cases/{OWN_CASE}",
        Action.CASE,
        "legal_aid_bamako",
    ),
    # Another partner's case, by its own service's URL.
    ("GET", f"/services/another_partner/cases/{OTHER_CASE}", Action.CASE, "another_partner"),
    (
        "POST",
        f"/services/legal_aid_bamako/cases/{OWN_CASE}/notes",
        Action.CASE_WORK,
        "legal_aid_bamako",
    ),
    (
        "POST",
        f"/services/another_partner/cases/{OTHER_CASE}/notes",
        Action.CASE_WORK,
        "another_partner",
    ),
    (
        "POST",
        f"/services/legal_aid_bamako/cases/{OWN_CASE}/assign",
        Action.CASE_WORK,
        "legal_aid_bamako",
    ),
    (
        "POST",
        f"/services/another_partner/cases/{OTHER_CASE}/status",
        Action.CASE_WORK,
        "another_partner",
    ),
    (
        "POST",
        f"/services/legal_aid_bamako/cases/{OWN_CASE}/status",
        Action.CASE_WORK,
        "legal_aid_bamako",
    ),
    (
        "POST",
        f"/services/legal_aid_bamako/cases/{OWN_CASE}/reroute",
        Action.REROUTE,
        "legal_aid_bamako",
    ),
    ("GET", "/response-times", Action.RESPONSE_TIMES, None),
    ("GET", "/handovers", Action.HANDOVERS, None),
    # Content: translators and reviewers only their languages (bm), a hand-made URL to ff.
    ("GET", "/content", Action.CONTENT_STATUS, None),
    ("GET", "/content/bm", Action.CONTENT, "bm"),
    ("GET", "/content/ff", Action.CONTENT, "ff"),
    ("GET", "/content/bm/help.text", Action.CONTENT, "bm"),
    ("GET", "/content/ff/help.text", Action.CONTENT, "ff"),
    ("POST", "/content/bm/help.text/check", Action.CONTENT, "bm"),
    ("POST", "/content/ff/help.text/check", Action.CONTENT, "ff"),
    ("GET", "/content/bm/export.csv", Action.CONTENT, "bm"),
    ("GET", "/content/ff/export.xlsx", Action.CONTENT, "ff"),
    ("POST", "/content/bm/help.text", Action.CONTENT_EDIT, "bm"),
    ("POST", "/content/ff/help.text", Action.CONTENT_EDIT, "ff"),
    ("POST", "/content/bm/help.text/discard", Action.CONTENT_EDIT, "bm"),
    ("POST", "/content/ff/help.text/discard", Action.CONTENT_EDIT, "ff"),
    ("POST", "/content/bm/import", Action.CONTENT_EDIT, "bm"),
    ("POST", "/content/ff/import", Action.CONTENT_EDIT, "ff"),
    ("POST", "/content/bm/import/apply", Action.CONTENT_EDIT, "bm"),
    ("POST", "/content/ff/import/apply", Action.CONTENT_EDIT, "ff"),
    ("POST", "/content/bm/help.text/review", Action.CONTENT_REVIEW, "bm"),
    ("POST", "/content/ff/help.text/review", Action.CONTENT_REVIEW, "ff"),
    # Modules and quizzes: editors and admins only.
    ("GET", "/topics", Action.TOPICS, None),
    ("GET", "/topics/family_debt", Action.TOPICS, None),
    ("POST", "/topics/family_debt/cards/0/move", Action.TOPICS_EDIT, None),
    ("POST", "/topics/family_debt/cards/3", Action.TOPICS_EDIT, None),
    ("POST", "/topics/family_debt/quiz/q1", Action.TOPICS_EDIT, None),
    ("POST", "/topics/family_debt/discard", Action.TOPICS_EDIT, None),
    ("GET", "/publish", Action.PUBLISH, None),
    ("POST", "/publish", Action.PUBLISH, None),
    ("GET", "/publish/1", Action.PUBLISH, None),
    ("POST", "/publish/1/rollback", Action.PUBLISH, None),
    # The NLU review queue; an item that does not exist (labelled meanwhile) goes back
    # to the queue.
    ("GET", "/review", Action.REVIEW, None),
    ("GET", "/review/reviewed.yml", Action.REVIEW, None),
    ("GET", "/review/987654321", Action.REVIEW, None),
    ("POST", "/review/987654321", Action.REVIEW, None),
    ("POST", "/review/987654321/discard", Action.REVIEW, None),
    # NLU retraining: admins only (the test console's launcher starts a harmless command).
    ("GET", "/nlu", Action.NLU, None),
    ("POST", "/nlu/retrain", Action.NLU, None),
    ("POST", "/nlu/rollback", Action.NLU, None),
    ("GET", "/password", Action.PASSWORD, None),
    # Last: the account's own password changes (its session goes on).
    ("POST", "/password", Action.PASSWORD, None),
]

#: The first page of an OGG/Opus stream (header only): a voice note the console takes as is.
OPUS = (
    b"OggS\x00\x02"
    + bytes(8)
    + b"\x01\x00\x00\x00"
    + bytes(8)
    + b"\x01\x13"
    + b"OpusHead\x01\x01\x38\x01\x80\xbb\x00\x00\x00\x00\x00"
    + b"voice data"
)
ONEOFF = {
    "kind": "oneoff",
    "when": "2030-01-07T10:00",
    "message": "broadcast.legal_paths_reminder",
    "languages": ["fr", "bm"],
}
#: What a case's POST sends (a note, a move): the default form.
CASE_FORM: dict[str, dict[str, Any]] = {"data": {"text": "a note", "status": "received"}}
#: What each POST sends besides its CSRF token (a valid change, so allowed roles get 303).
FORMS: dict[str, dict[str, Any]] = {
    "/broadcasts/new": {"data": {**ONEOFF, "name": "access_check"}},
    "/broadcasts/legal_paths_reminder/edit": {"data": ONEOFF},
    "/broadcasts/legal_paths_reminder/send": {"data": {"confirm": "yes"}},
    "/voice/bm/{key}": {"files": {"file": ("note.ogg", OPUS, "audio/ogg")}},
    "/voice/ff/{key}": {"files": {"file": ("note.ogg", OPUS, "audio/ogg")}},
    "/topics/family_debt/cards/0/move": {"data": {"direction": "down", "revision": "0"}},
    "/voice/bm/{key}/discard": {"data": {"revision": "1"}},
    "/voice/ff/{key}/discard": {"data": {"revision": "1"}},
    "/password": {
        "data": {"current": PASSWORD, "new": "my own new password", "again": "my own new password"}
    },
}

#: Routes whose allowed answer may be a refusal of the input (422, 409) or 404 (no such
#: release): only 403 says "not allowed".
CONTENT_ROUTES = ("/content", "/publish", "/topics")
#: The live voice note, absent until a draft is published: 404 for those allowed.
MAY_BE_ABSENT = ("/voice/bm/{key}/audio",)


def expected(role: str, action: Action, scope: str | None) -> bool:
    services = ("legal_aid_bamako",) if role == "partner" else ()
    languages = ("bm",) if role in ("translator", "reviewer") else ()
    if action not in ALLOWED[Role(role)]:
        return False
    if action in (Action.SERVICE, Action.CASE, Action.CASE_WORK) and role == "partner":
        return scope in services
    scoped = (
        Action.TRANSLATIONS,
        Action.VOICE,
        Action.CONTENT,
        Action.CONTENT_EDIT,
        Action.CONTENT_REVIEW,
    )
    if action in scoped and role in ("translator", "reviewer"):
        return scope in languages
    return True


def all_routes() -> list[BaseRoute]:
    """The console's own routes and those of its other modules, as it is served."""
    return [*case_routes(), *content_routes(), *topic_routes(), *console.console_routes()]


def test_the_content_rights_of_each_role() -> None:
    """Viewers and partners nothing; translators edit, reviewers also review, their
    languages; editors everything, publishing included."""
    content = {Action.CONTENT, Action.CONTENT_EDIT, Action.CONTENT_REVIEW, Action.PUBLISH}
    assert not content & ALLOWED[Role.VIEWER] and not content & ALLOWED[Role.PARTNER]
    assert content <= ALLOWED[Role.EDITOR] and content <= ALLOWED[Role.ADMIN]
    assert Action.CONTENT_REVIEW not in ALLOWED[Role.TRANSLATOR]
    assert Action.PUBLISH not in ALLOWED[Role.TRANSLATOR] | ALLOWED[Role.REVIEWER]
    assert Action.CONTENT_REVIEW in ALLOWED[Role.REVIEWER]


def test_only_editors_and_admins_edit_modules() -> None:
    modules = {Action.TOPICS, Action.TOPICS_EDIT}
    for role in Role:
        if role in (Role.EDITOR, Role.ADMIN):
            assert modules <= ALLOWED[role]
        else:
            assert not modules & ALLOWED[role], role


def test_every_console_route_is_guarded_or_public() -> None:
    for route in all_routes():
        path = route.path  # type: ignore[attr-defined]
        if path in PUBLIC:
            continue
        guard = getattr(route.endpoint, "guard", None)  # type: ignore[attr-defined]
        assert isinstance(guard, Guard), f"{path} has no permission check"


def test_the_pages_list_covers_every_guarded_route() -> None:
    guarded = {
        route.path  # type: ignore[attr-defined]
        for route in all_routes()
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
        "/password",
        "/broadcasts",
        "/broadcasts/new",
        "/broadcasts/audience",
        "/broadcasts/{name}",
        "/broadcasts/{name}/edit",
        "/broadcasts/{name}/send",
        "/broadcasts/runs/{run}",
        "/broadcasts/runs/{run}/progress",
        "/broadcasts/runs/{run}/cancel",
        "/voice/{language}",
        "/voice/{language}/{key}",
        "/voice/{language}/{key}/audio",
        "/voice/{language}/{key}/draft.ogg",
        "/voice/{language}/{key}/discard",
        "/cases",
        "/cases.csv",
        "/services/{service}/cases/{reference}",
        "/services/{service}/cases/{reference}/status",
        "/services/{service}/cases/{reference}/notes",
        "/services/{service}/cases/{reference}/assign",
        "/services/{service}/cases/{reference}/reroute",
        "/response-times",
        "/handovers",
        "/content",
        "/content/{language}",
        "/content/{language}/export.{fmt}",
        "/content/{language}/import",
        "/content/{language}/import/apply",
        "/content/{language}/{key}",
        "/content/{language}/{key}/check",
        "/content/{language}/{key}/review",
        "/content/{language}/{key}/discard",
        "/publish",
        "/publish/{release}",
        "/publish/{release}/rollback",
        "/review",
        "/review/reviewed.yml",
        "/review/{item:int}",
        "/review/{item:int}/discard",
        "/nlu",
        "/nlu/retrain",
        "/nlu/rollback",
        "/topics",
        "/topics/{topic}",
        "/topics/{topic}/discard",
        "/topics/{topic}/cards/{card}",
        "/topics/{topic}/cards/{card}/move",
        "/topics/{topic}/quiz/{question}",
    }
    assert guarded == templates


def fill(path: str, run_id: int, key: str) -> str:
    return path.replace("{run}", str(run_id)).replace("{key}", key)


@pytest.mark.parametrize("name", sorted(ACCOUNTS))
async def test_each_role_against_each_page(
    database: Database, content_copy: Path, name: str
) -> None:
    await add_accounts(database)
    async with database.transaction() as session:
        run_id = await runs.create_run(session, name="legal_paths_reminder")
    content = ContentStore(content_copy)
    key = "menu.title"  # a text in both bm and ff
    await add_cases(database)
    role = ACCOUNTS[name][0]
    desk = content_desk(database, content_copy)
    async with client(console_app(database, content, writable=True, desk=desk)) as c:
        assert (await sign_in(c, name)).status_code == 303
        home = await c.get(f"{PREFIX}/")
        token = token_in(home.text)
        for method, path, action, scope in PAGES:
            url = f"{PREFIX}{fill(path, run_id, key)}"
            if method == "POST":
                form = FORMS.get(path, CASE_FORM)
                response = await c.post(
                    url, data={"csrf": token, **form.get("data", {})}, files=form.get("files")
                )
            else:
                response = await c.get(url)
            ok = expected(role, action, scope)
            if ok and (path.startswith(CONTENT_ROUTES) or path in MAY_BE_ABSENT):
                assert response.status_code in (200, 303, 404, 409, 422), (
                    role,
                    path,
                    response.status_code,
                )
                assert response.headers.get("location") != f"{PREFIX}/login"
            elif ok:
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
        response = await c.request(method, f"{PREFIX}{fill(path, 1, 'menu.title')}")
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


async def test_a_one_time_password_is_changed_before_anything_else(
    database: Database, content_store: ContentStore
) -> None:
    """An account made or reset by someone else: every page leads to the password page,
    the current password is asked, and the change is in the audit log."""
    async with database.transaction() as session:
        await account_store.create_account(
            session,
            name="newcomer",
            role="viewer",
            password_hash=HASH,
            must_change_password=True,
        )
    async with client(console_app(database, content_store)) as c:
        signed = await sign_in(c, "newcomer")
        assert signed.headers["location"] == f"{PREFIX}/password"
        for path in ("/", "/dashboard/reach", "/dashboard/reach/headline.csv"):
            elsewhere = await c.get(f"{PREFIX}{path}")
            assert (elsewhere.status_code, elsewhere.headers["location"]) == (
                303,
                f"{PREFIX}/password",
            )
        form = await c.get(f"{PREFIX}/password")
        assert form.status_code == 200 and "choisissez le vôtre" in form.text
        token = token_in(form.text)
        wrong = await c.post(
            f"{PREFIX}/password",
            data={"csrf": token, "current": "not it at all", "new": NEW, "again": NEW},
        )
        assert wrong.status_code == 400 and "actuel n&#39;est pas le bon" in wrong.text
        done = await c.post(
            f"{PREFIX}/password",
            data={"csrf": token, "current": PASSWORD, "new": NEW, "again": NEW},
        )
        assert done.status_code == 303
        assert (await c.get(f"{PREFIX}/dashboard/reach")).status_code == 200
    async with database.reading() as session:
        account = await account_store.account_by_name(session, "newcomer")
        log = await account_store.audit_log(session)
    assert account is not None and not account.must_change_password
    assert verify_password(account.password_hash, NEW)
    assert ("newcomer", "password.change") in [(e.actor, e.action) for e in log]


async def test_a_changed_password_ends_the_other_sessions_only(
    database: Database, content_store: ContentStore
) -> None:
    await add_accounts(database)
    app = console_app(database, content_store)
    async with client(app) as here, client(app) as elsewhere:
        await sign_in(here, "vic")
        await sign_in(elsewhere, "vic")
        token = token_in((await here.get(f"{PREFIX}/password")).text)
        changed = await here.post(
            f"{PREFIX}/password",
            data={"csrf": token, "current": PASSWORD, "new": NEW, "again": NEW},
        )
        assert changed.status_code == 303
        page = await here.get(changed.headers["location"])
        assert page.status_code == 200 and "vos autres sessions sont fermées" in page.text
        assert (await elsewhere.get(f"{PREFIX}/")).status_code == 303
        assert (await sign_in(elsewhere, "vic")).status_code == 401
        assert (await sign_in(elsewhere, "vic", NEW)).status_code == 303


@pytest.mark.parametrize(
    ("current", "new", "again", "message"),
    [
        (PASSWORD, NEW, NEW + "x", "sont différents"),
        (PASSWORD, "short", "short", "trop court"),
        (PASSWORD, PASSWORD, PASSWORD, "différent de l&#39;actuel"),
    ],
)
async def test_a_new_password_is_checked(
    database: Database,
    content_store: ContentStore,
    current: str,
    new: str,
    again: str,
    message: str,
) -> None:
    await add_accounts(database)
    async with client(console_app(database, content_store)) as c:
        await sign_in(c, "vic")
        token = token_in((await c.get(f"{PREFIX}/password")).text)
        refused = await c.post(
            f"{PREFIX}/password",
            data={"csrf": token, "current": current, "new": new, "again": again},
        )
        assert refused.status_code == 400 and message in refused.text
        forged = await c.post(
            f"{PREFIX}/password", data={"current": PASSWORD, "new": NEW, "again": NEW}
        )
        assert forged.status_code == 403
    async with database.reading() as session:
        vic = await account_store.account_by_name(session, "vic")
    assert vic is not None and verify_password(vic.password_hash, PASSWORD)


async def test_too_many_failures_from_one_address_refuse_it_whatever_the_name(
    database: Database, content_store: ContentStore
) -> None:
    await add_accounts(database)
    async with client(console_app(database, content_store)) as c:
        for i in range(MAX_ADDRESS_FAILURES):
            # A different name each time: no account is ever locked.
            assert (await sign_in(c, f"guess{i}", "wrong password!")).status_code == 401
        refused = await sign_in(c, "ada")
        assert refused.status_code == 429
        assert "depuis cette adresse" in refused.text and "15 minutes" in refused.text
        # Without a trusted proxy the header is the browser's own word: not believed.
        spoofed = await sign_in(c, "ada", headers={"X-Forwarded-For": "198.51.100.7"})
        assert spoofed.status_code == 429
    async with database.reading() as session:
        ada = await account_store.account_by_name(session, "ada")
    assert ada is not None and ada.locked_until is None


async def test_behind_a_trusted_proxy_the_forwarded_address_is_counted(
    database: Database, content_store: ContentStore
) -> None:
    await add_accounts(database)
    # The in-process client connects from 127.0.0.1: the proxy here.
    app = console_app(database, content_store, trusted_proxies=("127.0.0.1",))
    attacker = {"X-Forwarded-For": "198.51.100.7"}
    async with client(app) as c:
        for i in range(MAX_ADDRESS_FAILURES):
            await sign_in(c, f"guess{i}", "wrong password!", headers=attacker)
        assert (await sign_in(c, "ada", headers=attacker)).status_code == 429
        # Another browser behind the same proxy is not refused.
        other = {"X-Forwarded-For": "203.0.113.9"}
        assert (await sign_in(c, "ada", headers=other)).status_code == 303


def test_the_forwarded_address_is_the_last_one_no_trusted_proxy_wrote() -> None:
    from starlette.requests import Request

    from bot.web.console.limits import client_address, networks

    def request(peer: str, forwarded: str | None) -> Request:
        headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded else []
        return Request({"type": "http", "headers": headers, "client": (peer, 1234)})

    trusted = networks(["10.0.0.0/8"])
    # The browser wrote "1.1.1.1" itself; the proxy appended the real peer it saw.
    assert client_address(request("10.0.0.2", "1.1.1.1, 203.0.113.5"), trusted) == "203.0.113.5"
    assert client_address(request("10.0.0.2", "203.0.113.5, 10.0.0.3"), trusted) == "203.0.113.5"
    assert client_address(request("198.51.100.1", "1.1.1.1"), trusted) == "198.51.100.1"
    assert client_address(request("10.0.0.2", None), trusted) == "10.0.0.2"
    assert client_address(request("10.0.0.2", "1.1.1.1"), ()) == "10.0.0.2"
