"""The console's content pages: messages side by side, review, spreadsheets, publishing.

- ``/content``: the coverage matrix of every language (``kunnafoni content status``).
- ``/content/{language}``: the messages of a language beside the French source, searched
  by key, text, module and status ("what is left": missing, stale, untracked, draft).
- ``/content/{language}/{key}``: one message: the source, the translation and its status
  (the source's change shown word by word when it went stale), checked as one types
  (placeholders, Telegram's limits, a preview as Telegram shows it), saved as a draft,
  reviewed by a second person.
- ``/content/{language}/export.{fmt}`` and ``/import``: the spreadsheets of the command
  line, the import's diff shown before it becomes drafts.
- ``/publish``: the open drafts, published together; the versions, their diffs, rollback.

Every route goes through :func:`guarded`; the work is :class:`ContentDesk`'s.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import tempfile
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from bot.content.catalog import MAX_BUTTON_LABEL, MAX_TEXT, Catalog, TranslationState
from bot.content.coverage import coverage
from bot.content.drafts import (
    CAMPAIGN,
    KINDS,
    MESSAGE,
    TOPIC,
    VOICE,
    base_of,
    buttons_of,
    check_text,
    file_diff,
    key_uses,
    split_placeholders,
    target_of,
    word_diff,
)
from bot.content.releases import ContentDesk, Outcome, source_text_of
from bot.content.topic_desk import published_structure, structure_lines
from bot.content.workflow import (
    FORMAT_OF_SUFFIX,
    Format,
    ImportPlan,
    ImportRefused,
    plan_import,
    read_table,
    write_export,
)
from bot.store import accounts as account_store
from bot.store import drafts as draft_store
from bot.store.accounts import Account
from bot.web.console.guard import PREFIX, guarded, page
from bot.web.console.permissions import Action

#: Rows of the message list shown at once (a search narrows it).
LIST_LIMIT = 200
#: The biggest spreadsheet accepted (an export of every message is about 150 kB).
MAX_UPLOAD = 5 * 1024 * 1024
#: Status filters: a state, "todo" (what is left to do), "open" (an open draft).
TODO = ("missing", "stale", "untracked", "draft")
STATUSES = ("todo", "missing", "stale", "untracked", "draft", "reviewed", "open")


def desk_of(request: Request) -> ContentDesk | None:
    return getattr(request.app.state, "desk", None)


def _not_found(request: Request) -> Response:
    return page(request, "error.html", {"message": "error.not_found"}, status=404)


def _unavailable(request: Request) -> Response:
    return page(request, "error.html", {"message": "error.no_content"}, status=503)


def _language_or_none(catalog: Catalog, code: str) -> str | None:
    return code if code in catalog.languages else None


# --- the coverage matrix -----------------------------------------------------------------


@guarded(Action.CONTENT_STATUS)
async def content_index(request: Request) -> Response:
    desk = desk_of(request)
    if desk is None:
        return _unavailable(request)
    catalog = desk.catalog()
    async with desk.database.reading() as session:
        drafts = await draft_store.open_drafts(session)
    open_by_language: dict[str, int] = {}
    for draft in drafts:
        if draft.kind != MESSAGE:
            continue  # voice notes and campaigns have their own pages
        open_by_language[draft.language] = open_by_language.get(draft.language, 0) + 1
    return page(
        request,
        "content_index.html",
        {"rows": coverage(catalog), "open_drafts": open_by_language, "version": catalog.version},
    )


# --- the messages of a language ----------------------------------------------------------


@guarded(Action.CONTENT, scope="language")
async def content_list(request: Request) -> Response:
    desk = desk_of(request)
    if desk is None:
        return _unavailable(request)
    catalog = desk.catalog()
    code = _language_or_none(catalog, request.path_params["language"])
    if code is None:
        return _not_found(request)
    q = request.query_params
    search = (q.get("q") or "").strip()[:100]
    topic = (q.get("topic") or "").strip()[:40]
    status = q.get("status") or ""
    status = status if status in STATUSES else ""
    async with desk.database.reading() as session:
        drafts = {
            d.key: d
            for d in await draft_store.open_drafts(session, language=code)
            if d.kind == MESSAGE
        }
    uses = key_uses(catalog)
    default = catalog.default_language
    keys = catalog.keys() if code == default else catalog.expected_keys(code)
    rows = []
    needle = search.casefold()
    for key in keys:
        state = _state(catalog, code, key)
        draft = drafts.get(key)
        if status == "todo" and state not in TODO:
            continue
        if status == "open" and draft is None:
            continue
        if status not in ("", "todo", "open") and state != status:
            continue
        if topic and f"topic:{topic}" not in uses.get(key, set()):
            continue
        source = catalog.messages[default][key].text
        entry = catalog.messages.get(code, {}).get(key)
        text = entry.text if entry is not None else None
        if needle and not any(
            needle in value.casefold()
            for value in (key, source, text or "", draft.data.get("text", "") if draft else "")
        ):
            continue
        rows.append({"key": key, "source": source, "text": text, "state": state, "draft": draft})
    context = {
        "code": code,
        "language_name": catalog.languages[code].name,
        "is_source": code == default,
        "rows": rows[:LIST_LIMIT],
        "total": len(rows),
        "limit": LIST_LIMIT,
        "search": search,
        "topic": topic,
        "status": status,
        "statuses": STATUSES,
        "topics": sorted(catalog.topics),
        "formats": [f.value for f in Format],
    }
    return page(request, "content_list.html", context)


def _state(catalog: Catalog, language: str, key: str) -> str:
    state = catalog.state(language, key)
    if state is TranslationState.SOURCE:
        return "source"
    return state.value


# --- one message -------------------------------------------------------------------------


async def _editor_context(
    request: Request, desk: ContentDesk, code: str, key: str
) -> dict[str, Any]:
    catalog = desk.catalog()
    default = catalog.default_language
    source = catalog.messages[default][key]
    entry = catalog.messages.get(code, {}).get(key)
    target = target_of(MESSAGE, code, key)
    async with desk.database.reading() as session:
        draft = await draft_store.open_draft(session, target)
        last = await draft_store.last_published(session, target)
    state = _state(catalog, code, key)
    old_source = None
    if state == "stale" and entry is not None:
        old_source = await source_text_of(desk.database, catalog, key, entry.source_hash)
    published = entry.text if entry is not None else None
    text = draft.data["text"] if draft else (published or "")
    return {
        "code": code,
        "key": key,
        "language_name": catalog.languages[code].name,
        "is_source": code == default,
        "source": source.text,
        "source_pieces": split_placeholders(source.text),
        "published": published,
        "state": state,
        "draft": draft,
        "last": last,
        "text": text,
        "revision": draft.revision if draft else 0,
        "base": draft.base if draft else base_of(published),
        "stale_diff": word_diff(old_source, source.text) if old_source else None,
        "stale_unknown": state == "stale" and old_source is None,
        "topics": sorted(
            u.removeprefix("topic:") for u in key_uses(catalog).get(key, ()) if u != "button"
        ),
        "check": _check(catalog, code, key, text),
        "entry": entry,
    }


def _check(catalog: Catalog, code: str, key: str, text: str) -> dict[str, Any]:
    """What the check fragment shows: counts, problems, placeholders, the preview."""
    is_button = "button" in key_uses(catalog).get(key, set())
    buttons = [catalog.text(label, code).text for label in buttons_of(catalog, key)]
    return {
        "length": len(text),
        "limit": MAX_BUTTON_LABEL if is_button else MAX_TEXT,
        "is_button": is_button,
        "issues": check_text(catalog, code, key, text),
        "text": text,
        # Line by line, the placeholders apart (highlighted, as the bot fills them in).
        "lines": [split_placeholders(line) for line in text.split("\n")],
        "buttons": buttons,
    }


def _message_of(request: Request, desk: ContentDesk) -> tuple[str, str] | None:
    catalog = desk.catalog()
    code = request.path_params["language"]
    key = request.path_params["key"]
    if code not in catalog.languages or key not in catalog.messages[catalog.default_language]:
        return None
    return code, key


@guarded(Action.CONTENT, scope="language")
async def message_page(request: Request) -> Response:
    desk = desk_of(request)
    if desk is None:
        return _unavailable(request)
    found = _message_of(request, desk)
    if found is None:
        return _not_found(request)
    context = await _editor_context(request, desk, *found)
    context["saved"] = request.query_params.get("saved")
    return page(request, "content_edit.html", context)


@guarded(Action.CONTENT, scope="language")
async def message_check(request: Request) -> Response:
    """The htmx fragment under the text: checked and previewed as one types."""
    desk = desk_of(request)
    if desk is None:
        return _unavailable(request)
    found = _message_of(request, desk)
    if found is None:
        return _not_found(request)
    form = await request.form()
    text = str(form.get("text") or "").replace("\r\n", "\n")[: MAX_TEXT * 2]
    return page(request, "_check.html", {"check": _check(desk.catalog(), *found, text)})


def _form_int(value: Any) -> int:
    try:
        return int(str(value))
    except ValueError:
        return -1


async def _after(
    request: Request,
    desk: ContentDesk,
    code: str,
    key: str,
    outcome: Outcome,
    *,
    text: str,
    done: str,
) -> Response:
    """Back to the message once done; else the page again with what stopped it."""
    if outcome.ok:
        return RedirectResponse(f"{PREFIX}/content/{code}/{key}?saved={done}", status_code=303)
    context = await _editor_context(request, desk, code, key)
    context["text"] = text
    context["check"] = _check(desk.catalog(), code, key, text)
    context["issues"] = outcome.issues
    context["problems"] = outcome.problems
    context["conflict"] = outcome.conflict
    status = 409 if outcome.conflict else 422
    return page(request, "content_edit.html", context, status=status)


@guarded(Action.CONTENT_EDIT, scope="language")
async def message_save(request: Request) -> Response:
    desk = desk_of(request)
    if desk is None:
        return _unavailable(request)
    found = _message_of(request, desk)
    if found is None:
        return _not_found(request)
    code, key = found
    form = await request.form()
    text = str(form.get("text") or "")[: MAX_TEXT * 2]
    account: Account = request.state.account
    outcome = await desk.save(
        actor=account.name,
        language=code,
        key=key,
        text=text,
        revision=_form_int(form.get("revision")),
        base=str(form.get("base") or ""),
    )
    return await _after(request, desk, code, key, outcome, text=text, done="draft")


@guarded(Action.CONTENT_REVIEW, scope="language")
async def message_review(request: Request) -> Response:
    desk = desk_of(request)
    if desk is None:
        return _unavailable(request)
    found = _message_of(request, desk)
    if found is None:
        return _not_found(request)
    code, key = found
    form = await request.form()
    account: Account = request.state.account
    outcome = await desk.review(
        actor=account.name,
        language=code,
        key=key,
        revision=_form_int(form.get("revision")),
        base=str(form.get("base") or ""),
        text=str(form["text"]) if "text" in form else None,
    )
    text = str(form.get("text") or "")
    return await _after(request, desk, code, key, outcome, text=text, done="reviewed")


@guarded(Action.CONTENT_EDIT, scope="language")
async def message_discard(request: Request) -> Response:
    desk = desk_of(request)
    if desk is None:
        return _unavailable(request)
    found = _message_of(request, desk)
    if found is None:
        return _not_found(request)
    code, key = found
    form = await request.form()
    account: Account = request.state.account
    outcome = await desk.discard(
        actor=account.name, language=code, key=key, revision=_form_int(form.get("revision"))
    )
    text = str(form.get("text") or "")
    return await _after(request, desk, code, key, outcome, text=text, done="discarded")


# --- spreadsheets ------------------------------------------------------------------------


@guarded(Action.CONTENT, scope="language")
async def sheet_export(request: Request) -> Response:
    desk = desk_of(request)
    if desk is None:
        return _unavailable(request)
    catalog = desk.catalog()
    code = request.path_params["language"]
    try:
        fmt = Format(request.path_params["fmt"])
    except ValueError:
        return _not_found(request)
    if code not in catalog.languages or code == catalog.default_language:
        return _not_found(request)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"kunnafoni-{code}.{fmt.value}"
        write_export(catalog, code, fmt, path)
        body = path.read_bytes()
    async with desk.database.transaction() as session:
        account: Account = request.state.account
        await account_store.audit(
            session, actor=account.name, action="content.export", detail=f"{code} {fmt.value}"
        )
    media = {
        Format.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        Format.CSV: "text/csv; charset=utf-8",
        Format.PO: "text/x-gettext-translation; charset=utf-8",
    }[fmt]
    return Response(
        body,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="{path.name}"'},
    )


def _plan(catalog: Catalog, name: str, data: bytes) -> ImportPlan:
    suffix = Path(name).suffix.lower()
    if suffix not in FORMAT_OF_SUFFIX:
        raise ImportRefused(Path(name), ["1: unknown file type: use a .xlsx, .csv or .po file"])
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"upload{suffix}"
        path.write_bytes(data)
        plan = plan_import(catalog, read_table(path))
    return ImportPlan(plan.language, Path(Path(name).name), plan.changes)


def _fingerprint(plan: ImportPlan, drafts: dict[str, Any]) -> str:
    """What the shown diff was made of: applying checks it is still the same."""
    body = json.dumps(
        [[c.key, c.new_text, c.new_status, c.source_hash] for c in plan.changes]
        + [[k, v] for k, v in sorted(drafts.items())],
        ensure_ascii=False,
    )
    return hashlib.sha256(body.encode("utf-8")).hexdigest()[:24]


async def _import_context(
    desk: ContentDesk, code: str, name: str, data: bytes
) -> tuple[dict[str, Any], ImportPlan | None]:
    catalog = desk.catalog()
    try:
        plan = _plan(catalog, name, data)
    except ImportRefused as exc:
        return {"code": code, "refused": exc.reasons, "file_name": name}, None
    if plan.language != code:
        return {"code": code, "wrong_language": plan.language, "file_name": name}, None
    async with desk.database.reading() as session:
        drafts = {
            d.key: d
            for d in await draft_store.open_drafts(session, language=code)
            if d.kind == MESSAGE
        }
    replaced = {c.key: drafts[c.key] for c in plan.changes if c.key in drafts}
    return {
        "code": code,
        "plan": plan,
        "file_name": name,
        "replaced": replaced,
        "upload": base64.b64encode(data).decode("ascii"),
        "fingerprint": _fingerprint(plan, {k: d.revision for k, d in replaced.items()}),
    }, plan


@guarded(Action.CONTENT_EDIT, scope="language")
async def sheet_import(request: Request) -> Response:
    """Upload a sheet: the import's diff, nothing kept yet."""
    desk = desk_of(request)
    if desk is None:
        return _unavailable(request)
    code = request.path_params["language"]
    if code not in desk.catalog().languages:
        return _not_found(request)
    form = await request.form(max_part_size=MAX_UPLOAD)
    upload = form.get("file")
    if upload is None or isinstance(upload, str) or not upload.filename:
        context: dict[str, Any] = {"code": code, "refused": ["1: no file chosen"], "file_name": ""}
        return page(request, "content_import.html", context, status=422)
    data = await upload.read(MAX_UPLOAD + 1)
    if len(data) > MAX_UPLOAD:
        context = {"code": code, "refused": ["1: file too big"], "file_name": upload.filename}
        return page(request, "content_import.html", context, status=422)
    context, plan = await _import_context(desk, code, upload.filename, data)
    return page(request, "content_import.html", context, status=200 if plan else 422)


@guarded(Action.CONTENT_EDIT, scope="language")
async def sheet_apply(request: Request) -> Response:
    """Apply the diff that was shown: its changes become drafts, if it is still the same."""
    desk = desk_of(request)
    if desk is None:
        return _unavailable(request)
    code = request.path_params["language"]
    if code not in desk.catalog().languages:
        return _not_found(request)
    form = await request.form(max_part_size=2 * MAX_UPLOAD)
    name = str(form.get("file_name") or "upload.csv")
    try:
        data = base64.b64decode(str(form.get("upload") or ""), validate=True)
    except (binascii.Error, ValueError):
        context: dict[str, Any] = {
            "code": code,
            "refused": ["1: damaged upload"],
            "file_name": name,
        }
        return page(request, "content_import.html", context, status=422)
    context, plan = await _import_context(desk, code, name, data)
    if plan is None:
        return page(request, "content_import.html", context, status=422)
    if context["fingerprint"] != form.get("fingerprint"):
        # The content or the drafts changed since the diff was shown: show the new one.
        context["changed"] = True
        return page(request, "content_import.html", context, status=409)
    account: Account = request.state.account
    count = await desk.import_plan(actor=account.name, plan=plan)
    return RedirectResponse(
        f"{PREFIX}/content/{code}?status=open&imported={count}", status_code=303
    )


# --- publishing --------------------------------------------------------------------------


async def _publish_context(desk: ContentDesk) -> dict[str, Any]:
    async with desk.database.reading() as session:
        drafts = await draft_store.open_drafts(session)
        history = await draft_store.releases(session)
    catalog = desk.catalog()
    rows = []
    for draft in drafts:
        if draft.kind == TOPIC:
            rows.append(_topic_row(catalog, draft))
            continue
        if draft.kind == VOICE:
            rows.append(voice_row(draft))
            continue
        if draft.kind == CAMPAIGN:
            rows.append(campaign_row(catalog, draft))
            continue
        published = catalog.messages.get(draft.language, {}).get(draft.key)
        rows.append(
            {
                "draft": draft,
                "link": f"{PREFIX}/content/{draft.language}/{draft.key}",
                "published": published.text if published else None,
                "diff": word_diff(published.text if published else "", draft.data.get("text", "")),
            }
        )
    return {"drafts": rows, "history": history, "version": catalog.version}


def _topic_row(catalog: Catalog, draft: Any) -> dict[str, Any]:
    """A module's draft on the publishing page: its structure, line by line, changed."""
    structure = published_structure(catalog, draft.key)
    before = structure_lines(structure) if structure is not None else ""
    return {
        "draft": draft,
        "published": before,
        "diff": word_diff(before, structure_lines(draft.data)),
        "link": f"{PREFIX}/topics/{draft.key}",
        "lines": True,
    }


def campaign_row(catalog: Catalog, draft: Any) -> dict[str, Any]:
    """A campaign draft on the publishing page: the diff of its YAML file."""
    path = f"broadcasts/{draft.key}.yml"
    before = KINDS[CAMPAIGN].published(catalog, "", draft.key)
    label = "publish.campaign.new" if before is None else "publish.campaign.changed"
    return {
        "draft": draft,
        "link": f"{PREFIX}/broadcasts/{draft.key}/edit",
        "summary": (label, {}),
        "yaml": file_diff(path, before, str(draft.data.get("text") or "")),
    }


def voice_row(draft: Any) -> dict[str, Any]:
    """A voice draft on the publishing page: "new voice note, N s" or "replaced"."""
    label = "publish.voice.replaced" if draft.data.get("replaces") else "publish.voice.new"
    return {
        "draft": draft,
        "link": f"{PREFIX}/voice/{draft.language}/{draft.key}",
        "summary": (label, {"seconds": round(float(draft.data.get("seconds") or 0))}),
        "audio": f"{PREFIX}/voice/{draft.language}/{draft.key}/draft.ogg?r={draft.revision}",
    }


@guarded(Action.PUBLISH)
async def publish_page(request: Request) -> Response:
    desk = desk_of(request)
    if desk is None:
        return _unavailable(request)
    context = await _publish_context(desk)
    context["done"] = request.query_params.get("done")
    return page(request, "publish.html", context)


@guarded(Action.PUBLISH)
async def publish_drafts(request: Request) -> Response:
    desk = desk_of(request)
    if desk is None:
        return _unavailable(request)
    form = await request.form()
    ids = [_form_int(v) for v in form.getlist("draft")]
    account: Account = request.state.account
    result = await desk.publish(actor=account.name, ids=[i for i in ids if i > 0])
    if result.ok:
        return RedirectResponse(f"{PREFIX}/publish?done={result.release_id}", status_code=303)
    context = await _publish_context(desk)
    context.update(
        {
            "problems": result.problems,
            "general": result.general,
            "conflicts": {d.target for d in result.conflicts},
            "raced": result.raced,
            "nothing": not (result.problems or result.general or result.conflicts or result.raced),
        }
    )
    return page(request, "publish.html", context, status=409 if result.raced else 422)


def _file_diff(path: str, before: Any, after: Any) -> str:
    """A text file's unified diff; for an audio file, its sha256 and size before and after."""
    if draft_store.is_blob(before) or draft_store.is_blob(after):

        def side(value: Any) -> str | None:
            if value is None:
                return None
            return f"{value.get('size', '?')} bytes, sha256 {str(value['blob'])[:16]}\n"

        return file_diff(path, side(before), side(after))
    return file_diff(path, before, after)


def _release_id(request: Request) -> int:
    return _form_int(request.path_params["release"])


@guarded(Action.PUBLISH)
async def release_page(request: Request) -> Response:
    desk = desk_of(request)
    if desk is None:
        return _unavailable(request)
    async with desk.database.reading() as session:
        release = await draft_store.release(session, _release_id(request))
        latest = await draft_store.latest_release_id(session)
    if release is None:
        return _not_found(request)
    diffs = [
        (path, _file_diff(path, texts.get("before"), texts.get("after")))
        for path, texts in sorted(release.files.items())
    ]
    changes = [
        {**c, "diff": word_diff(c.get("old") or "", c.get("new") or "")} for c in release.changes
    ]
    return page(
        request,
        "release.html",
        {"release": release, "diffs": diffs, "changes": changes, "latest": latest},
    )


@guarded(Action.PUBLISH)
async def release_rollback(request: Request) -> Response:
    desk = desk_of(request)
    if desk is None:
        return _unavailable(request)
    account: Account = request.state.account
    result = await desk.rollback(actor=account.name, release_id=_release_id(request))
    if result.ok:
        return RedirectResponse(f"{PREFIX}/publish?done={result.release_id}", status_code=303)
    context = await _publish_context(desk)
    context.update(
        {
            "problems": result.problems,
            "general": result.general,
            "conflicts": set(),
            "raced": result.raced,
            "nothing": not (result.general or result.problems or result.raced),
        }
    )
    return page(request, "publish.html", context, status=409 if result.raced else 422)


def content_routes() -> list[BaseRoute]:
    return [
        Route("/content", content_index, methods=["GET"]),
        Route("/content/{language}", content_list, methods=["GET"]),
        Route("/content/{language}/export.{fmt}", sheet_export, methods=["GET"]),
        Route("/content/{language}/import", sheet_import, methods=["POST"]),
        Route("/content/{language}/import/apply", sheet_apply, methods=["POST"]),
        Route("/content/{language}/{key}", message_page, methods=["GET"]),
        Route("/content/{language}/{key}", message_save, methods=["POST"]),
        Route("/content/{language}/{key}/check", message_check, methods=["POST"]),
        Route("/content/{language}/{key}/review", message_review, methods=["POST"]),
        Route("/content/{language}/{key}/discard", message_discard, methods=["POST"]),
        Route("/publish", publish_page, methods=["GET"]),
        Route("/publish", publish_drafts, methods=["POST"]),
        Route("/publish/{release}", release_page, methods=["GET"]),
        Route("/publish/{release}/rollback", release_rollback, methods=["POST"]),
    ]
