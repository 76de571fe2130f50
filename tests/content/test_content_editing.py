"""MessageFile: round-trip edits of message files that keep comments, order and quoting."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest

from bot.content import editing
from bot.content.editing import MessageFile, write_atomic
from bot.content.loader import load_catalog
from tests.support.environment import CONTENT_DIR

SAMPLE = """\
# A comment at the top.
language: bm
status: draft
messages:

  # --- First section ---
  a.one: "one"
  a.two: "two"

  # --- Second section ---
  b.one:
    text: "b one"
    source: "somewhere"
    verified_on: 2026-01-02
  b.two: 'single quoted'
"""


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    (tmp_path / "messages").mkdir()
    (tmp_path / "messages" / "bm.yml").write_text(SAMPLE, encoding="utf-8")
    return tmp_path


def saved(root: Path, message_file: MessageFile) -> str:
    message_file.save()
    return (root / "messages" / "bm.yml").read_text(encoding="utf-8")


def test_unchanged_files_dump_byte_identical() -> None:
    for path in sorted((CONTENT_DIR / "messages").glob("*.yml")):
        message_file = MessageFile(CONTENT_DIR, path.stem)
        assert message_file.dump() == path.read_text(encoding="utf-8"), path.name


def test_new_key_goes_after_its_predecessor_in_source_order(sample: Path) -> None:
    message_file = MessageFile(sample, "bm")
    order = ["a.one", "a.new", "a.two", "b.one", "b.two", "c.last"]
    assert message_file.update("a.new", order=order, text="new")
    assert message_file.update("c.last", order=order, text="last")
    assert message_file.update("z.first", order=["z.first", *order], text="first")
    assert list(message_file.messages) == [
        "z.first",
        "a.one",
        "a.new",
        "a.two",
        "b.one",
        "b.two",
        "c.last",
    ]
    text = saved(sample, message_file)
    assert '  a.one: "one"\n  a.new: "new"\n  a.two: "two"\n' in text
    assert "# A comment at the top." in text


def test_new_key_at_the_end_of_a_section_stays_above_the_next_heading(sample: Path) -> None:
    message_file = MessageFile(sample, "bm")
    order = ["a.one", "a.two", "a.three", "b.one", "b.two"]
    message_file.update("a.three", order=order, text="three")
    text = saved(sample, message_file)
    assert '  a.two: "two"\n  a.three: "three"\n\n  # --- Second section ---\n' in text


def test_new_key_that_starts_a_section_goes_below_the_heading(sample: Path) -> None:
    message_file = MessageFile(sample, "bm")
    assert message_file.starts_section("b.one") and not message_file.starts_section("a.two")
    order = ["a.one", "a.two", "b.zero", "b.one", "b.two"]
    message_file.update("b.zero", order=order, text="zero", starts_section=True)
    text = saved(sample, message_file)
    assert '  # --- Second section ---\n  b.zero: "zero"\n  b.one:\n' in text


def test_plain_string_becomes_a_block_and_back_keeping_the_heading(sample: Path) -> None:
    message_file = MessageFile(sample, "bm")
    assert message_file.update("a.two", source_hash="012345678901", status="reviewed")
    text = saved(sample, message_file)
    assert (
        '  a.two:\n    text: "two"\n    status: reviewed\n    source_hash: "012345678901"\n'
        "\n  # --- Second section ---\n"
    ) in text
    # A hash of digits only is written quoted, so it reads back as text.
    assert load_catalog_entry(sample, "a.two")["source_hash"] == "012345678901"

    message_file = MessageFile(sample, "bm")
    assert message_file.update("a.two", source_hash=None, status=None)
    assert saved(sample, message_file) == SAMPLE


def test_removing_a_field_keeps_the_others_and_the_order(sample: Path) -> None:
    message_file = MessageFile(sample, "bm")
    assert message_file.update("b.one", source=None) is True
    assert message_file.update("b.one", source=None) is False  # already gone
    text = saved(sample, message_file)
    assert '  b.one:\n    text: "b one"\n    verified_on: 2026-01-02\n  b.two:' in text
    assert "'single quoted'" in text


def test_adding_a_field_to_the_last_entry_of_a_section(tmp_path: Path) -> None:
    root = tmp_path / "content"
    shutil.copytree(CONTENT_DIR, root)
    message_file = MessageFile(root, "bm")
    # Every entry followed by a heading keeps the heading right after it, whatever its shape.
    followed = [key for key in list(message_file.messages)[:-1] if _next_starts(message_file, key)]
    assert followed
    before = (root / "messages" / "bm.yml").read_text(encoding="utf-8")
    for key in followed:
        message_file.update(key, status="reviewed")
    message_file.save()
    after = (root / "messages" / "bm.yml").read_text(encoding="utf-8")
    comments = [line for line in before.splitlines() if line.lstrip().startswith("#")]
    assert comments == [line for line in after.splitlines() if line.lstrip().startswith("#")]
    reread = MessageFile(root, "bm")
    for key in followed:
        assert _next_starts(reread, key), key
    for key in followed:
        reread.update(key, status=None)
    reread.save()
    assert (root / "messages" / "bm.yml").read_text(encoding="utf-8") == before


def test_a_new_key_needs_a_text_and_a_text_cannot_be_removed(sample: Path) -> None:
    message_file = MessageFile(sample, "bm")
    with pytest.raises(ValueError, match="needs a text"):
        message_file.update("x.y", status="draft")
    with pytest.raises(ValueError, match="cannot lose its text"):
        message_file.update("a.one", text=None)


def test_a_new_language_file_is_created(tmp_path: Path) -> None:
    message_file = MessageFile(tmp_path, "snk")
    message_file.update("menu.title", text="Menu")
    message_file.save()
    text = (tmp_path / "messages" / "snk.yml").read_text(encoding="utf-8")
    assert text == 'language: snk\nstatus: draft\nmessages:\n  menu.title: "Menu"\n'


def test_write_atomic_replaces_in_one_step_and_keeps_the_mode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "bm.yml"
    path.write_text("old\n", encoding="utf-8")
    path.chmod(0o640)
    write_atomic(path, "new\n")
    assert path.read_text(encoding="utf-8") == "new\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640

    def broken(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(editing.os, "replace", broken)
    with pytest.raises(OSError, match="disk full"):
        write_atomic(path, "half\n")
    assert path.read_text(encoding="utf-8") == "new\n"
    assert [p.name for p in tmp_path.iterdir()] == ["bm.yml"]  # no temporary file left
    monkeypatch.setattr(editing.os, "replace", os.replace)


def load_catalog_entry(root: Path, key: str) -> dict[str, object]:
    message_file = MessageFile(root, "bm")
    entry = message_file.entry(key)
    assert entry is not None
    return {name: value for name, value in entry.items()}


def _next_starts(message_file: MessageFile, key: str) -> bool:
    keys = list(message_file.messages)
    return message_file.starts_section(keys[keys.index(key) + 1])


def test_real_tree_stays_valid_after_a_stamp_like_edit(tmp_path: Path) -> None:
    root = tmp_path / "content"
    shutil.copytree(CONTENT_DIR, root)
    message_file = MessageFile(root, "bm")
    for key in list(message_file.messages)[:5]:
        message_file.update(key, source_hash="abcdef012345", status="reviewed")
    message_file.save()
    catalog = load_catalog(root)
    assert all(
        catalog.messages["bm"][key].source_hash == "abcdef012345"
        for key in list(message_file.messages)[:5]
    )
