"""The draft layer: drafts written with the round-trip editor, checked on an overlay by the
content loader, problems taken back to their draft, key-by-key diffs, and each replica's
folder brought to the latest release."""

from __future__ import annotations

import errno
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.content.catalog import text_hash
from bot.content.drafts import (
    MESSAGE,
    VOICE,
    base_of,
    check_overlay,
    check_text,
    message_changes,
    problems_by_target,
    split_placeholders,
    target_of,
    word_diff,
    write_drafts,
)
from bot.content.loader import load_catalog
from bot.content.publish import ContentPublisher
from bot.content.releases import ContentDesk
from bot.content.store import ContentStore
from bot.store import drafts as draft_store
from bot.store import repositories as repo
from bot.store.db import Database


@dataclass(frozen=True)
class D:
    language: str
    key: str
    data: dict[str, Any]
    kind: str = MESSAGE

    @property
    def target(self) -> str:
        return target_of(self.kind, self.language, self.key)


def test_drafts_are_written_keeping_comments_order_and_quoting(tree: Path) -> None:
    catalog = load_catalog(tree)
    french = catalog.messages["fr"]
    drafts = [
        D(
            "bm",
            "help.text",
            {
                "text": "Kura.\n{commands}",
                "status": "reviewed",
                "source_hash": text_hash(french["help.text"].text),
            },
        ),
        # Missing in Soninke: placed among its neighbours of the French order.
        D(
            "snk",
            "subscribe.yes",
            {"text": "Ayo", "source_hash": text_hash(french["subscribe.yes"].text)},
        ),
    ]
    assert "subscribe.yes" not in catalog.messages["snk"]
    before = (tree / "messages" / "bm.yml").read_text(encoding="utf-8")
    files = write_drafts(tree, catalog, drafts)
    assert set(files) == {"messages/bm.yml", "messages/snk.yml"}
    after = files["messages/bm.yml"]
    # Only the entry changed (its text, its new status line); every comment is kept.
    removed = set(before.splitlines()) - set(after.splitlines())
    added = set(after.splitlines()) - set(before.splitlines())
    assert len(removed) == 1 and "N bɛ kunnafoni" in removed.pop()
    assert added == {'    text: "Kura.\\n{commands}"', "    status: reviewed"}
    snk = files["messages/snk.yml"].splitlines()
    position = snk.index("  subscribe.yes:")
    assert snk[position + 1] == '    text: "Ayo"'
    # Nothing is written to the folder itself.
    assert (tree / "messages" / "bm.yml").read_text(encoding="utf-8") == before
    checked = check_overlay(tree, files)
    assert checked.problems == []
    assert checked.catalog is not None
    assert checked.catalog.messages["bm"]["help.text"].text == "Kura.\n{commands}"
    assert checked.catalog.messages["snk"]["subscribe.yes"].text == "Ayo"


def test_the_overlay_reports_problems_on_their_draft(tree: Path) -> None:
    catalog = load_catalog(tree)
    drafts = [
        D("bm", "help.text", {"text": "Kura {oops}", "status": "draft"}),
        D("bm", "nav.back", {"text": "◀️ Kɔ", "status": "draft"}),
    ]
    files = write_drafts(tree, catalog, drafts)
    checked = check_overlay(tree, files)
    assert checked.catalog is None
    assert all(not p.file.startswith("/") for p in checked.problems)
    mine, general = problems_by_target(checked.problems, files, drafts)
    assert list(mine) == [target_of(MESSAGE, "bm", "help.text")]
    assert "same placeholders" in mine[target_of(MESSAGE, "bm", "help.text")][0]
    assert general == []


def test_the_overlay_leaves_the_folder_as_it_was(tree: Path) -> None:
    listing = sorted(p.relative_to(tree).as_posix() for p in tree.rglob("*"))
    check_overlay(tree, {"messages/bm.yml": "language: bm\nmessages: {}\n"})
    assert sorted(p.relative_to(tree).as_posix() for p in tree.rglob("*")) == listing


def test_checks_as_one_types(tree: Path) -> None:
    catalog = load_catalog(tree)
    labels = {i.label for i in check_text(catalog, "bm", "help.text", "Kura {x}")}
    assert labels == {"check.missing_placeholder", "check.unknown_placeholder"}
    assert [i.label for i in check_text(catalog, "bm", "help.text", "a { b")] == [
        "check.stray_brace"
    ]
    assert [i.label for i in check_text(catalog, "bm", "help.text", "  ")] == ["check.empty"]
    long = check_text(catalog, "bm", "help.text", "x" * 4097 + "{commands}")
    assert [i.label for i in long] == ["check.too_long"]
    button = check_text(catalog, "bm", "menu.help", "x" * 41)
    assert [(i.label, i.level) for i in button] == [("check.long_button", "warning")]
    assert split_placeholders("a {b} c") == [("a ", False), ("{b}", True), (" c", False)]


def test_diffs_word_by_word_and_key_by_key() -> None:
    assert (
        word_diff("Je donne des infos", "Je donne des infos vérifiées")
        == [
            ("=", "Je donne des infos"),
            ("+", "vérifiées"),
        ]
        or word_diff("Je donne des infos", "Je donne des infos vérifiées")[0][0] == "="
    )
    before = 'language: bm\nmessages:\n  a: "un"\n  b:\n    text: "deux"\n'
    after = 'language: bm\nmessages:\n  a: "un"\n  b:\n    text: "trois"\n    status: reviewed\n'
    assert message_changes("messages/bm.yml", before, after) == [
        {
            "language": "bm",
            "key": "b",
            "old": "deux",
            "new": "trois",
            "old_status": None,
            "new_status": "reviewed",
        }
    ]
    assert message_changes("topics/sea.yml", before, after) == []


async def _release(database: Database, path: str, before: str, after: str) -> int:
    async with database.transaction() as session:
        release_id = await draft_store.latest_release_id(session) + 1
        await draft_store.add_release(
            session,
            release_id=release_id,
            version="x" * 16,
            published_by="console eddie",
            note="",
            changes=[],
            files={path: {"before": before, "after": after}},
        )
    return release_id


async def test_a_replica_brings_its_folder_to_the_latest_release(
    database: Database, tree: Path
) -> None:
    publisher = ContentPublisher(ContentStore(tree), database, interval=0.1)
    path = tree / "messages" / "bm.yml"
    before = path.read_text(encoding="utf-8")
    assert not await publisher.poll()  # no release yet: nothing to do
    after = before.replace("I ni ce!", "I ni ce kosɛbɛ!", 1)
    assert after != before
    await _release(database, "messages/bm.yml", before, after)
    assert await publisher.poll()
    assert path.read_text(encoding="utf-8") == after
    catalog = publisher.store.current()
    assert catalog.messages["bm"]["onboarding.consent_thanks"].text == "I ni ce kosɛbɛ!"
    async with database.reading() as session:
        versions = await repo.content_versions(session)
    assert [v.published_by for v in versions if v.version == catalog.version] == ["console eddie"]
    assert not await publisher.poll()  # once only


async def test_a_read_only_folder_keeps_serving(
    database: Database, tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Mounted read-only beside a replica that writes the shared folder: no crash."""
    publisher = ContentPublisher(ContentStore(tree), database, interval=0.1)
    path = tree / "messages" / "bm.yml"
    before = path.read_text(encoding="utf-8")
    version = publisher.store.current().version
    await _release(database, "messages/bm.yml", before, before + "\n")

    def read_only(_path: Path, _text: str) -> None:
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr("bot.content.publish.write_atomic", read_only)
    assert not await publisher.poll()
    assert publisher.store.current().version == version
    assert path.read_text(encoding="utf-8") == before


OPUS = (
    b"OggS\x00\x02"
    + bytes(8)
    + b"\x01\x00\x00\x00"
    + bytes(8)
    + b"\x01\x13"
    + b"OpusHead\x01\x01\x38\x01\x80\xbb\x00\x00\x00\x00\x00"
    + b"voice data"
)


def test_a_voice_draft_writes_its_audio_and_its_entry_over_a_text_draft(tree: Path) -> None:
    catalog = load_catalog(tree)
    key = "menu.title"
    digest = draft_store.sha256_of(OPUS)
    drafts = [
        D("bm", key, {"text": "Kunnafoni — yɔrɔ kura", "status": "draft"}),
        D("bm", key, {"sha256": digest, "seconds": 3.0}, kind=VOICE),
    ]
    files = write_drafts(tree, catalog, drafts, {digest: OPUS})
    assert files[f"media/bm/{key}.ogg"] == OPUS
    text = files["messages/bm.yml"]
    assert isinstance(text, str)
    # Both drafts in the one messages file: the new text and the voice entry.
    assert "Kunnafoni — yɔrɔ kura" in text and f"file: media/bm/{key}.ogg" in text
    checked = check_overlay(tree, files)
    assert checked.problems == [] and checked.catalog is not None
    entry = checked.catalog.messages["bm"][key]
    assert entry.text == "Kunnafoni — yɔrɔ kura" and entry.voice is not None
    assert not (tree / "media" / "bm" / f"{key}.ogg").exists()  # the folder untouched
    # A voice file that is not OGG/Opus is refused by the loader, on its draft.
    bad = write_drafts(tree, catalog, drafts[1:], {digest: b"not audio at all"})
    problems = check_overlay(tree, bad).problems
    mine, general = problems_by_target(problems, bad, drafts[1:])
    assert "OGG/Opus" in " ".join(mine[drafts[1].target]) and general == []


async def test_a_replica_follows_a_release_with_audio_and_its_rollback(
    database: Database, tmp_path: Path, tree: Path
) -> None:
    """One replica publishes a voice note from the console; another, on its own folder,
    writes the same audio and entry; a rollback removes them on both."""
    other = tmp_path / "other"
    shutil.copytree(tree, other)
    desk = ContentDesk(database, ContentPublisher(ContentStore(tree), database, interval=0.1))
    replica = ContentPublisher(ContentStore(other), database, interval=0.1)
    key = "menu.title"
    text = desk.catalog().messages["bm"][key].text
    # Release 1: a text, so that there is a version without a voice note to go back to.
    assert (
        await desk.save(
            actor="eddie", language="bm", key=key, text=text + " !", revision=0, base=base_of(text)
        )
    ).ok
    assert (await desk.publish(actor="eddie")).ok
    saved = await desk.save_voice(
        actor="tina", language="bm", key=key, audio=OPUS, seconds=3.0, revision=0, base=""
    )
    assert saved.ok, saved
    assert await replica.poll()  # release 1 only: the voice note is a draft
    assert replica.store.current().messages["bm"][key].voice is None
    published = await desk.publish(actor="eddie")
    assert published.ok and published.release_id == 2
    assert {"language": "bm", "key": key, "voice": "new", "seconds": 3} in published.changes
    assert await replica.poll()
    audio = other / "media" / "bm" / f"{key}.ogg"
    assert audio.read_bytes() == OPUS
    voice = replica.store.current().messages["bm"][key].voice
    assert voice is not None and replica.store.current().version == desk.catalog().version
    assert not await replica.poll()  # once only
    back = await desk.rollback(actor="eddie", release_id=1)
    assert back.ok
    assert {"language": "bm", "key": key, "voice": "removed"} in back.changes
    assert await replica.poll()
    assert not audio.exists()
    assert replica.store.current().messages["bm"][key].voice is None
    assert replica.store.current().messages["bm"][key].text == text + " !"
    assert replica.store.current().version == desk.catalog().version
