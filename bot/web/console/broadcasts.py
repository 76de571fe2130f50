"""The console's broadcasts: campaigns made and changed, planned, sent, followed, cancelled.

A campaign is a file of ``content/broadcasts/`` (``bot/content/campaign_files.py`` writes it
with the round-trip editor; the loader validates it), so the console, ``kunnafoni
broadcast ...`` and the worker's drips read one definition. A campaign made or changed
here is a draft (``ContentDesk.save_campaign``, checked by the loader on an overlay) until
it is published with the other drafts on ``/publish``: only then do the CLI and the
worker see it, and only a published campaign is planned and sent. Sending queues what the
campaign owes its audience now, exactly as ``kunnafoni broadcast send NAME`` does
(idempotent: nobody gets a message twice); the worker's sender (``kunnafoni worker``, or
the loops of ``kunnafoni run``) sends the queued rows at Telegram's limits, a one-off not
before its ``when``. Every count of people goes through :mod:`bot.disclosure`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from starlette.datastructures import FormData, QueryParams
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from bot.campaigns.enqueue import enqueue_campaign
from bot.campaigns.plan import plan
from bot.campaigns.segments import criteria
from bot.content.campaign_files import (
    CHANGED_MEANWHILE,
    NAME,
    RESERVED,
    CampaignRefused,
    validate,
)
from bot.content.catalog import Catalog
from bot.content.drafts import CAMPAIGN, KINDS, base_of, target_of
from bot.content.models import Campaign, CampaignKind, Segment
from bot.content.models.campaigns import AgeBracket, Situation
from bot.content.releases import ContentDesk
from bot.disclosure import shown, shown_counts
from bot.places import COUNTRIES, PLACES
from bot.store import accounts as account_store
from bot.store import drafts as draft_store
from bot.store import outbox, runs
from bot.store.audience import count
from bot.store.audience import languages as audience_languages
from bot.store.db import Database
from bot.web.console.guard import PREFIX, guarded, page
from bot.web.console.permissions import Action

logger = logging.getLogger(__name__)

#: Segment criteria chosen among listed values, and those typed as comma-separated lists.
CHOSEN = ("languages", "regions", "countries", "age_brackets", "situations")
CHOSEN_TOPICS = ("topics_seen", "topics_not_seen")
TYPED = ("sources", "source_prefixes")
DAYS = ("active_within_days", "inactive_for_days")
#: Empty drip step rows offered below the existing ones.
SPARE_STEPS = 3
#: Runs listed in a campaign's history.
HISTORY = 50


# --- the form ----------------------------------------------------------------------------


def _values(form: FormData | QueryParams, name: str) -> list[str]:
    return [str(v).strip() for v in form.getlist(name) if str(v).strip()]


def _typed(form: FormData | QueryParams, name: str) -> list[str]:
    text = str(form.get(name) or "")
    return [part.strip() for part in text.replace("\n", ",").split(",") if part.strip()]


def segment_data(form: FormData | QueryParams) -> dict[str, Any]:
    """The segment builder's fields as the campaign file writes them."""
    data: dict[str, Any] = {}
    for name in (*CHOSEN, *CHOSEN_TOPICS):
        if values := _values(form, name):
            data[name] = values
    for name in TYPED:
        if values := _typed(form, name):
            data[name] = values
    for name in DAYS:
        text = str(form.get(name) or "").strip()
        if text:
            data[name] = int(text) if text.isdigit() else text
    if form.get("minors") == "allowed":
        data["minors"] = "allowed"
    return data


def _mali_time(text: str) -> str | None:
    """The page's date and time (``datetime-local``: no offset) in Mali time, UTC+0 all
    year, with its offset as the files write it; anything else is left to the model."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return text
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.isoformat()


def campaign_data(form: FormData) -> dict[str, Any]:
    """The whole form as the campaign file writes it (validated by the caller)."""
    kind = str(form.get("kind") or "oneoff")
    data: dict[str, Any] = {"kind": kind, "segment": segment_data(form)}
    if kind == "oneoff":
        data["when"] = _mali_time(str(form.get("when") or "").strip())
        data["message"] = str(form.get("message") or "").strip() or None
    else:
        steps = []
        for i in range(int(str(form.get("step_count") or 0) or 0)):
            day = str(form.get(f"step_day_{i}") or "").strip()
            key = str(form.get(f"step_message_{i}") or "").strip()
            if day or key:
                steps.append({"day": int(day) if day.isdigit() else day, "message": key})
        data["steps"] = steps
    start, end = (str(form.get(f"quiet_{p}") or "").strip() for p in ("start", "end"))
    if start or end:
        data["quiet_hours"] = {"start": start or "21:00", "end": end or "08:00"}
    catch_up = str(form.get("catch_up_days") or "").strip()
    if kind == "drip" and catch_up:
        data["catch_up_days"] = int(catch_up) if catch_up.isdigit() else catch_up
    return data


def form_values(campaign: Campaign | None) -> dict[str, Any]:
    """A campaign as the form shows it (empty for a new one)."""
    if campaign is None:
        return {
            "kind": "oneoff",
            "segment": {},
            "steps": [],
            "quiet_start": "21:00",
            "quiet_end": "08:00",
            "catch_up_days": 2,
        }
    segment = campaign.segment.model_dump(mode="json")
    return {
        "name": campaign.name,
        "kind": campaign.kind.value,
        "when": campaign.when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M") if campaign.when else "",
        "message": campaign.message or "",
        "steps": [{"day": s.day, "message": s.message} for s in campaign.steps],
        "segment": segment,
        "quiet_start": campaign.quiet_hours.start.strftime("%H:%M"),
        "quiet_end": campaign.quiet_hours.end.strftime("%H:%M"),
        "catch_up_days": campaign.catch_up_days,
    }


def posted_values(form: FormData) -> dict[str, Any]:
    """What was typed, shown again with the errors (nothing lost)."""
    data = campaign_data(form)
    return {
        "name": str(form.get("name") or ""),
        "base": str(form.get("base") or ""),
        "revision": str(form.get("revision") or "0"),
        "kind": data["kind"],
        "when": str(form.get("when") or ""),
        "message": str(form.get("message") or ""),
        "steps": data.get("steps", []),
        "segment": {
            **{k: v for k, v in data["segment"].items()},
            **{k: ", ".join(data["segment"].get(k, [])) for k in TYPED},
        },
        "quiet_start": str(form.get("quiet_start") or ""),
        "quiet_end": str(form.get("quiet_end") or ""),
        "catch_up_days": str(form.get("catch_up_days") or ""),
    }


def choices(catalog: Catalog) -> dict[str, Any]:
    """What the segment builder and the message lists offer."""
    return {
        "languages": list(catalog.languages),
        "regions": list(PLACES),
        "countries": sorted(COUNTRIES),
        "age_brackets": [a.value for a in AgeBracket],
        "situations": [s.value for s in Situation],
        "topics": sorted(catalog.topics),
        "messages": sorted(catalog.messages[catalog.default_language]),
    }


# --- helpers -----------------------------------------------------------------------------


def _catalog(request: Request) -> Catalog | None:
    catalog: Catalog | None = request.app.state.catalog()
    return catalog


def _now(request: Request) -> datetime:
    moment: datetime = request.app.state.clock()
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _not_found(request: Request) -> Response:
    return page(request, "error.html", {"message": "error.not_found"}, status=404)


async def _audit(request: Request, action: str, detail: str) -> None:
    database: Database = request.app.state.database
    async with database.transaction() as db:
        await account_store.audit(
            db, actor=request.state.account.name, action=action, detail=detail
        )


async def audience_of(database: Database, segment: Segment, *, now: datetime) -> dict[str, Any]:
    """The live audience of ``segment``: in all, per language, per criterion; shown."""
    async with database.reading() as db:
        spoken = await audience_languages(db, segment, now=now)
        parts = [(label, await count(db, part, now=now)) for label, part in criteria(segment)]
    return {
        "total": shown(sum(spoken.values())),
        "languages": shown_counts(dict(sorted(spoken.items()))),
        "criteria": [(label, shown(n)) for label, n in parts],
    }


# --- pages -------------------------------------------------------------------------------


@guarded(Action.BROADCASTS)
async def campaigns_page(request: Request) -> Response:
    catalog = _catalog(request)
    database: Database = request.app.state.database
    async with database.reading() as db:
        recent = await runs.list_runs(db, limit=HISTORY)
    latest: dict[str, runs.RunInfo] = {}
    for run in recent:
        latest.setdefault(run.name, run)
    campaigns = sorted(catalog.campaigns.values(), key=lambda c: c.name) if catalog else []
    return page(
        request,
        "broadcasts.html",
        {
            "campaigns": campaigns,
            "latest": latest,
            "runs": recent,
            "drafts": await _campaign_drafts(request),
            "saved": request.query_params.get("saved", ""),
            "editable": _editable(request),
        },
    )


def _editable(request: Request) -> bool:
    return request.app.state.desk is not None and request.app.state.content is not None


async def _campaign_drafts(request: Request) -> list[draft_store.Draft]:
    """The campaigns saved in the console and not published yet."""
    desk: ContentDesk | None = request.app.state.desk
    if desk is None:
        return []
    async with desk.database.reading() as db:
        return [d for d in await draft_store.open_drafts(db) if d.kind == CAMPAIGN]


async def _draft_of(request: Request, name: str) -> draft_store.Draft | None:
    desk: ContentDesk | None = request.app.state.desk
    if desk is None:
        return None
    async with desk.database.reading() as db:
        return await draft_store.open_draft(db, target_of(CAMPAIGN, "", name))


@guarded(Action.BROADCASTS)
async def audience_partial(request: Request) -> Response:
    """The segment builder's live audience (htmx, on every change of the form)."""
    try:
        segment = Segment.model_validate(segment_data(request.query_params))
    except ValidationError as exc:
        reasons = [str(e["msg"]).removeprefix("Value error, ") for e in exc.errors()]
        return page(request, "broadcast_audience.html", {"invalid": reasons})
    found = await audience_of(request.app.state.database, segment, now=_now(request))
    return page(request, "broadcast_audience.html", {"found": found})


def _form_page(
    request: Request,
    values: dict[str, Any],
    *,
    create: bool,
    errors: Mapping[str, str] | None = None,
    problems: list[str] | None = None,
    status: int = 200,
    draft: draft_store.Draft | None = None,
) -> Response:
    catalog = _catalog(request)
    if catalog is None:
        return _not_found(request)
    steps = list(values.get("steps", [])) + [{"day": "", "message": ""}] * SPARE_STEPS
    return page(
        request,
        "broadcast_form.html",
        {
            "create": create,
            "v": values,
            "steps": steps,
            "errors": dict(errors or {}),
            "draft": draft,
            "problems": problems or [],
            "choices": choices(catalog),
            "editable": _editable(request),
        },
        status=status,
    )


@guarded(Action.BROADCASTS)
async def new_form(request: Request) -> Response:
    return _form_page(request, form_values(None), create=True)


@guarded(Action.BROADCASTS)
async def edit_form(request: Request) -> Response:
    """The campaign as published, or as its open draft has it (the draft is what a save
    goes over)."""
    catalog = _catalog(request)
    name = request.path_params["name"]
    campaign = catalog.campaigns.get(name) if catalog else None
    draft = await _draft_of(request, name)
    if draft is not None:
        try:
            campaign = Campaign.model_validate({**draft.data["campaign"], "name": name})
        except ValidationError:
            pass  # a draft the model refuses now: the published one is shown
    if campaign is None or catalog is None:
        return _not_found(request)
    values = form_values(campaign)
    values.update(_versions(catalog, name, draft))
    return _form_page(request, values, create=False, draft=draft)


def _versions(catalog: Catalog, name: str, draft: draft_store.Draft | None) -> dict[str, Any]:
    """The draft revision and published file the form was opened on (a save over a
    change made since is refused)."""
    if draft is not None:
        return {"revision": draft.revision, "base": draft.base}
    return {"revision": 0, "base": base_of(KINDS[CAMPAIGN].published(catalog, "", name))}


async def _save(request: Request, name: str, *, create: bool) -> Response:
    form = await request.form()
    desk: ContentDesk | None = request.app.state.desk
    if desk is None or request.app.state.content is None:
        return _form_page(
            request,
            posted_values(form),
            create=create,
            problems=["read_only"],
            status=409,
        )
    data = campaign_data(form)
    revision_text = str(form.get("revision") or "0")
    revision = int(revision_text) if revision_text.isdigit() else 0
    try:
        validate(data)  # field by field, before anything is kept
        if not NAME.match(name) or name in RESERVED:
            raise CampaignRefused({"name": "name"})
    except CampaignRefused as refused:
        return _form_page(
            request,
            posted_values(form),
            create=create,
            errors=refused.fields,
            problems=refused.problems,
            status=400,
        )
    if create:
        base = ""
    elif "base" in form:
        base = str(form.get("base") or "")
    else:
        # A script without the form's versions goes over the current draft or file.
        draft = await _draft_of(request, name)
        versions = _versions(desk.catalog(), name, draft)
        revision, base = int(versions["revision"]), str(versions["base"])
    outcome = await desk.save_campaign(
        actor=request.state.account.name,
        name=name,
        data=data,
        create=create,
        revision=revision,
        base=base,
    )
    if not outcome.ok:
        values = posted_values(form)
        if any(i.label == "bc.name_taken" for i in outcome.issues):
            errors = {"name": "a campaign of that name exists"}
            return _form_page(request, values, create=create, errors=errors, status=400)
        if outcome.conflict is not None:
            # Saving again, once compared, goes over the version saved meanwhile.
            values.update(_versions(desk.catalog(), name, outcome.draft))
            return _form_page(
                request, values, create=create, problems=[CHANGED_MEANWHILE], status=409
            )
        return _form_page(request, values, create=create, problems=outcome.problems, status=400)
    logger.info("Campaign %s %s as a draft from the console", name, "made" if create else "changed")
    return RedirectResponse(f"{PREFIX}/broadcasts?saved={name}", status_code=303)


@guarded(Action.BROADCASTS)
async def create_campaign(request: Request) -> Response:
    form = await request.form()
    return await _save(request, str(form.get("name") or "").strip(), create=True)


@guarded(Action.BROADCASTS)
async def edit_campaign(request: Request) -> Response:
    catalog = _catalog(request)
    name = request.path_params["name"]
    known = catalog is not None and name in catalog.campaigns
    if not known and await _draft_of(request, name) is None:
        return _not_found(request)
    return await _save(request, name, create=False)


async def _plan_of(request: Request, campaign: Campaign) -> dict[str, Any]:
    catalog = _catalog(request)
    assert catalog is not None
    database: Database = request.app.state.database
    async with database.reading() as db:
        result = await plan(db, catalog, campaign, now=_now(request))
    return result.as_json()


@guarded(Action.BROADCASTS)
async def campaign_page(request: Request) -> Response:
    catalog = _catalog(request)
    campaign = catalog.campaigns.get(request.path_params["name"]) if catalog else None
    if campaign is None:
        return _not_found(request)
    database: Database = request.app.state.database
    async with database.reading() as db:
        history = [
            status
            for run in await runs.list_runs(db, limit=HISTORY * 4)
            if run.name == campaign.name
            and (status := await runs.run_status(db, run.id)) is not None
        ][:HISTORY]
    return page(
        request,
        "broadcast.html",
        {
            "campaign": campaign,
            "plan": await _plan_of(request, campaign),
            "history": [_progress(s) for s in history],
            "drip": campaign.kind is CampaignKind.DRIP,
        },
    )


@guarded(Action.BROADCASTS)
async def confirm_send(request: Request) -> Response:
    """The second step of a send: the audience size, then the button that queues it."""
    catalog = _catalog(request)
    campaign = catalog.campaigns.get(request.path_params["name"]) if catalog else None
    if campaign is None:
        return _not_found(request)
    return page(
        request,
        "broadcast_send.html",
        {"campaign": campaign, "plan": await _plan_of(request, campaign)},
    )


@guarded(Action.BROADCASTS)
async def send(request: Request) -> Response:
    """Queue what the campaign owes its audience now (only with the confirmation)."""
    catalog = _catalog(request)
    name = request.path_params["name"]
    if catalog is None or name not in catalog.campaigns:
        return _not_found(request)
    form = await request.form()
    if form.get("confirm") != "yes":
        return RedirectResponse(f"{PREFIX}/broadcasts/{name}/send", status_code=303)
    database: Database = request.app.state.database
    async with database.transaction() as db:
        result = await enqueue_campaign(db, catalog, name, now=_now(request))
        await account_store.audit(
            db,
            actor=request.state.account.name,
            action="broadcast.send",
            detail=f"{name} run {result.run_id}",
        )
    logger.info("Campaign %s queued from the console: run %s", name, result.run_id)
    return RedirectResponse(f"{PREFIX}/broadcasts/runs/{result.run_id}", status_code=303)


def _progress(status: runs.RunStatus) -> dict[str, Any]:
    """A run's progress as shown: every count of messages (one per person) through
    :mod:`bot.disclosure`; the bar only over 5 messages or more."""
    total = status.total
    done = total - status.remaining
    return {
        "run": status.run,
        "total": shown(total),
        "delivered": shown(status.delivered),
        "failed": shown(status.failed),
        "skipped": shown(status.skipped),
        "remaining": shown(status.remaining),
        "cancelled": shown(status.counts.get(outbox.CANCELLED, 0)),
        "rate": None if status.rate is None else round(status.rate, 1),
        "eta": status.eta_seconds,
        "percent": int(100 * done / total) if total >= 5 else None,
        "finished": status.finished or status.run.status in ("done", "cancelled"),
    }


async def _run_context(request: Request) -> dict[str, Any] | None:
    try:
        run_id = int(request.path_params["run"])
    except ValueError:
        return None
    database: Database = request.app.state.database
    async with database.reading() as db:
        status = await runs.run_status(db, run_id)
        due = await outbox.next_due(db, run_id=run_id) if status is not None else None
    if status is None:
        return None
    progress = _progress(status)
    if due is not None and due.replace(tzinfo=due.tzinfo or UTC) > datetime.now(UTC):
        progress["scheduled"] = due.replace(tzinfo=due.tzinfo or UTC)
    return {"p": progress}


@guarded(Action.BROADCASTS)
async def run_page(request: Request) -> Response:
    context = await _run_context(request)
    if context is None:
        return _not_found(request)
    return page(request, "broadcast_run.html", context)


@guarded(Action.BROADCASTS)
async def run_progress(request: Request) -> Response:
    """The run's progress alone, polled by htmx until the run is finished."""
    context = await _run_context(request)
    if context is None:
        return _not_found(request)
    return page(request, "broadcast_progress.html", context)


@guarded(Action.BROADCASTS)
async def cancel(request: Request) -> Response:
    try:
        run_id = int(request.path_params["run"])
    except ValueError:
        return _not_found(request)
    database: Database = request.app.state.database
    async with database.transaction() as db:
        run = await runs.get_run(db, run_id)
        if run is None:
            return _not_found(request)
        stopped = await runs.cancel_run(db, run_id)
        await account_store.audit(
            db,
            actor=request.state.account.name,
            action="broadcast.cancel",
            detail=f"{run.name} run {run_id}: {stopped} not sent",
        )
    return RedirectResponse(f"{PREFIX}/broadcasts/runs/{run_id}", status_code=303)


def broadcast_routes() -> list[BaseRoute]:
    # Fixed paths first: a campaign cannot be named like them (editing.RESERVED).
    return [
        Route("/broadcasts", campaigns_page, methods=["GET"]),
        Route("/broadcasts/new", new_form, methods=["GET"]),
        Route("/broadcasts/new", create_campaign, methods=["POST"]),
        Route("/broadcasts/audience", audience_partial, methods=["GET"]),
        Route("/broadcasts/runs/{run}", run_page, methods=["GET"]),
        Route("/broadcasts/runs/{run}/progress", run_progress, methods=["GET"]),
        Route("/broadcasts/runs/{run}/cancel", cancel, methods=["POST"]),
        Route("/broadcasts/{name}", campaign_page, methods=["GET"]),
        Route("/broadcasts/{name}/edit", edit_form, methods=["GET"]),
        Route("/broadcasts/{name}/edit", edit_campaign, methods=["POST"]),
        Route("/broadcasts/{name}/send", confirm_send, methods=["GET"]),
        Route("/broadcasts/{name}/send", send, methods=["POST"]),
    ]
