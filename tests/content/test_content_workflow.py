"""The managers' translation workflow: status, export/import, preview, stamp, schema.

Every test works on a copy of the real content tree; content/ itself is never written.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from collections.abc import Callable
from datetime import date
from pathlib import Path

import jsonschema
import polib
import pytest
from openpyxl import load_workbook
from ruamel.yaml import YAML

from bot.cli import main
from bot.content import schema
from bot.content.catalog import TranslationState, text_hash
from bot.content.editing import MessageFile
from bot.content.loader import load_catalog
from tests.support.environment import CONTENT_DIR

FORMATS = ["xlsx", "csv", "po"]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    target = tmp_path / "content"
    shutil.copytree(CONTENT_DIR, target)
    return target


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


# --- a crafted tree: one key in each state ---------------------------------------------------

OGG_OPUS = b"OggS" + b"\0" * 24 + b"OpusHead" + b"\1\1" + b"\0" * 30


@pytest.fixture
def crafted(tree: Path) -> tuple[Path, dict[str, str]]:
    """bm with no record anywhere, then: one missing, one stale, one current draft,
    one current reviewed, and one untracked key with a voice note."""
    bm = MessageFile(tree, "bm")
    for key in list(bm.messages):
        bm.update(key, source_hash=None, status=None, voice=None)
    fr = load_catalog(tree).messages["fr"]
    keys = [key for key in fr if key in bm.messages and "{" not in fr[key].text]
    chosen = {
        "missing": keys[3],
        "stale": keys[5],
        "draft": keys[7],
        "reviewed": keys[9],
        "voice": keys[11],
    }
    bm.remove(chosen["missing"])
    bm.update(chosen["stale"], source_hash=text_hash("an older French text"))
    bm.update(chosen["draft"], source_hash=text_hash(fr[chosen["draft"]].text))
    bm.update(
        chosen["reviewed"], source_hash=text_hash(fr[chosen["reviewed"]].text), status="reviewed"
    )
    (tree / "media").mkdir(exist_ok=True)
    (tree / "media" / "test_voice.ogg").write_bytes(OGG_OPUS)
    bm.update(chosen["voice"], voice={"file": "media/test_voice.ogg"})
    bm.save()
    load_catalog(tree)  # still valid
    return tree, chosen


def test_status_counts_every_state(
    crafted: tuple[Path, dict[str, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    tree, chosen = crafted
    catalog = load_catalog(tree)
    total = len(catalog.keys())
    baseline_missing = len(set(catalog.keys()) - set(catalog.messages["bm"]))
    code, out, _ = run(capsys, "content", "status", "--json", str(tree))
    assert code == 0
    report = {row["language"]: row for row in json.loads(out)["languages"]}
    bm = report["bm"]
    assert bm["expected"] == total
    assert bm["missing"] == baseline_missing == 1
    assert bm["stale"] == 1 and bm["keys"]["stale"] == [chosen["stale"]]
    assert bm["draft"] == 1 and bm["keys"]["draft"] == [chosen["draft"]]
    assert bm["reviewed"] == 1
    assert bm["complete"] == 2
    assert bm["untracked"] == total - 4
    assert bm["voice"] == 1
    assert bm["keys"]["missing"] == [chosen["missing"]]
    fr = report["fr"]
    assert fr["source"] and fr["complete"] == fr["expected"] == total
    # The services directory's freshness comes with it (bot/content/freshness.py).
    directory = json.loads(out)["services"]
    assert directory["total"] == len(catalog.services)
    assert directory["stale_after_days"] == 183
    assert {e["id"] for e in directory["to_check"]} == {
        s.id for s in catalog.services.values() if s.to_check
    }
    for code_ in report:
        assert report[code_]["expected"] == len(catalog.expected_keys(code_))

    code, out, _ = run(capsys, "content", "status", str(tree))
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["language", "coverage", "expected", "complete"]
    bm_line = next(line for line in lines if line.startswith("bm "))
    assert f"2 ({round(200 / total)}%)" in bm_line and f"1/{total}" in bm_line
    # Columns line up: every row of the table is as wide as the header's cells demand.
    table = lines[: lines.index("")]
    ends = {line.index("voice") + len("voice") for line in table[:1]}
    assert all(len(line) == next(iter(ends)) for line in table)
    assert any(
        line.startswith(f"Services directory: {len(catalog.services)} entries") for line in lines
    )


# --- export / import -------------------------------------------------------------------------


def export(capsys: pytest.CaptureFixture[str], tree: Path, fmt: str, path: Path) -> None:
    code, _, err = run(
        capsys, "content", "export", "--lang", "bm", "--format", fmt, "--dir", str(tree), str(path)
    )
    assert code == 0, err


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("which", ["real", "crafted"])
def test_export_then_import_changes_nothing(
    fmt: str, which: str, request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str]
) -> None:
    tree: Path = (
        request.getfixturevalue("tree")
        if which == "real"
        else (request.getfixturevalue("crafted")[0])
    )
    before = snapshot(tree)
    path = tree.parent / f"bm.{fmt}"
    export(capsys, tree, fmt, path)
    code, out, _ = run(capsys, "content", "import", "--apply", "--dir", str(tree), str(path))
    assert code == 0
    assert "nothing to change" in out
    assert snapshot(tree) == before


def test_export_rows_hold_source_beside_translation(
    crafted: tuple[Path, dict[str, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    tree, chosen = crafted
    catalog = load_catalog(tree)
    path = tree.parent / "bm.csv"
    export(capsys, tree, "csv", path)
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    header = rows[0]
    assert header[:6] == [
        "key",
        "required for bm",
        "state",
        "source (fr)",
        "translation (bm) [EDIT]",
        "status (bm) [EDIT]",
    ]
    assert [row[0] for row in rows[1:]] == catalog.keys()
    by_key = {row[0]: row for row in rows[1:]}
    stale = by_key[chosen["stale"]]
    assert stale[2] == "stale" and stale[3] == catalog.messages["fr"][chosen["stale"]].text
    assert stale[6] == text_hash(stale[3])
    assert by_key[chosen["missing"]][4] == "" and by_key[chosen["missing"]][2] == "missing"
    assert by_key[chosen["reviewed"]][5] == "reviewed"
    assert "voice (bm): media/test_voice.ogg" in by_key[chosen["voice"]][7]
    newline_keys = [key for key, entry in catalog.messages["fr"].items() if "\n" in entry.text]
    assert newline_keys and all("\n" in by_key[key][3] for key in newline_keys)
    sourced = next(key for key, entry in catalog.messages["fr"].items() if entry.source)
    assert "verified_on: " in by_key[sourced][7]


def test_xlsx_is_a_plain_spreadsheet(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tree.parent / "bm.xlsx"
    export(capsys, tree, "xlsx", path)
    book = load_workbook(path)
    sheet = book.worksheets[0]
    assert sheet.freeze_panes == "B2"
    assert sheet["E1"].value == "translation (bm) [EDIT]"
    assert sheet["D2"].alignment.wrap_text
    assert sheet.column_dimensions["D"].width >= 40
    assert all(cell.data_type == "s" for cell in sheet["A"][1:])


def test_po_marks_stale_translations_fuzzy(
    crafted: tuple[Path, dict[str, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    tree, chosen = crafted
    path = tree.parent / "bm.po"
    export(capsys, tree, "po", path)
    po = polib.pofile(str(path))
    assert po.metadata["Language"] == "bm"
    entries = {entry.msgctxt: entry for entry in po}
    assert "fuzzy" in entries[chosen["stale"]].flags
    assert "fuzzy" not in entries[chosen["draft"]].flags
    assert entries[chosen["reviewed"]].tcomment == "status: reviewed"
    assert entries[chosen["missing"]].msgstr == ""


def edit_csv(path: Path, edit: Callable[[list[list[str]]], None]) -> None:
    rows = list(csv.reader(io.StringIO(path.read_bytes().decode("utf-8-sig"), newline="")))
    edit(rows)
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    path.write_bytes(b"\xef\xbb\xbf" + buffer.getvalue().encode("utf-8"))


def set_cell(key: str, column: int, value: str) -> Callable[[list[list[str]]], None]:
    def edit(rows: list[list[str]]) -> None:
        for row in rows:
            if row[0] == key:
                row[column] = value

    return edit


def last_of_a_section(tree: Path) -> str:
    """A bm key followed by a section heading (the hardest place to keep comments right)."""
    bm = MessageFile(tree, "bm")
    keys = list(bm.messages)
    return next(key for i, key in enumerate(keys[:-1]) if bm.starts_section(keys[i + 1]))


def changed_lines(before: str, after: str) -> tuple[list[str], list[str]]:
    old, new = before.splitlines(), after.splitlines()
    return [line for line in old if line not in new], [line for line in new if line not in old]


@pytest.mark.parametrize("fmt", FORMATS)
def test_edited_translation_dry_run_then_apply(
    fmt: str, tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = last_of_a_section(tree)
    bm_path = tree / "messages" / "bm.yml"
    path = tree.parent / f"bm.{fmt}"
    export(capsys, tree, fmt, path)
    new_text = "Kuma kura\nsira filanan"
    if fmt == "csv":
        edit_csv(path, set_cell(key, 4, new_text))
    elif fmt == "xlsx":
        book = load_workbook(path)
        sheet = book.worksheets[0]
        row = next(r for r in sheet.iter_rows(min_row=2) if r[0].value == key)
        row[4].value = new_text
        book.save(path)
    else:
        po = polib.pofile(str(path))
        next(e for e in po if e.msgctxt == key).msgstr = new_text
        po.save(str(path))
    before = snapshot(tree)
    old_text = load_catalog(tree).messages["bm"][key].text

    code, out, err = run(capsys, "content", "import", "--dir", str(tree), str(path))
    assert code == 0
    assert key in out and json.dumps(old_text, ensure_ascii=False) in out
    assert json.dumps(new_text, ensure_ascii=False) in out and "--apply" in err
    assert snapshot(tree) == before  # a dry run writes nothing

    code, out, err = run(capsys, "content", "import", "--apply", "--dir", str(tree), str(path))
    assert code == 0, out + err
    after = snapshot(tree)
    assert {name for name in before if before[name] != after[name]} == {"messages/bm.yml"}
    removed, _added = changed_lines(
        before["messages/bm.yml"].decode(), after["messages/bm.yml"].decode()
    )
    # Only the text line changed: `  key: "..."`, or `    text: "..."` in a block entry.
    assert len(removed) == 1, removed
    assert removed[0].startswith((f"  {key}: ", "    text: ")), removed
    catalog = load_catalog(tree)
    entry = catalog.messages["bm"][key]
    assert entry.text == new_text
    assert entry.source_hash == text_hash(catalog.messages["fr"][key].text)
    assert catalog.state("bm", key) is TranslationState.DRAFT
    # The heading after the entry is still right after it.
    assert MessageFile(tree, "bm").starts_section(
        list(catalog.messages["bm"])[list(catalog.messages["bm"]).index(key) + 1]
    )
    comments = [line for line in before["messages/bm.yml"].decode().splitlines() if "#" in line]
    assert all(line in bm_path.read_text(encoding="utf-8").splitlines() for line in comments)


def test_translation_from_an_old_source_is_stale_at_once(
    tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = last_of_a_section(tree)
    path = tree.parent / "bm.csv"
    export(capsys, tree, "csv", path)
    edit_csv(path, set_cell(key, 4, "Kuma kura"))
    edit_csv(path, set_cell(key, 3, "Un ancien texte"))
    code, out, _ = run(capsys, "content", "import", "--apply", "--dir", str(tree), str(path))
    assert code == 0 and "stale" in out
    catalog = load_catalog(tree)
    assert catalog.messages["bm"][key].source_hash == text_hash("Un ancien texte")
    assert catalog.state("bm", key) is TranslationState.STALE


def test_statuses_from_the_file(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    catalog = load_catalog(tree)
    keys = [k for k in catalog.keys() if k in catalog.messages["bm"] and "{" not in k][:3]
    reviewed_only, reviewed_new, empty = keys
    empty_state = catalog.state("bm", empty)
    path = tree.parent / "bm.csv"
    export(capsys, tree, "csv", path)
    edit_csv(path, set_cell(reviewed_only, 5, "Reviewed"))
    edit_csv(path, set_cell(reviewed_new, 4, "Kuma kura"))
    edit_csv(path, set_cell(reviewed_new, 5, "reviewed"))
    edit_csv(path, set_cell(empty, 4, ""))  # an empty cell never deletes
    code, out, _ = run(capsys, "content", "import", "--apply", "--dir", str(tree), str(path))
    assert code == 0, out
    assert "draft -> reviewed" in out
    catalog = load_catalog(tree)
    assert catalog.state("bm", reviewed_only) is TranslationState.REVIEWED
    assert catalog.state("bm", reviewed_new) is TranslationState.REVIEWED
    assert catalog.messages["bm"][empty].text  # still there
    assert catalog.state("bm", empty) is empty_state


def test_a_missing_translation_is_added_in_source_order(
    crafted: tuple[Path, dict[str, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    tree, chosen = crafted
    key = chosen["missing"]
    path = tree.parent / "bm.csv"
    export(capsys, tree, "csv", path)
    edit_csv(path, set_cell(key, 4, "Kura"))
    code, _, _ = run(capsys, "content", "import", "--apply", "--dir", str(tree), str(path))
    assert code == 0
    catalog = load_catalog(tree)
    bm_keys = list(catalog.messages["bm"])
    fr_keys = catalog.keys()
    assert bm_keys.index(key) == bm_keys.index(fr_keys[fr_keys.index(key) - 1]) + 1
    assert catalog.state("bm", key) is TranslationState.DRAFT


def refused(capsys: pytest.CaptureFixture[str], tree: Path, path: Path, *needles: str) -> None:
    before = snapshot(tree)
    code, out, err = run(capsys, "content", "import", "--apply", "--dir", str(tree), str(path))
    assert code == 1
    for needle in needles:
        assert needle in out, out
    assert "nothing was changed" in err
    assert snapshot(tree) == before


def test_unknown_key_is_refused_with_its_line(
    tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tree.parent / "bm.csv"
    export(capsys, tree, "csv", path)
    edit_csv(path, lambda rows: rows.append(["ghost.key", "", "", "x", "y", "draft"]))
    edit_csv(path, set_cell(load_catalog(tree).keys()[0], 4, "changed"))
    records = list(csv.reader(io.StringIO(path.read_bytes().decode("utf-8-sig"), newline="")))
    physical = sum(cell.count("\n") for row in records[:-1] for cell in row) + len(records)
    refused(capsys, tree, path, f"bm.csv:{physical}: unknown key 'ghost.key'")


def test_repeated_key_is_refused(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tree.parent / "bm.xlsx"
    export(capsys, tree, "xlsx", path)
    book = load_workbook(path)
    sheet = book.worksheets[0]
    first = [cell.value for cell in sheet[2]]
    sheet.append(first)
    book.save(path)
    refused(
        capsys, tree, path, f"bm.xlsx:{sheet.max_row}: key '{first[0]}' repeated (first on line 2)"
    )


def test_missing_column_is_refused(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tree.parent / "bm.csv"
    export(capsys, tree, "csv", path)

    def drop_source(rows: list[list[str]]) -> None:
        for row in rows:
            del row[3]

    edit_csv(path, drop_source)
    refused(capsys, tree, path, "bm.csv:1: missing column 'source'")


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ("translation (xx) [EDIT]", "language 'xx' is not declared in languages.yml"),
        ("translation [EDIT]", "no language in the header"),
    ],
)
def test_undeclared_language_is_refused(
    header: str, reason: str, tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tree.parent / "bm.csv"
    export(capsys, tree, "csv", path)

    def rename(rows: list[list[str]]) -> None:
        rows[0][4] = header
        rows[0][5] = "status"

    edit_csv(path, rename)
    refused(capsys, tree, path, reason)


def test_po_without_language_is_refused(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tree.parent / "bm.po"
    export(capsys, tree, "po", path)
    po = polib.pofile(str(path))
    del po.metadata["Language"]
    po.save(str(path))
    refused(capsys, tree, path, "no language")


def test_an_import_that_breaks_content_is_rolled_back(
    tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog = load_catalog(tree)
    key = next(
        k
        for k, e in catalog.messages["fr"].items()
        if "{" in e.text and k in catalog.messages["bm"]
    )
    path = tree.parent / "bm.csv"
    export(capsys, tree, "csv", path)
    edit_csv(path, set_cell(key, 4, "no placeholders left"))
    before = snapshot(tree)
    code, out, err = run(capsys, "content", "import", "--apply", "--dir", str(tree), str(path))
    assert code == 1
    assert "messages/bm.yml:" in out and f"text of '{key}' must use the same placeholders" in out
    assert "nothing was changed" in err
    assert snapshot(tree) == before


# --- preview, stamp ----------------------------------------------------------------------------


def test_preview_marks_the_fallback(
    crafted: tuple[Path, dict[str, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    tree, chosen = crafted
    catalog = load_catalog(tree)
    key = chosen["missing"]
    code, out, _ = run(capsys, "content", "preview", key, "--lang", "bm", str(tree))
    assert code == 0
    assert out.splitlines()[0] == f"{key} in bm [fallback: fr]"
    assert catalog.messages["fr"][key].text.splitlines()[0] in out
    assert "state: missing" in out

    code, out, _ = run(capsys, "content", "preview", chosen["voice"], "--lang", "bm", str(tree))
    assert code == 0
    assert "fallback" not in out.splitlines()[0]
    assert "voice: media/test_voice.ogg" in out and "state: untracked" in out

    assert run(capsys, "content", "preview", "no.such.key", "--lang", "bm", str(tree))[0] == 2
    assert run(capsys, "content", "preview", key, "--lang", "xx", str(tree))[0] == 2


def test_stamp_records_the_source_hash_and_never_touches_texts(
    crafted: tuple[Path, dict[str, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    tree, chosen = crafted
    before = load_catalog(tree)
    code, out, _ = run(
        capsys, "content", "stamp", "--lang", "bm", "--dir", str(tree), chosen["voice"]
    )
    assert code == 0 and f"stamped {chosen['voice']}" in out
    assert load_catalog(tree).state("bm", chosen["voice"]) is TranslationState.DRAFT

    code, out, _ = run(capsys, "content", "stamp", "--lang", "bm", "--all", "--dir", str(tree))
    assert code == 0
    assert f"skipped {chosen['stale']}: stale" in out
    after = load_catalog(tree)
    states = {after.state("bm", key) for key in after.messages["bm"]}
    assert TranslationState.UNTRACKED not in states
    assert after.state("bm", chosen["stale"]) is TranslationState.STALE
    assert after.state("bm", chosen["reviewed"]) is TranslationState.REVIEWED
    assert {k: e.text for k, e in after.messages["bm"].items()} == {
        k: e.text for k, e in before.messages["bm"].items()
    }

    code, _, _ = run(
        capsys, "content", "stamp", "--lang", "bm", "--stale", "--dir", str(tree), chosen["stale"]
    )
    assert code == 0 and load_catalog(tree).state("bm", chosen["stale"]) is TranslationState.DRAFT
    assert run(capsys, "content", "stamp", "--lang", "bm", "--dir", str(tree))[0] == 2


# --- schema --------------------------------------------------------------------------------------


def test_committed_schema_is_current(capsys: pytest.CaptureFixture[str]) -> None:
    assert schema.outdated(CONTENT_DIR / "schema") == []
    assert run(capsys, "content", "schema", "--check", str(CONTENT_DIR / "schema"))[0] == 0


def test_schema_check_fails_when_out_of_date(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outdir = tmp_path / "schema"
    assert run(capsys, "content", "schema", "--check", str(outdir))[0] == 1
    assert run(capsys, "content", "schema", str(outdir))[0] == 0
    assert run(capsys, "content", "schema", "--check", str(outdir))[0] == 0
    (outdir / "menu.schema.json").write_text("{}\n", encoding="utf-8")
    code, out, _ = run(capsys, "content", "schema", "--check", str(outdir))
    assert code == 1 and "menu.schema.json" in out


def _plain(value: object) -> object:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, date):
        return value.isoformat()  # an editor's YAML server reads a date as a string
    return value


def test_real_content_follows_the_schema() -> None:
    yaml = YAML(typ="safe")
    pairs = {
        "languages.schema.json": [CONTENT_DIR / "languages.yml"],
        "messages.schema.json": sorted((CONTENT_DIR / "messages").glob("*.yml")),
        "menu.schema.json": [CONTENT_DIR / "menu.yml"],
        "topic.schema.json": sorted((CONTENT_DIR / "topics").glob("*.yml")),
        "intents.schema.json": [CONTENT_DIR / "intents.yml"],
        "privacy.schema.json": [CONTENT_DIR / "privacy.yml"],
        "broadcast.schema.json": sorted((CONTENT_DIR / "broadcasts").glob("*.yml")),
    }
    for name, paths in pairs.items():
        document = json.loads((CONTENT_DIR / "schema" / name).read_text(encoding="utf-8"))
        validator = jsonschema.Draft7Validator(document)
        for path in paths:
            errors = list(validator.iter_errors(_plain(yaml.load(path))))
            assert errors == [], f"{path.name}: {errors[0].message}"
    messages = json.loads((CONTENT_DIR / "schema" / "messages.schema.json").read_text("utf-8"))
    validator = jsonschema.Draft7Validator(messages)
    assert not validator.is_valid({"language": "bm", "messages": {"a.b": "x", "Bad Key": "y"}})
    assert not validator.is_valid({"language": "bm", "messages": {"a.b": {"txt": "x"}}})
    assert validator.is_valid({"language": "bm", "messages": {"a.b": "x", "c": {"text": "y"}}})


def test_csv_cells_cannot_run_as_formulas_and_come_back_unchanged(
    tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """OWASP CSV injection: a text starting with =, +, -, @ (a formula for a spreadsheet) is
    written behind an apostrophe, which the import removes again."""
    texts = {
        '=HYPERLINK("http://example.org","clic")': None,
        "+223 80 00 11 15": None,
        "- a list item": None,
        "@someone": None,
    }
    bm = MessageFile(tree, "bm")
    keys = [key for key in bm.messages if "{" not in (bm.text(key) or "")][: len(texts)]
    for key, text in zip(keys, texts, strict=True):
        bm.update(key, text=text)
        texts[text] = key
    bm.save()
    before = snapshot(tree)
    path = tree.parent / "bm.csv"
    export(capsys, tree, "csv", path)
    rows = list(csv.reader(io.StringIO(path.read_bytes().decode("utf-8-sig"), newline="")))
    cells = [cell for row in rows for cell in row]
    assert not [cell for cell in cells if cell.startswith(("=", "+", "-", "@"))]
    by_key = {row[0]: row for row in rows[1:]}
    for text, key in texts.items():
        assert by_key[key][4] == "'" + text

    code, out, err = run(capsys, "content", "import", "--apply", "--dir", str(tree), str(path))
    assert code == 0, err
    assert "nothing to change" in out
    assert snapshot(tree) == before
