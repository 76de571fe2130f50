"""The console's voice notes: per message key and language, listen, record or upload.

A recording made in the browser (MediaRecorder) or a file uploaded is turned into
OGG/Opus (``bot/content/recording.py``: kept as it is when it already is, else converted
with ffmpeg), bounded in size and duration, then kept as a draft (``ContentDesk.save_voice``:
the audio in the database, checked by the loader on an overlay of the tree), played back
from the draft in the page. Users hear it once the draft is published with the others
(``/publish``): the release writes ``media/<lang>/<key>.ogg`` and the messages file entry,
and every replica's watcher writes the same audio. Translators do this only in their
languages (the permission's scope is the path's language).
"""

from __future__ import annotations

import logging

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from bot.content.catalog import Catalog
from bot.content.drafts import KINDS, VOICE, base_of, target_of
from bot.content.recording import MAX_SECONDS, MAX_UPLOAD_BYTES, RecordingError, to_voice_note
from bot.content.releases import ContentDesk
from bot.content.store import ContentStore
from bot.store import drafts as draft_store
from bot.web.console.guard import PREFIX, guarded, language, page
from bot.web.console.i18n import translator
from bot.web.console.permissions import Action

logger = logging.getLogger(__name__)

#: Keys listed per page of a language's voice notes.
PER_PAGE = 100


def _catalog(request: Request) -> Catalog | None:
    catalog: Catalog | None = request.app.state.catalog()
    return catalog


def _not_found(request: Request) -> Response:
    return page(request, "error.html", {"message": "error.not_found"}, status=404)


@guarded(Action.VOICE, scope="language")
async def voice_list(request: Request) -> Response:
    """The keys of a language that have a text, with or without a voice note."""
    code = request.path_params["language"]
    catalog = _catalog(request)
    if catalog is None or code not in catalog.languages:
        return _not_found(request)
    query = request.query_params.get("q", "").strip()[:80].lower()
    only = request.query_params.get("only", "")
    entries = catalog.messages.get(code, {})
    rows = []
    for key, message in entries.items():
        if query and query not in key.lower() and query not in message.text.lower():
            continue
        if only == "missing" and message.voice is not None:
            continue
        if only == "recorded" and message.voice is None:
            continue
        rows.append((key, message.text, message.voice is not None))
    recorded = sum(1 for m in entries.values() if m.voice is not None)
    desk: ContentDesk | None = request.app.state.desk
    drafted: set[str] = set()
    if desk is not None:
        async with desk.database.reading() as session:
            drafted = {
                d.key
                for d in await draft_store.open_drafts(session, language=code)
                if d.kind == VOICE
            }
    return page(
        request,
        "voice_list.html",
        {
            "code": code,
            "language_name": catalog.languages[code].name,
            "rows": rows[:PER_PAGE],
            "more": max(0, len(rows) - PER_PAGE),
            "q": query,
            "only": only,
            "recorded": recorded,
            "total": len(entries),
            "drafted": drafted,
        },
    )


async def _voice_context(request: Request) -> dict[str, object] | None:
    code, key = request.path_params["language"], request.path_params["key"]
    catalog = _catalog(request)
    if catalog is None or code not in catalog.languages:
        return None
    message = catalog.messages.get(code, {}).get(key)
    if message is None:
        return None
    desk: ContentDesk | None = request.app.state.desk
    draft = None
    published = KINDS[VOICE].published(catalog, code, key)
    if desk is not None:
        async with desk.database.reading() as session:
            draft = await draft_store.open_draft(session, target_of(VOICE, code, key))
    return {
        "code": code,
        "key": key,
        "text": message.text,
        "voice": message.voice,
        "draft": draft,
        "revision": draft.revision if draft else 0,
        "base": draft.base if draft else base_of(published),
        "language_name": catalog.languages[code].name,
        "version": catalog.version[:12],
        "ffmpeg": request.app.state.ffmpeg is not None,
        "editable": desk is not None and request.app.state.content is not None,
        "max_mb": MAX_UPLOAD_BYTES // (1024 * 1024),
        "max_seconds": int(MAX_SECONDS),
    }


@guarded(Action.VOICE, scope="language")
async def voice_page(request: Request) -> Response:
    context = await _voice_context(request)
    if context is None:
        return _not_found(request)
    context["done"] = request.query_params.get("done")
    return page(request, "voice.html", context)


@guarded(Action.VOICE, scope="language")
async def voice_audio(request: Request) -> Response:
    """The live voice note of the key, for the page's player."""
    context = await _voice_context(request)
    store: ContentStore | None = request.app.state.content
    voice = context.get("voice") if context else None
    if context is None or voice is None or store is None:
        return _not_found(request)
    path = (store.directory / voice.file).resolve()  # type: ignore[attr-defined]
    if not path.is_relative_to(store.directory.resolve()) or not path.is_file():
        return _not_found(request)
    return FileResponse(path, media_type="audio/ogg", headers={"Cache-Control": "no-store"})


@guarded(Action.VOICE, scope="language")
async def voice_draft_audio(request: Request) -> Response:
    """The draft voice note of the key (not published yet), for the page's player."""
    context = await _voice_context(request)
    desk: ContentDesk | None = request.app.state.desk
    draft = context.get("draft") if context else None
    if draft is None or desk is None:
        return _not_found(request)
    async with desk.database.reading() as session:
        data = await draft_store.blob_data(session, str(draft.data["sha256"]))  # type: ignore[attr-defined]
    if data is None:
        return _not_found(request)
    return Response(data, media_type="audio/ogg", headers={"Cache-Control": "no-store"})


def _int(value: object) -> int:
    text = str(value or "")
    return int(text) if text.isdigit() else 0


@guarded(Action.VOICE, scope="language")
async def voice_upload(request: Request) -> Response:
    """Take a recording or a file, make it a voice note, keep it as a draft."""
    context = await _voice_context(request)
    if context is None:
        return _not_found(request)
    wants_json = request.headers.get("accept", "").startswith("application/json")

    def refused(label: str, status: int, **extra: object) -> Response:
        if wants_json:
            t = translator(language(request))
            text = t(label, mb=context["max_mb"], seconds=context["max_seconds"])
            return JSONResponse({"ok": False, "error": text}, status_code=status)
        return page(request, "voice.html", {**context, "error": label, **extra}, status=status)

    desk: ContentDesk | None = request.app.state.desk
    if desk is None or request.app.state.content is None:
        return refused("voice.error.read_only", 409)
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > MAX_UPLOAD_BYTES + 64 * 1024:
        return refused("voice.error.too_big", 413)
    form = await request.form()
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        return refused("voice.error.empty", 400)
    data = await upload.read(MAX_UPLOAD_BYTES + 1)
    try:
        note = await to_voice_note(data, ffmpeg=request.app.state.ffmpeg)
    except RecordingError as exc:
        return refused(exc.refusal.value, 400 if exc.refusal.name != "TOO_BIG" else 413)
    code, key = str(context["code"]), str(context["key"])
    account = request.state.account
    outcome = await desk.save_voice(
        actor=account.name,
        language=code,
        key=key,
        audio=note.data,
        seconds=note.seconds,
        revision=_int(form.get("revision")),
        base=str(form.get("base") or ""),
    )
    if outcome.conflict is not None:
        # Someone saved or published a voice note since this page was loaded: the page
        # shows theirs; sending again goes over it.
        return refused("voice.error.conflict", 409, who=outcome.conflict.who)
    if not outcome.ok:
        logger.info("Voice note for %s/%s refused by the checks", key, code)
        label = outcome.issues[0].label if outcome.issues else "voice.error.invalid"
        return refused(label, 400, problems=outcome.problems)
    logger.info("Voice note drafted for %s in %s from the console", key, code)
    target = f"{PREFIX}/voice/{code}/{key}?done=draft"
    if wants_json:
        return JSONResponse({"ok": True, "next": target})
    return RedirectResponse(target, status_code=303)


@guarded(Action.VOICE, scope="language")
async def voice_discard(request: Request) -> Response:
    """Drop the draft voice note (the live one, if any, stays)."""
    context = await _voice_context(request)
    desk: ContentDesk | None = request.app.state.desk
    if context is None or desk is None:
        return _not_found(request)
    form = await request.form()
    code, key = str(context["code"]), str(context["key"])
    outcome = await desk.discard(
        actor=request.state.account.name,
        language=code,
        key=key,
        revision=_int(form.get("revision")),
        kind=VOICE,
    )
    if outcome.conflict is not None:
        return page(
            request,
            "voice.html",
            {**context, "error": "voice.error.conflict", "who": outcome.conflict.who},
            status=409,
        )
    return RedirectResponse(f"{PREFIX}/voice/{code}/{key}?done=discarded", status_code=303)


def voice_routes() -> list[BaseRoute]:
    return [
        Route("/voice/{language}", voice_list, methods=["GET"]),
        Route("/voice/{language}/{key}", voice_page, methods=["GET"]),
        Route("/voice/{language}/{key}", voice_upload, methods=["POST"]),
        Route("/voice/{language}/{key}/audio", voice_audio, methods=["GET"]),
        Route("/voice/{language}/{key}/draft.ogg", voice_draft_audio, methods=["GET"]),
        Route("/voice/{language}/{key}/discard", voice_discard, methods=["POST"]),
    ]
