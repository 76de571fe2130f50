"""Voice notes from the console: an OGG/Opus file taken as is, any other recording
converted with ffmpeg, limits of size and duration, a clear error without ffmpeg, the
note live at once (validated, versioned with who), played back, and audited."""

from __future__ import annotations

import io
import math
import os
import shutil
import struct
import wave
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from bot.content.checks import is_ogg_opus
from bot.content.loader import check_content
from bot.content.publish import ContentPublisher
from bot.content.recording import MAX_SECONDS, MAX_UPLOAD_BYTES, ogg_opus_seconds
from bot.content.store import ContentStore
from bot.store import accounts as account_store
from bot.store import repositories as repo
from bot.store.db import Database
from bot.web.console.app import PREFIX, build_console
from tests.web.console_support import add_accounts, client, sign_in, token_in

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


def app(
    database: Database,
    store: ContentStore,
    *,
    ffmpeg: str | None,
    publisher: ContentPublisher | None = None,
) -> Starlette:
    console = build_console(
        database,
        secret="test-secret-" + "x" * 24,
        secure=False,
        catalog=store.current,
        content=store,
        publisher=publisher,
        ffmpeg=ffmpeg,
    )
    return Starlette(routes=[Mount(PREFIX, app=console)])


async def upload(
    c: httpx.AsyncClient, language: str, data: bytes, name: str = "note.ogg"
) -> httpx.Response:
    page = await c.get(f"{PREFIX}/voice/{language}/{KEY}")
    return await c.post(
        f"{PREFIX}/voice/{language}/{KEY}",
        data={"csrf": token_in(page.text)},
        files={"file": (name, data, "application/octet-stream")},
    )


async def test_an_ogg_opus_file_is_live_at_once_credited_and_played_back(
    database: Database, content_copy: Path
) -> None:
    await add_accounts(database)
    store = ContentStore(content_copy)
    publisher = ContentPublisher(store, database)
    before = store.current().version
    async with client(app(database, store, ffmpeg=None, publisher=publisher)) as c:
        await sign_in(c, "tina")  # a translator, in her language
        done = await upload(c, "bm", OPUS)
        assert done.status_code == 303
        assert done.headers["location"] == f"{PREFIX}/voice/bm/{KEY}?done=1"
        shown = await c.get(done.headers["location"])
        assert 'id="voice-done"' in shown.text and 'id="player"' in shown.text
        # Without ffmpeg the page says so, but an OGG/Opus file is still taken.
        assert 'id="no-ffmpeg"' in shown.text
        audio = await c.get(f"{PREFIX}/voice/bm/{KEY}/audio")
        assert audio.status_code == 200 and audio.content == OPUS
        assert audio.headers["content-type"] == "audio/ogg"
        listed = await c.get(f"{PREFIX}/voice/bm", params={"only": "recorded"})
        assert f">{KEY}</a>" in listed.text
    catalog = store.current()
    assert catalog.version != before
    voice = catalog.messages["bm"][KEY].voice
    assert voice is not None and (content_copy / voice.file).read_bytes() == OPUS
    assert check_content(content_copy) == []
    async with database.reading() as session:
        log = await account_store.audit_log(session)
        versions = await repo.content_versions(session)
    assert any(e.actor == "tina" and e.action == "voice.attach" and KEY in e.detail for e in log)
    # The version that went live is credited to the account, as /attach credits its admin.
    assert any(v.version == catalog.version and v.published_by == "console tina" for v in versions)


async def test_other_recordings_are_converted_with_ffmpeg(
    database: Database, content_copy: Path
) -> None:
    need_ffmpeg()
    await add_accounts(database)
    store = ContentStore(content_copy)
    async with client(app(database, store, ffmpeg=FFMPEG)) as c:
        await sign_in(c, "eddie")
        done = await upload(c, "fr", wav(2.0), "note.wav")
    assert done.status_code == 303
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
    store = ContentStore(content_copy)
    before = {p: p.read_bytes() for p in content_copy.rglob("*") if p.is_file()}
    async with client(app(database, store, ffmpeg=None)) as c:
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


async def test_a_file_that_is_not_audio_is_refused_after_conversion_fails(
    database: Database, content_copy: Path
) -> None:
    need_ffmpeg()
    await add_accounts(database)
    store = ContentStore(content_copy)
    async with client(app(database, store, ffmpeg=FFMPEG)) as c:
        await sign_in(c, "eddie")
        junk = await upload(c, "fr", b"%PDF-1.4 not a recording" * 50, "cv.pdf")
    assert junk.status_code == 400 and "pas un enregistrement audio lisible" in junk.text
    assert store.current().messages["fr"][KEY].voice is None


async def test_unknown_keys_and_languages_are_not_found(
    database: Database, content_copy: Path
) -> None:
    await add_accounts(database)
    store = ContentStore(content_copy)
    async with client(app(database, store, ffmpeg=None)) as c:
        await sign_in(c, "eddie")
        token = token_in((await c.get(f"{PREFIX}/voice/fr")).text)
        assert (await c.get(f"{PREFIX}/voice/xx")).status_code == 404
        assert (await c.get(f"{PREFIX}/voice/fr/no.such.key")).status_code == 404
        assert (await c.get(f"{PREFIX}/voice/fr/{KEY}/audio")).status_code == 404  # none yet
        refused = await c.post(
            f"{PREFIX}/voice/fr/no.such.key",
            data={"csrf": token},
            files={"file": ("n.ogg", OPUS, "audio/ogg")},
        )
        assert refused.status_code == 404
