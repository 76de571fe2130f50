"""The partners' inbox, their case pages, the admins' response figures and the handover desk.

Routes of the console (mounted by :func:`bot.web.console.app.console_routes`), each behind
:func:`bot.web.console.app.guarded`. Scoping works at two levels: a case's URL names its
service (``/services/{service}/cases/{reference}``), so the guard refuses another
partner's service; and every query takes the account's services
(:func:`~bot.web.console.permissions.services_in_scope`), so a reference of another service
under one's own is simply not found, and the inbox and its export hold only one's own cases.

A partner's move goes through :meth:`bot.referrals.policy.ReferralPolicy.move_from_console`,
the state machine of the Telegram buttons: the person is told in their language and the
partner chat's card is redrawn. The case page is the one place the console shows what the
person typed into the form, and only to that service's partner accounts; nothing of it,
nor a note's text, is ever logged or written to the audit log (references only).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from bot.content.catalog import Catalog
from bot.pseudonyms import pseudonym
from bot.referrals.notifier import Notifier
from bot.referrals.policy import REROUTABLE, WAITING, ReferralPolicy
from bot.referrals.status import OPEN_STATUSES, STATUSES, ReferralStatus, next_statuses
from bot.store import accounts as account_store
from bot.store import cases as case_store
from bot.store import handovers as handover_store
from bot.store import referrals as referral_repo
from bot.store.accounts import Account
from bot.store.db import Database
from bot.web.console.guard import PREFIX, guarded, language, page
from bot.web.console.i18n import translator
from bot.web.console.permissions import Action, allowed, services_in_scope
from bot.web.console.tables import to_csv

logger = logging.getLogger(__name__)

#: A note longer than this is refused (the column's size).
MAX_NOTE = 2000
#: Statuses a partner has acknowledged a case in.
ACKNOWLEDGED = (
    ReferralStatus.RECEIVED.value,
    ReferralStatus.IN_PROGRESS.value,
    ReferralStatus.CLOSED.value,
)
#: Every status a case can be in, for the filter.
ALL_STATUSES = tuple(s.value for s in ReferralStatus)
#: Days of cases the response figures cover.
FIGURES_DAYS = 90


@dataclass
class CaseDesk:
    """What the case pages need beyond the database: the referral rules, a channel to tell
    the person and redraw the partner's card (none: the move is stored, nobody is told),
    and the waits that raise a badge."""

    policy: ReferralPolicy
    notifier: Notifier | None = None
    #: A case not acknowledged this long after it was made is flagged (REFERRAL_ACK_HOURS).
    ack_after: timedelta = timedelta(hours=24)
    #: An open case with no change for this long gets a badge (REFERRAL_SLA_HOURS).
    sla_after: timedelta = timedelta(hours=72)
    #: An open relay with no message for this long is closed by the relay (0: never).
    idle_after: timedelta = timedelta(minutes=60)


def desk_of(request: Request) -> CaseDesk:
    """The console's desk; without one, the rules on its database with no partner chat
    and no channel (nothing can be re-routed, a move is stored and nobody is told)."""
    desk: CaseDesk | None = request.app.state.cases
    if desk is None:
        catalog = request.app.state.catalog
        desk = CaseDesk(ReferralPolicy(request.app.state.database, lambda: _loaded(catalog)))
        request.app.state.cases = desk
    return desk


def _loaded(catalog: Any) -> Catalog:
    found: Catalog | None = catalog()
    if found is None:
        raise RuntimeError("the console's case pages need the content catalog")
    return found


def now_of(request: Request) -> datetime:
    moment: datetime = request.app.state.clock()
    return moment


def badge(desk: CaseDesk, now: datetime, status: str, created: datetime, updated: datetime) -> str:
    """``unacknowledged`` (not acknowledged in time: the admins are told), ``late`` (open
    and unchanged past the SLA), or ``""``."""
    if status in WAITING and now - created > desk.ack_after:
        return "unacknowledged"
    if status in OPEN_STATUSES and now - updated > desk.sla_after:
        return "late"
    return ""


def waited(t: Callable[..., str], start: datetime, end: datetime) -> str:
    """A wait as people read it, in the labels' language: minutes, hours or days."""
    seconds = max(0.0, (end - start).total_seconds())
    if seconds < 3600:
        return t("wait.minutes", n=int(seconds // 60))
    if seconds < 48 * 3600:
        return t("wait.hours", n=int(seconds // 3600))
    return t("wait.days", n=int(seconds // 86400))


def _text(catalog: Catalog | None, key: str, fallback: str) -> str:
    """A label of the bot's content in its default language (needs, places), or the id."""
    if catalog is None:
        return fallback
    messages = catalog.messages[catalog.default_language]
    return catalog.text(key, None).text if key in messages else fallback


def need_label(catalog: Catalog | None, need: str) -> str:
    return _text(catalog, f"intent_label.{need}", need)


def place_label(catalog: Catalog | None, place: str | None) -> str | None:
    if place is None:
        return None
    return _text(catalog, f"place.{place}", _text(catalog, f"country.{place}", place))


def service_label(catalog: Catalog | None, service_id: str) -> str:
    service = catalog.services.get(service_id) if catalog is not None else None
    return service.organisation if service is not None else service_id


# --- The inbox -------------------------------------------------------------------------


def _filters(request: Request, desk: CaseDesk) -> tuple[case_store.CaseFilters, dict[str, str]]:
    q = request.query_params
    chosen = {
        k: (q.get(k) or "").strip()[:64]
        for k in ("status", "service", "need", "language", "q", "badge")
    }
    now = now_of(request)
    status = chosen["status"] if chosen["status"] in ALL_STATUSES else ""
    chosen["status"] = status
    badge_name = chosen["badge"] if chosen["badge"] in ("late", "unacknowledged") else ""
    chosen["badge"] = badge_name
    filters = case_store.CaseFilters(
        status=status or None,
        service=chosen["service"] or None,
        need=chosen["need"] or None,
        language=chosen["language"] or None,
        search=chosen["q"] or None,
        waiting_since=now - desk.sla_after if badge_name == "late" else None,
        statuses=OPEN_STATUSES if badge_name == "late" else None,
        unacknowledged=(WAITING, now - desk.ack_after) if badge_name == "unacknowledged" else None,
    )
    return filters, chosen


def _refused(request: Request) -> Response:
    return page(request, "error.html", {"message": "error.forbidden"}, status=403)


def _not_found(request: Request) -> Response:
    return page(request, "error.html", {"message": "error.not_found"}, status=404)


async def _inbox_rows(
    request: Request, *, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int, dict[str, str]] | None:
    """The inbox's rows for the signed-in account, or None when a filter names a service
    out of its scope (a forged URL)."""
    account: Account = request.state.account
    desk = desk_of(request)
    filters, chosen = _filters(request, desk)
    if filters.service and not allowed(account, Action.CASE, filters.service):
        return None
    services = services_in_scope(account, Action.CASE)
    database: Database = request.app.state.database
    async with database.reading() as db:
        found, total = await case_store.list_cases(
            db, services=services, filters=filters, limit=limit, offset=offset
        )
    catalog = request.app.state.catalog()
    now = now_of(request)
    t = translator(language(request))
    rows = [
        {
            "case": row,
            "service": service_label(catalog, row.service_id),
            "need": need_label(catalog, row.need),
            "place": place_label(catalog, row.location),
            "age": waited(t, row.created_at, now),
            "since_change": waited(t, row.updated_at, now),
            "badge": badge(desk, now, row.status, row.created_at, row.updated_at),
        }
        for row in found
    ]
    return rows, total, chosen


@guarded(Action.CASES)
async def inbox(request: Request) -> Response:
    """The cases of the account's services (every service for an admin), with filters."""
    try:
        page_number = max(1, int(request.query_params.get("page", "1")))
    except ValueError:
        page_number = 1
    size = case_store.PAGE_SIZE
    found = await _inbox_rows(request, limit=size, offset=(page_number - 1) * size)
    if found is None:
        return _refused(request)
    rows, total, chosen = found
    account: Account = request.state.account
    database: Database = request.app.state.database
    scope = services_in_scope(account, Action.CASE)
    desk = desk_of(request)
    late = case_store.CaseFilters(unacknowledged=(WAITING, now_of(request) - desk.ack_after))
    async with database.reading() as db:
        options = await case_store.choices(db, services=scope)
        # Flagged at the top, for the admins above all: cases nobody acknowledged in time.
        _, unacknowledged = await case_store.list_cases(db, services=scope, filters=late, limit=0)
    query = urlencode({k: v for k, v in chosen.items() if v})
    context = {
        "rows": rows,
        "total": total,
        "chosen": chosen,
        "options": options,
        "statuses": ALL_STATUSES,
        "page_number": page_number,
        "pages": max(1, -(-total // size)),
        "query": query,
        "unacknowledged": unacknowledged,
        "sla_hours": f"{desk_of(request).sla_after.total_seconds() / 3600:g}",
        "ack_hours": f"{desk_of(request).ack_after.total_seconds() / 3600:g}",
    }
    return page(request, "cases.html", context)


@guarded(Action.CASES)
async def inbox_csv(request: Request) -> Response:
    """The inbox as CSV, the same rows and scope as the page (no name, phone or words)."""
    found = await _inbox_rows(request, limit=case_store.EXPORT_LIMIT, offset=0)
    if found is None:
        return _refused(request)
    rows, _, _ = found
    t = translator(language(request))
    columns = (
        "reference",
        "service",
        "status",
        "need",
        "place",
        "language",
        "created",
        "updated",
        "assignee",
        "badge",
    )
    body = to_csv(
        [
            (
                r["case"].reference,
                r["case"].service_id,
                r["case"].status,
                r["case"].need,
                r["case"].location or "",
                r["case"].language,
                r["case"].created_at.isoformat(timespec="minutes"),
                r["case"].updated_at.isoformat(timespec="minutes"),
                r["case"].assignee or "",
                r["badge"],
            )
            for r in rows
        ],
        [t(f"case.col.{c}") for c in columns],
    )
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="cases.csv"'},
    )


# --- One case --------------------------------------------------------------------------


async def _case_in_scope(request: Request) -> referral_repo.ReferralRecord | None:
    """The case of the URL, found only under its own service and in the account's scope."""
    account: Account = request.state.account
    service = request.path_params["service"][:40]
    reference = request.path_params["reference"][:16].upper()
    scope = services_in_scope(account, Action.CASE)
    services = [service] if scope is None else [s for s in scope if s == service]
    database: Database = request.app.state.database
    async with database.reading() as db:
        return await case_store.case(db, reference=reference, services=services)


def _case_url(referral: referral_repo.ReferralRecord) -> str:
    return f"{PREFIX}/services/{referral.service_id}/cases/{referral.reference}"


@guarded(Action.CASE, scope="service")
async def case_page(request: Request) -> Response:
    referral = await _case_in_scope(request)
    if referral is None:
        return _not_found(request)
    account: Account = request.state.account
    desk = desk_of(request)
    works = allowed(account, Action.CASE_WORK, referral.service_id)
    database: Database = request.app.state.database
    async with database.reading() as db:
        changes = await referral_repo.history(db, referral_id=referral.id)
        notes = await case_store.notes(db, referral_id=referral.id) if works else []
        staff = await case_store.staff_for(db, service_id=referral.service_id) if works else []
        assignee = next((name for i, name in staff if i == referral.assigned_to), None)
        if assignee is None and referral.assigned_to is not None:
            other = await account_store.account_by_id(db, referral.assigned_to)
            assignee = other.name if other is not None else None
    catalog = request.app.state.catalog()
    now = now_of(request)
    t = translator(language(request))
    reroutable = (
        referral.status in REROUTABLE
        and allowed(account, Action.REROUTE)
        and [s for s in desk.policy.referral_services() if s != referral.service_id]
    )
    context = {
        "referral": referral,
        # The person's fields: only for the partner whose case it is.
        "shared": works,
        "service": service_label(catalog, referral.service_id),
        "need": need_label(catalog, referral.need),
        "place": place_label(catalog, referral.location),
        "language_name": (
            catalog.languages[referral.language].name
            if catalog is not None and referral.language in catalog.languages
            else referral.language
        ),
        "changes": changes,
        "notes": notes,
        "staff": staff,
        "assignee": assignee,
        "moves": next_statuses(referral.status) if works else (),
        "badge": badge(desk, now, referral.status, referral.created_at, referral.updated_at),
        "age": waited(t, referral.created_at, now),
        "since_change": waited(t, referral.updated_at, now),
        "reroute_to": reroutable or [],
        "done": request.query_params.get("done", "")[:20],
        "error": request.query_params.get("error", "")[:20],
        "max_note": MAX_NOTE,
    }
    return page(request, "case.html", context)


def _back(referral: referral_repo.ReferralRecord, **query: str) -> Response:
    suffix = urlencode(query)
    return RedirectResponse(_case_url(referral) + (f"?{suffix}" if suffix else ""), status_code=303)


async def _audit(request: Request, action: str, detail: str) -> None:
    account: Account = request.state.account
    database: Database = request.app.state.database
    async with database.transaction() as db:
        await account_store.audit(db, actor=account.name, action=action, detail=detail[:255])


@guarded(Action.CASE_WORK, scope="service")
async def case_move(request: Request) -> Response:
    """Move a case to a next status: the Telegram buttons' rule; the person is told."""
    referral = await _case_in_scope(request)
    if referral is None:
        return _not_found(request)
    form = await request.form()
    status_to = str(form.get("status") or "")
    if status_to not in STATUSES:
        return _back(referral, error="status")
    account: Account = request.state.account
    desk = desk_of(request)
    move = await desk.policy.move_from_console(
        referral_id=referral.id,
        status_to=status_to,
        services=account.services,
        account=account.name,
    )
    if move is None or not move.moved:
        return _back(referral, error="status")
    await _audit(request, "case.status", f"{referral.reference} {move.before.status} {status_to}")
    if desk.notifier is not None:
        await desk.policy.announce(desk.notifier, move)
        await desk.policy.redraw(desk.notifier, move)
    else:
        logger.warning("Referral %s moved in the console; no channel to tell", referral.reference)
    return _back(referral, done="status")


@guarded(Action.CASE_WORK, scope="service")
async def case_note(request: Request) -> Response:
    """Add an internal note (the partner's only; its text is never logged)."""
    referral = await _case_in_scope(request)
    if referral is None:
        return _not_found(request)
    form = await request.form()
    text = str(form.get("text") or "").strip()
    if not text or len(text) > MAX_NOTE:
        return _back(referral, error="note")
    account: Account = request.state.account
    database: Database = request.app.state.database
    async with database.transaction() as db:
        await case_store.add_note(db, referral_id=referral.id, author=account.name, text=text)
        await account_store.audit(
            db, actor=account.name, action="case.note", detail=referral.reference
        )
    return _back(referral, done="note")


@guarded(Action.CASE_WORK, scope="service")
async def case_assign(request: Request) -> Response:
    """Give the case to a named staff member of its partner (or to nobody)."""
    referral = await _case_in_scope(request)
    if referral is None:
        return _not_found(request)
    form = await request.form()
    chosen = str(form.get("account") or "")
    account: Account = request.state.account
    database: Database = request.app.state.database
    async with database.transaction() as db:
        staff = dict(await case_store.staff_for(db, service_id=referral.service_id))
        if chosen and (not chosen.isdigit() or int(chosen) not in staff):
            return _back(referral, error="assign")
        target = int(chosen) if chosen else None
        await case_store.assign(db, referral_id=referral.id, account_id=target)
        await account_store.audit(
            db,
            actor=account.name,
            action="case.assign",
            detail=f"{referral.reference} {staff.get(target, '-') if target else '-'}",
        )
    return _back(referral, done="assign")


@guarded(Action.REROUTE, scope="service")
async def case_reroute(request: Request) -> Response:
    """An admin sends a case no partner acknowledged to another service (as ``/reroute``)."""
    referral = await _case_in_scope(request)
    if referral is None:
        return _not_found(request)
    form = await request.form()
    target = str(form.get("service") or "")[:40]
    desk = desk_of(request)
    account: Account = request.state.account
    if desk.notifier is None:
        return _back(referral, error="reroute")
    moved = await desk.policy.reroute(desk.notifier, referral.reference, target, admin=account.name)
    if moved is None:
        return _back(referral, error="reroute")
    await _audit(request, "case.reroute", f"{referral.reference} {referral.service_id} {target}")
    return RedirectResponse(_case_url(moved) + "?done=reroute", status_code=303)


# --- Admins: response times ------------------------------------------------------------


@guarded(Action.RESPONSE_TIMES)
async def response_times_page(request: Request) -> Response:
    """Each partner's median hours to acknowledge and to close, over the last 90 days."""
    database: Database = request.app.state.database
    since = now_of(request) - timedelta(days=FIGURES_DAYS)
    async with database.reading() as db:
        figures = await case_store.response_times(
            db, since=since, acknowledged=ACKNOWLEDGED, closed=ReferralStatus.CLOSED.value
        )
    catalog = request.app.state.catalog()
    rows = [(service_label(catalog, f.service_id), f) for f in figures]
    return page(request, "response_times.html", {"rows": rows, "days": FIGURES_DAYS})


# --- The handover desk -----------------------------------------------------------------


def thread_link(chat_id: int, thread_id: int | None) -> str | None:
    """A link to the relay's thread in the agents' supergroup (``-100...`` ids only)."""
    text = str(chat_id)
    if thread_id is None or not text.startswith("-100"):
        return None
    return f"https://t.me/c/{text[4:]}/{abs(thread_id)}"


@guarded(Action.HANDOVERS)
async def handovers_page(request: Request) -> Response:
    """Open relays: who waits (a pseudonym), since when, in which language, when the relay
    closes by itself if nobody writes (the Telegram relay's rule)."""
    database: Database = request.app.state.database
    async with database.reading() as db:
        relays = await case_store.open_relays(db, status=handover_store.OPEN)
    desk = desk_of(request)
    now = now_of(request)
    catalog = request.app.state.catalog()
    t = translator(language(request))
    rows = []
    for relay in relays:
        last = relay.last_activity_at or relay.opened_at
        closes = last + desk.idle_after if desk.idle_after > timedelta(0) else None
        rows.append(
            {
                "who": pseudonym(relay.user_id),
                "since": relay.opened_at,
                "waiting": waited(t, relay.opened_at, now),
                "idle": waited(t, last, now),
                "language": (
                    catalog.languages[relay.language].name
                    if catalog is not None and relay.language in catalog.languages
                    else relay.language or "-"
                ),
                "closes": closes,
                "link": thread_link(relay.agent_chat_id, relay.thread_id),
            }
        )
    return page(request, "handovers.html", {"rows": rows})


def case_routes() -> list[BaseRoute]:
    return [
        Route("/cases", inbox, methods=["GET"]),
        Route("/cases.csv", inbox_csv, methods=["GET"]),
        Route("/services/{service}/cases/{reference}", case_page, methods=["GET"]),
        Route("/services/{service}/cases/{reference}/status", case_move, methods=["POST"]),
        Route("/services/{service}/cases/{reference}/notes", case_note, methods=["POST"]),
        Route("/services/{service}/cases/{reference}/assign", case_assign, methods=["POST"]),
        Route("/services/{service}/cases/{reference}/reroute", case_reroute, methods=["POST"]),
        Route("/response-times", response_times_page, methods=["GET"]),
        Route("/handovers", handovers_page, methods=["GET"]),
    ]
