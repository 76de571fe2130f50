"""Voice notes from the console: an OGG/Opus file taken as is, any other recording
converted with ffmpeg, limits of size and duration, a clear error without ffmpeg; the
note kept as a draft (played back, invisible to users), published like text (validated,
versioned with who), rolled back to the previous audio or its absence, and audited."""

from __future__ import annotations

import io
import math
import os
import re
import shutil
import struct
import wave
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from bot.content.checks import is_ogg_opus
from bot.content.drafts import base_of
from bot.content.loader import check_content
from bot.content.recording import MAX_SECONDS, MAX_UPLOAD_BYTES, ogg_opus_seconds
from bot.content.releases import ContentDesk
from bot.content.store import ContentStore
from bot.store import accounts as account_store
from bot.store import drafts as draft_store
from bot.store import repositories as repo
from bot.store.db import Database
from bot.web.console.app import PREFIX
from tests.web.console_support import (
    add_accounts,
    client,
    console_app,
    content_desk,
    sign_in,
    token_in,
)

OPUS = (
    b"OggS\x00\x02"
    + bytes(8)
    + b"\x01\x00\x00\x00"
    + bytes(8)
    + b"\x01\x13"
    + b"OpusHead\x01\x01\x38\x01\x80\xbb\x00\x00\x00\x00\x00"
    + b"voice data"
)
KEY = "menu.title"
FFMPEG = shutil.which("ffmpeg")


def need_ffmpeg() -> None:
    if FFMPEG is None:
        if os.environ.get("CI") == "true":
            pytest.fail("ffmpeg is required under CI=true (apt-get install ffmpeg)")
        pytest.skip("ffmpeg is not installed (apt-get install ffmpeg)")


def wav(seconds: float, *, rate: int = 8000) -> bytes:
    """A mono 16-bit WAV of a 440 Hz tone: what a phone's recorder might give."""
    frames = b"".join(
        struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / rate)))
        for i in range(int(seconds * rate))
    )
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames)
    return out.getvalue()


def app(database: Database, desk: ContentDesk | None, *, ffmpeg: str | None) -> Starlette:
    store = desk.publisher.store if desk is not None else ContentStore(Path("content"))
    return console_app(database, store, writable=desk is not None, desk=desk, ffmpeg=ffmpeg)


async def upload(
    c: httpx.AsyncClient,
    language: str,
    data: bytes,
    name: str = "note.ogg",
    *,
    page: httpx.Response | None = None,
) -> httpx.Response:
    if page is None:
        page = await c.get(f"{PREFIX}/voice/{language}/{KEY}")
    return await c.post(
        f"{PREFIX}/voice/{language}/{KEY}",
        data={
            "csrf": token_in(page.text),
            "revision": field_in(page.text, "revision"),
            "base": field_in(page.text, "base"),
        },
        files={"file": (name, data, "application/octet-stream")},
    )


def field_in(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found, f"no {name} field in the page"
    return found.group(1)


async def publish_all(c: httpx.AsyncClient) -> httpx.Response:
    page = await c.get(f"{PREFIX}/publish")
    ids = re.findall(r'name="draft" value="(\d+)"', page.text)
    return await c.post(f"{PREFIX}/publish", data={"csrf": token_in(page.text), "draft": ids})


async def test_a_voice_note_is_a_draft_until_published_then_live(
    database: Database, content_copy: Path
) -> None:
    await add_accounts(database)
    desk = content_desk(database, content_copy)
    store = desk.publisher.store
    before = store.current().version
    files_before = {p: p.read_bytes() for p in content_copy.rglob("*") if p.is_file()}
    async with client(app(database, desk, ffmpeg=None)) as c:
        await sign_in(c, "tina")  # a translator, in her language
        done = await upload(c, "bm", OPUS)
        assert done.status_code == 303
        assert done.headers["location"] == f"{PREFIX}/voice/bm/{KEY}?done=draft"
        shown = await c.get(done.headers["location"])
        assert 'id="voice-done"' in shown.text and 'id="draft-player"' in shown.text
        assert 'id="no-voice"' in shown.text  # nothing live yet
        # Without ffmpeg the page says so, but an OGG/Opus file is still taken.
        assert 'id="no-ffmpeg"' in shown.text
        heard = await c.get(f"{PREFIX}/voice/bm/{KEY}/draft.ogg")
        assert heard.status_code == 200 and heard.content == OPUS
        assert heard.headers["content-type"] == "audio/ogg"
        # Invisible to users: neither the folder nor the live content changed.
        assert (await c.get(f"{PREFIX}/voice/bm/{KEY}/audio")).status_code == 404
        assert store.current().version == before
        assert store.current().messages["bm"][KEY].voice is None
        files_now = {p: p.read_bytes() for p in content_copy.rglob("*") if p.is_file()}
        assert files_now == files_before
        listed = await c.get(f"{PREFIX}/voice/bm")
        assert "brouillon" in listed.text
        # A translator does not publish.
        assert (await c.get(f"{PREFIX}/publish")).status_code == 403
    async with client(app(database, desk, ffmpeg=None)) as c:
        await sign_in(c, "eddie")
        listing = await c.get(f"{PREFIX}/publish")
        assert "nouvelle note vocale, 0 s" in listing.text
        assert f"/voice/bm/{KEY}/draft.ogg" in listing.text
        published = await publish_all(c)
        assert published.status_code == 303, published.text
        catalog = store.current()
        assert catalog.version != before
        voice = catalog.messages["bm"][KEY].voice
        assert voice is not None and voice.file == f"media/bm/{KEY}.ogg"
        assert (content_copy / voice.file).read_bytes() == OPUS
        assert check_content(content_copy) == []
        audio = await c.get(f"{PREFIX}/voice/bm/{KEY}/audio")
        assert audio.status_code == 200 and audio.content == OPUS
        release_id = int(published.headers["location"].rsplit("=", 1)[1])
        release = await c.get(f"{PREFIX}/publish/{release_id}")
        assert "nouvelle note vocale" in release.text and f"media/bm/{KEY}.ogg" in release.text
    async with database.reading() as session:
        log = await account_store.audit_log(session)
        versions = await repo.content_versions(session)
    assert any(e.actor == "tina" and e.action == "voice.draft" and KEY in e.detail for e in log)
    assert any(e.actor == "eddie" and e.action == "content.publish" for e in log)
    assert any(v.version == catalog.version and v.published_by == "console eddie" for v in versions)


async def test_a_rollback_restores_the_previous_audio_or_its_absence(
    database: Database, content_copy: Path
) -> None:
    await add_accounts(database)
    desk = content_desk(database, content_copy)
    store = desk.publisher.store
    media = content_copy / "media" / "bm" / f"{KEY}.ogg"
    second = OPUS + b" second take"
    # Release 1: a text only, before any voice note.
    text = store.current().messages["bm"][KEY].text
    saved = await desk.save(
        actor="eddie", language="bm", key=KEY, text=text + " !", revision=0, base=base_of(text)
    )
    assert saved.ok
    assert (await desk.publish(actor="eddie")).release_id == 1
    async with client(app(database, desk, ffmpeg=None)) as c:
        await sign_in(c, "eddie")
        assert (await upload(c, "bm", OPUS)).status_code == 303
        assert (await publish_all(c)).headers["location"].endswith("done=2")
        assert media.read_bytes() == OPUS
        assert (await upload(c, "bm", second)).status_code == 303
        assert "note vocale remplacée" in (await c.get(f"{PREFIX}/publish")).text
        assert (await publish_all(c)).headers["location"].endswith("done=3")
        assert media.read_bytes() == second
        token = token_in((await c.get(f"{PREFIX}/publish")).text)
        back = await c.post(f"{PREFIX}/publish/2/rollback", data={"csrf": token})
        assert back.status_code == 303
        assert media.read_bytes() == OPUS  # the previous audio
        assert (await c.get(f"{PREFIX}/voice/bm/{KEY}/audio")).content == OPUS
        back = await c.post(f"{PREFIX}/publish/1/rollback", data={"csrf": token})
        assert back.status_code == 303
        assert (await c.get(f"{PREFIX}/voice/bm/{KEY}/audio")).status_code == 404
    assert not media.exists()  # no voice note at all, as before release 2
    assert store.current().messages["bm"][KEY].voice is None
    assert store.current().messages["bm"][KEY].text == text + " !"
    assert check_content(content_copy) == []


async def test_a_second_upload_over_someone_elses_draft_is_refused(
    database: Database, content_copy: Path
) -> None:
    await add_accounts(database)
    desk = content_desk(database, content_copy)
    async with client(app(database, desk, ffmpeg=None)) as c:
        await sign_in(c, "eddie")
        stale = await c.get(f"{PREFIX}/voice/bm/{KEY}")
        assert (await upload(c, "bm", OPUS)).status_code == 303
        refused = await upload(c, "bm", OPUS + b" other", page=stale)
        assert refused.status_code == 409 and "entre-temps" in refused.text
        heard = await c.get(f"{PREFIX}/voice/bm/{KEY}/draft.ogg")
        assert heard.content == OPUS  # the first draft kept
        # Discarded: the draft is gone, nothing live changed.
        page = await c.get(f"{PREFIX}/voice/bm/{KEY}")
        dropped = await c.post(
            f"{PREFIX}/voice/bm/{KEY}/discard",
            data={"csrf": token_in(page.text), "revision": field_in(page.text, "revision")},
        )
        assert dropped.status_code == 303
        assert (await c.get(f"{PREFIX}/voice/bm/{KEY}/draft.ogg")).status_code == 404
    async with database.reading() as session:
        assert [d for d in await draft_store.open_drafts(session) if d.kind == "voice"] == []


async def test_other_recordings_are_converted_with_ffmpeg(
    database: Database, content_copy: Path
) -> None:
    need_ffmpeg()
    await add_accounts(database)
    desk = content_desk(database, content_copy)
    store = desk.publisher.store
    async with client(app(database, desk, ffmpeg=FFMPEG)) as c:
        await sign_in(c, "eddie")
        done = await upload(c, "fr", wav(2.0), "note.wav")
        assert done.status_code == 303
        assert "nouvelle note vocale, 2 s" in (await c.get(f"{PREFIX}/publish")).text
        assert (await publish_all(c)).status_code == 303
    voice = store.current().messages["fr"][KEY].voice
    assert voice is not None
    data = (content_copy / voice.file).read_bytes()
    assert is_ogg_opus(data[:64])
    seconds = ogg_opus_seconds(data)
    assert seconds is not None and 1.9 <= seconds <= 2.1


async def test_refusals_are_clear_and_change_nothing(
    database: Database, content_copy: Path
) -> None:
    await add_accounts(database)
    desk = content_desk(database, content_copy)
    before = {p: p.read_bytes() for p in content_copy.rglob("*") if p.is_file()}
    async with client(app(database, desk, ffmpeg=None)) as c:
        await sign_in(c, "eddie")
        no_ffmpeg = await upload(c, "fr", wav(1.0), "note.wav")
        assert no_ffmpeg.status_code == 400 and "ffmpeg n&#39;est pas installé" in no_ffmpeg.text
        empty = await upload(c, "fr", b"", "empty.ogg")
        assert empty.status_code == 400 and "Aucun fichier" in empty.text
        big = await upload(c, "fr", OPUS + bytes(MAX_UPLOAD_BYTES), "big.ogg")
        assert big.status_code == 413 and "trop gros" in big.text
        # An OGG/Opus stream whose last page says it lasts longer than the limit.
        granule = int((MAX_SECONDS + 10) * 48_000) + 312
        long_note = OPUS + b"OggS\x00\x04" + struct.pack("<q", granule) + bytes(20)
        too_long = await upload(c, "fr", long_note, "long.ogg")
        assert too_long.status_code == 400 and "trop long" in too_long.text
        # The JSON answer the in-page recorder reads.
        page = await c.get(f"{PREFIX}/voice/fr/{KEY}")
        js = await c.post(
            f"{PREFIX}/voice/fr/{KEY}",
            headers={"Accept": "application/json", "X-CSRF-Token": token_in(page.text)},
            files={"file": ("r.webm", b"\x1aE\xdf\xa3webm", "audio/webm")},
        )
        assert js.status_code == 400 and "ffmpeg" in js.json()["error"]
    after = {p: p.read_bytes() for p in content_copy.rglob("*") if p.is_file()}
    assert after == before
    async with database.reading() as session:
        assert await draft_store.open_drafts(session) == []


async def test_a_file_that_is_not_audio_is_refused_after_conversion_fails(
    database: Database, content_copy: Path
) -> None:
    need_ffmpeg()
    await add_accounts(database)
    desk = content_desk(database, content_copy)
    async with client(app(database, desk, ffmpeg=FFMPEG)) as c:
        await sign_in(c, "eddie")
        junk = await upload(c, "fr", b"%PDF-1.4 not a recording" * 50, "cv.pdf")
    assert junk.status_code == 400 and "pas un enregistrement audio lisible" in junk.text
    async with database.reading() as session:
        assert await draft_store.open_drafts(session) == []


async def test_unknown_keys_and_languages_are_not_found(
    database: Database, content_copy: Path
) -> None:
    await add_accounts(database)
    desk = content_desk(database, content_copy)
    async with client(app(database, desk, ffmpeg=None)) as c:
        await sign_in(c, "eddie")
        token = token_in((await c.get(f"{PREFIX}/voice/fr")).text)
        assert (await c.get(f"{PREFIX}/voice/xx")).status_code == 404
        assert (await c.get(f"{PREFIX}/voice/fr/no.such.key")).status_code == 404
        assert (await c.get(f"{PREFIX}/voice/fr/{KEY}/audio")).status_code == 404  # none yet
        assert (await c.get(f"{PREFIX}/voice/fr/{KEY}/draft.ogg")).status_code == 404
        refused = await c.post(
            f"{PREFIX}/voice/fr/no.such.key",
            data={"csrf": token},
            files={"file": ("n.ogg", OPUS, "audio/ogg")},
        )
        assert refused.status_code == 404
