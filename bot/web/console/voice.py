"""The console's voice notes: per message key and language, listen, record or upload.

A recording made in the browser (MediaRecorder) or a file uploaded is turned into
OGG/Opus (``bot/content/recording.py``: kept as it is when it already is, else converted
with ffmpeg), bounded in size and duration, then attached exactly as ``/attach`` does in
Telegram (``bot/content/voice.py``): saved under ``content/media/``, recorded in the
messages file with the round-trip editor, validated by the loader and live at once,
under the publisher's lock so the version is credited to the account. Translators do
this only in their languages (the permission's scope is the path's language).
"""

from __future__ import annotations

import asyncio
import logging

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from bot.content.catalog import Catalog
from bot.content.publish import ContentPublisher
from bot.content.recording import MAX_SECONDS, MAX_UPLOAD_BYTES, RecordingError, to_voice_note
from bot.content.store import ContentStore
from bot.content.voice import AttachError, attach_voice
from bot.store import accounts as account_store
from bot.store.db import Database
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
        },
    )


def _voice_context(request: Request) -> dict[str, object] | None:
    code, key = request.path_params["language"], request.path_params["key"]
    catalog = _catalog(request)
    if catalog is None or code not in catalog.languages:
        return None
    message = catalog.messages.get(code, {}).get(key)
    if message is None:
        return None
    return {
        "code": code,
        "key": key,
        "text": message.text,
        "voice": message.voice,
        "language_name": catalog.languages[code].name,
        "version": catalog.version[:12],
        "ffmpeg": request.app.state.ffmpeg is not None,
        "editable": request.app.state.content is not None,
        "max_mb": MAX_UPLOAD_BYTES // (1024 * 1024),
        "max_seconds": int(MAX_SECONDS),
    }


@guarded(Action.VOICE, scope="language")
async def voice_page(request: Request) -> Response:
    context = _voice_context(request)
    if context is None:
        return _not_found(request)
    context["done"] = request.query_params.get("done") == "1"
    return page(request, "voice.html", context)


@guarded(Action.VOICE, scope="language")
async def voice_audio(request: Request) -> Response:
    """The live voice note of the key, for the page's player."""
    context = _voice_context(request)
    store: ContentStore | None = request.app.state.content
    voice = context.get("voice") if context else None
    if context is None or voice is None or store is None:
        return _not_found(request)
    path = (store.directory / voice.file).resolve()  # type: ignore[attr-defined]
    if not path.is_relative_to(store.directory.resolve()) or not path.is_file():
        return _not_found(request)
    return FileResponse(path, media_type="audio/ogg", headers={"Cache-Control": "no-store"})


@guarded(Action.VOICE, scope="language")
async def voice_upload(request: Request) -> Response:
    """Take a recording or a file, make it a voice note, attach it, make it live."""
    context = _voice_context(request)
    if context is None:
        return _not_found(request)
    wants_json = request.headers.get("accept", "").startswith("application/json")

    def refused(label: str, status: int) -> Response:
        if wants_json:
            t = translator(language(request))
            text = t(label, mb=context["max_mb"], seconds=context["max_seconds"])
            return JSONResponse({"ok": False, "error": text}, status_code=status)
        return page(request, "voice.html", {**context, "error": label}, status=status)

    store: ContentStore | None = request.app.state.content
    if store is None:
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
    publisher: ContentPublisher | None = request.app.state.publisher
    try:
        if publisher is not None:
            async with publisher.editing(f"console {account.name}"):
                await asyncio.to_thread(attach_voice, store, key=key, language=code, data=note.data)
        else:
            await asyncio.to_thread(attach_voice, store, key=key, language=code, data=note.data)
    except AttachError as exc:
        logger.info("Voice note for %s/%s refused: %s", key, code, exc.refusal.name)
        return refused("voice.error.invalid", 400)
    database: Database = request.app.state.database
    async with database.transaction() as db:
        await account_store.audit(
            db,
            actor=account.name,
            action="voice.attach",
            detail=f"{key} {code} ({note.seconds:.0f} s)",
        )
    logger.info("Voice note attached to %s in %s from the console", key, code)
    target = f"{PREFIX}/voice/{code}/{key}?done=1"
    if wants_json:
        return JSONResponse({"ok": True, "next": target})
    return RedirectResponse(target, status_code=303)


def voice_routes() -> list[BaseRoute]:
    return [
        Route("/voice/{language}", voice_list, methods=["GET"]),
        Route("/voice/{language}/{key}", voice_page, methods=["GET"]),
        Route("/voice/{language}/{key}", voice_upload, methods=["POST"]),
        Route("/voice/{language}/{key}/audio", voice_audio, methods=["GET"]),
    ]
