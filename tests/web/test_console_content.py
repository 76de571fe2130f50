"""Content in the console: messages side by side, checks as one types, drafts, review by
a second person, conflicting saves, publishing with the loader's checks on the field,
the version history and rollback, spreadsheets, and replicas serving one version."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import httpx

from bot.content.catalog import text_hash
from bot.content.drafts import target_of
from bot.content.releases import ContentDesk
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

KEY = "help.text"
BM_URL = f"{PREFIX}/content/bm/{KEY}"


def _field(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found, f"no {name} field"
    return found.group(1)


async def _save(
    c: httpx.AsyncClient, url: str, text: str, *, page: str | None = None
) -> httpx.Response:
    """Save ``text`` from the editor page (loaded now, or the ``page`` given)."""
    html = page if page is not None else (await c.get(url)).text
    return await c.post(
        url,
        data={
            "csrf": token_in(html),
            "text": text,
            "revision": _field(html, "revision"),
            "base": _field(html, "base"),
        },
    )


async def _review(c: httpx.AsyncClient, url: str) -> httpx.Response:
    html = (await c.get(url)).text
    return await c.post(
        f"{url}/review",
        data={
            "csrf": token_in(html),
            "revision": _field(html, "revision"),
            "base": _field(html, "base"),
        },
    )


async def _publish(c: httpx.AsyncClient) -> httpx.Response:
    html = (await c.get(f"{PREFIX}/publish")).text
    ids = re.findall(r'name="draft" value="(\d+)"', html)
    return await c.post(f"{PREFIX}/publish", data={"csrf": token_in(html), "draft": ids})


async def _audit(database: Database) -> list[tuple[str, str]]:
    async with database.reading() as session:
        return [(e.actor, e.action) for e in await account_store.audit_log(session)]


def _bm_text(desk: ContentDesk) -> str:
    return desk.catalog().messages["bm"][KEY].text


async def test_a_translator_sees_french_beside_bambara_and_what_is_left(
    database: Database, content_copy: Path
) -> None:
    await add_accounts(database)
    desk = content_desk(database, content_copy)
    async with client(console_app(database, desk.publisher.store, desk=desk)) as c:
        await sign_in(c, "tina")
        page = await c.get(BM_URL)
        assert page.status_code == 200
        french = desk.catalog().messages["fr"][KEY].text
        assert french.split("\n")[0][:40] in page.text
        # The placeholder of the source is highlighted, the status shown.
        assert '<mark class="field">{commands}</mark>' in page.text
        assert 'id="state"' in page.text
        left = await c.get(f"{PREFIX}/content/bm?status=todo")
        assert left.status_code == 200
        found = await c.get(f"{PREFIX}/content/bm", params={"q": "help.text"})
        assert f"/content/bm/{KEY}" in found.text
        by_topic = await c.get(f"{PREFIX}/content/bm", params={"topic": "sahara"})
        assert "topic.sahara.card1" in by_topic.text and KEY not in by_topic.text
        matrix = await c.get(f"{PREFIX}/content")
        assert matrix.status_code == 200 and "Bamanankan" in matrix.text


async def test_placeholders_and_limits_are_checked_as_one_types(
    database: Database, content_copy: Path
) -> None:
    await add_accounts(database)
    desk = content_desk(database, content_copy)
    async with client(console_app(database, desk.publisher.store, desk=desk)) as c:
        await sign_in(c, "tina")
        token = token_in((await c.get(BM_URL)).text)
        checked = await c.post(
            f"{BM_URL}/check", data={"text": "I ni ce {command}"}, headers={"X-CSRF-Token": token}
        )
        assert checked.status_code == 200
        assert "Il manque {commands}" in checked.text
        assert "{command} n&#39;existe pas dans le français" in checked.text
        assert "17 / 4096" in checked.text
        assert '<mark class="field">{command}</mark>' in checked.text
        long = await c.post(
            f"{PREFIX}/content/bm/menu.help/check",
            data={"text": "x" * 45},
            headers={"X-CSRF-Token": token},
        )
        assert "Bouton long" in long.text and "45 / 40" in long.text
        # A card's preview shows its buttons, in the language, as Telegram lays them out.
        card = await c.post(
            f"{PREFIX}/content/bm/topic.sahara.card2/check",
            data={"text": "Kunnafoni https://example.org"},
            headers={"X-CSRF-Token": token},
        )
        assert 'class="tg-button"' in card.text and 'href="https://example.org"' in card.text


async def test_a_draft_is_invisible_until_published_then_rolled_back(
    database: Database, content_copy: Path
) -> None:
    await add_accounts(database)
    desk = content_desk(database, content_copy)
    before_file = (content_copy / "messages" / "bm.yml").read_text(encoding="utf-8")
    before = _bm_text(desk)
    new = "Kunnafoni bɛ kunnafoni di.\n{commands}"
    async with client(console_app(database, desk.publisher.store, desk=desk)) as c:
        await sign_in(c, "tina")
        saved = await _save(c, BM_URL, new)
        assert saved.status_code == 303, saved.text
        assert _bm_text(desk) == before
        assert (content_copy / "messages" / "bm.yml").read_text(encoding="utf-8") == before_file
        assert "Brouillon de tina" in (await c.get(BM_URL)).text
        # A translator does not publish.
        assert (await c.get(f"{PREFIX}/publish")).status_code == 403

    async with client(console_app(database, desk.publisher.store, desk=desk)) as c:
        await sign_in(c, "eddie")
        published = await _publish(c)
        assert published.status_code == 303, published.text
        assert _bm_text(desk) == new
        written = (content_copy / "messages" / "bm.yml").read_text(encoding="utf-8")
        # Comments and order kept: only the entry changed.
        assert written.splitlines()[0] == before_file.splitlines()[0]
        assert written.count("\n# ") == before_file.count("\n# ")
        history = (await c.get(f"{PREFIX}/publish")).text
        release = int(re.findall(r'/publish/(\d+)"', history)[0])
        diff = await c.get(f"{PREFIX}/publish/{release}")
        assert diff.status_code == 200 and "<ins>" in diff.text and "console eddie" in diff.text
        async with database.reading() as session:
            versions = await repo.content_versions(session)
        assert versions[0].version == desk.catalog().version
        assert versions[0].published_by == "console eddie"

        # Another change, then a rollback to the first release.
        await _save(c, BM_URL, "Kunnafoni filanan.\n{commands}")
        assert (await _publish(c)).status_code == 303
        assert _bm_text(desk) == "Kunnafoni filanan.\n{commands}"
        token = token_in((await c.get(f"{PREFIX}/publish")).text)
        back = await c.post(f"{PREFIX}/publish/{release}/rollback", data={"csrf": token})
        assert back.status_code == 303
        assert _bm_text(desk) == new
        # And back to before any console release: the original file, byte for byte.
        async with database.transaction() as session:
            first = await draft_store.release(session, release)
        assert first is not None and first.files["messages/bm.yml"]["before"] == before_file
    actions = [a for _, a in await _audit(database)]
    for action in ("content.draft", "content.publish", "content.rollback"):
        assert action in actions


async def test_the_second_save_is_refused_with_the_others_change_shown(
    database: Database, content_copy: Path
) -> None:
    await add_accounts(database)
    desk = content_desk(database, content_copy)
    app = console_app(database, desk.publisher.store, desk=desk)
    async with client(app) as tina, client(app) as eddie:
        await sign_in(tina, "tina")
        await sign_in(eddie, "eddie")
        tina_page = (await tina.get(BM_URL)).text
        eddie_page = (await eddie.get(BM_URL)).text
        assert (
            await _save(tina, BM_URL, "Tina ka sɛbɛn.\n{commands}", page=tina_page)
        ).status_code == 303
        refused = await _save(eddie, BM_URL, "Eddie ka sɛbɛn.\n{commands}", page=eddie_page)
        assert refused.status_code == 409
        assert "Tina ka sɛbɛn." in refused.text and "tina" in refused.text
        # Eddie's text is kept in the field, nothing lost.
        assert "Eddie ka sɛbɛn." in refused.text
    async with database.reading() as session:
        draft = await draft_store.open_draft(session, target_of("message", "bm", KEY))
    assert draft is not None and draft.data["text"].startswith("Tina")


async def test_review_needs_a_second_person_with_the_right(
    database: Database, content_copy: Path
) -> None:
    await add_accounts(database)
    desk = content_desk(database, content_copy)
    app = console_app(database, desk.publisher.store, desk=desk)
    async with client(app) as tina, client(app) as rita:
        await sign_in(tina, "tina")
        await sign_in(rita, "rita")
        await _save(tina, BM_URL, "Tina ka sɛbɛn.\n{commands}")
        assert (await _review(tina, BM_URL)).status_code == 403  # no reviewer right
        token = token_in((await rita.get(BM_URL)).text)
        other = await rita.post(
            f"{PREFIX}/content/ff/{KEY}/review", data={"csrf": token, "revision": "0"}
        )
        assert other.status_code == 403  # not her language
        reviewed = await _review(rita, BM_URL)
        assert reviewed.status_code == 303, reviewed.text
        page = (await rita.get(BM_URL)).text
        assert "Relu par rita" in page
        # Her own text: a second person must review it.
        await _save(rita, BM_URL, "Rita ka sɛbɛn.\n{commands}")
        own = await _review(rita, BM_URL)
        assert own.status_code == 422 and "deuxième personne" in own.text
    async with database.reading() as session:
        draft = await draft_store.open_draft(session, target_of("message", "bm", KEY))
    assert draft is not None and draft.reviewed_by is None and draft.author == "rita"


async def test_a_bad_text_is_refused_on_its_field(database: Database, content_copy: Path) -> None:
    await add_accounts(database)
    desk = content_desk(database, content_copy)
    async with client(console_app(database, desk.publisher.store, desk=desk)) as c:
        await sign_in(c, "tina")
        refused = await _save(c, BM_URL, "I ni ce")
        assert refused.status_code == 422
        assert 'aria-invalid="true"' in refused.text and "Il manque {commands}" in refused.text
        # A draft that the loader refuses at publication (saved under other rules):
        # the reason is shown on its row, nothing is written.
    async with database.transaction() as session:
        await draft_store.create_draft(
            session,
            kind="message",
            language="bm",
            key=KEY,
            target=target_of("message", "bm", KEY),
            data={"text": "{ {commands}", "status": "draft"},
            base=text_hash(_bm_text(desk)),
            author="tina",
        )
    before = (content_copy / "messages" / "bm.yml").read_bytes()
    async with client(console_app(database, desk.publisher.store, desk=desk)) as c:
        await sign_in(c, "eddie")
        refused = await _publish(c)
        assert refused.status_code == 422
        assert "stray" in refused.text and 'class="invalid"' in refused.text
        assert "bm.yml:" not in refused.text
    assert (content_copy / "messages" / "bm.yml").read_bytes() == before


async def test_a_french_change_makes_the_translation_stale_with_the_diff(
    database: Database, content_copy: Path
) -> None:
    await add_accounts(database)
    desk = content_desk(database, content_copy)
    french = desk.catalog().messages["fr"][KEY].text
    async with client(console_app(database, desk.publisher.store, desk=desk)) as c:
        await sign_in(c, "eddie")
        await _save(c, BM_URL, "Kunnafoni bɛ kunnafoni di.\n{commands}")
        assert (await _publish(c)).status_code == 303
        assert (
            await _save(c, f"{PREFIX}/content/fr/{KEY}", "Nouveau : " + french)
        ).status_code == 303
        assert (await _publish(c)).status_code == 303
        page = (await c.get(BM_URL)).text
        assert "state-stale" in page
        assert "<ins>Nouveau : </ins>" in page


async def test_a_spreadsheet_import_shows_its_diff_before_making_drafts(
    database: Database, content_copy: Path
) -> None:
    await add_accounts(database)
    desk = content_desk(database, content_copy)
    async with client(console_app(database, desk.publisher.store, desk=desk)) as c:
        await sign_in(c, "tina")
        exported = await c.get(f"{PREFIX}/content/bm/export.csv")
        assert exported.status_code == 200
        assert (await c.get(f"{PREFIX}/content/bm/export.xlsx")).status_code == 200
        assert (await c.get(f"{PREFIX}/content/bm/export.po")).status_code == 200
        rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
        header = rows[0]
        key_col = header.index("key")
        text_col = next(i for i, h in enumerate(header) if h.startswith("translation"))
        for row in rows[1:]:
            if row[key_col] == KEY:
                row[text_col] = "Sɛbɛn kura.\n{commands}"
        out = io.StringIO()
        csv.writer(out).writerows(rows)
        token = token_in((await c.get(f"{PREFIX}/content/bm")).text)
        shown = await c.post(
            f"{PREFIX}/content/bm/import",
            data={"csrf": token},
            files={"file": ("bm.csv", out.getvalue().encode("utf-8"), "text/csv")},
        )
        assert shown.status_code == 200, shown.text
        assert "Sɛbɛn kura." in shown.text and "<del>" in shown.text
        assert _bm_text(desk) != "Sɛbɛn kura.\n{commands}"
        form = {name: _field(shown.text, name) for name in ("file_name", "upload", "fingerprint")}
        applied = await c.post(f"{PREFIX}/content/bm/import/apply", data={"csrf": token, **form})
        assert applied.status_code == 303
        async with database.reading() as session:
            draft = await draft_store.open_draft(session, target_of("message", "bm", KEY))
        assert draft is not None and draft.data["text"] == "Sɛbɛn kura.\n{commands}"
        # Applied again, the diff is no longer what was shown (the draft replaced): refused.
        again = await c.post(f"{PREFIX}/content/bm/import/apply", data={"csrf": token, **form})
        assert again.status_code == 409
        bad = await c.post(
            f"{PREFIX}/content/bm/import",
            data={"csrf": token},
            files={"file": ("bm.txt", b"nothing", "text/plain")},
        )
        assert bad.status_code == 422 and "Fichier refusé" in bad.text
    assert "content.import" in [a for _, a in await _audit(database)]


async def test_two_replicas_serve_the_same_published_version(
    database: Database, content_copy: Path, tmp_path: Path
) -> None:
    """Two console instances, each with its own content folder, on one database."""
    import shutil

    other = tmp_path / "replica-b"
    shutil.copytree(content_copy, other)
    await add_accounts(database)
    a = content_desk(database, content_copy)
    b = content_desk(database, other)
    async with client(console_app(database, a.publisher.store, desk=a)) as c:
        await sign_in(c, "eddie")
        await _save(c, BM_URL, "Replica kelen.\n{commands}")
        assert (await _publish(c)).status_code == 303
    assert _bm_text(a) == "Replica kelen.\n{commands}"
    assert _bm_text(b) != _bm_text(a)
    assert await b.publisher.poll()
    assert _bm_text(b) == _bm_text(a)
    assert b.catalog().version == a.catalog().version
    # B publishes next, on top of A's release; A follows.
    async with client(console_app(database, b.publisher.store, desk=b)) as c:
        await sign_in(c, "eddie")
        await _save(c, BM_URL, "Replica filanan.\n{commands}")
        assert (await _publish(c)).status_code == 303
    assert await a.publisher.poll()
    assert _bm_text(a) == "Replica filanan.\n{commands}"
    assert (content_copy / "messages" / "bm.yml").read_bytes() == (
        other / "messages" / "bm.yml"
    ).read_bytes()
