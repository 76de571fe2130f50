"""Reading a translation file back (XLSX, CSV or PO) into an :class:`ImportTable`.

Only the file's shape is checked here (header, language, PO entries); what the rows
would change is worked out against the catalog by :func:`bot.content.workflow.plan_import`.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import polib
from openpyxl import load_workbook

from bot.content.export import EDIT_MARK, FORMAT_OF_SUFFIX, Format, restore_formula_guard
from bot.errors import KunnafoniError


class ImportRefused(KunnafoniError):
    """The file cannot be imported; ``reasons`` say where and why, one per line."""

    def __init__(self, path: Path, reasons: Iterable[str]) -> None:
        self.path = path
        self.reasons = list(reasons)
        super().__init__("\n".join(f"{path.name}:{reason}" for reason in self.reasons))


@dataclass(frozen=True)
class ImportRow:
    line: int
    key: str
    source: str
    translation: str
    #: The status cell; ``None`` when the file has no status column or the cell is empty.
    status: str | None
    #: PO only: ``True`` when the entry is not marked fuzzy.
    current: bool | None = None


@dataclass(frozen=True)
class ImportTable:
    path: Path
    language: str | None
    source_language: str | None
    rows: list[ImportRow]


_LANGUAGE_COLUMN = re.compile(r"^(source|translation|status)\s*(?:\((?P<code>[^)]*)\))?$")


def read_table(path: Path) -> ImportTable:
    """Read an export file back (format by extension); :class:`ImportRefused` if malformed."""
    fmt = FORMAT_OF_SUFFIX.get(path.suffix.lower())
    if fmt is None:
        raise ImportRefused(path, ["1: unknown file type: use a .xlsx, .csv or .po file"])
    if fmt is Format.PO:
        return _read_po(path)
    records = _read_csv(path) if fmt is Format.CSV else _read_xlsx(path)
    return _table_from_records(path, records)


def _read_csv(path: Path) -> list[tuple[int, list[str]]]:
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportRefused(
            path, ["1: the file is not UTF-8 text (in Excel, save as 'CSV UTF-8')"]
        ) from exc
    first = text.split("\n", 1)[0]
    # Excel in French saves with ';' between cells: take the separator of the header line.
    delimiter = max((",", ";", "\t"), key=first.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    records = []
    start = 1
    for cells in reader:
        records.append((start, [restore_formula_guard(cell) for cell in cells]))
        start = reader.line_num + 1
    return records


def _read_xlsx(path: Path) -> list[tuple[int, list[str]]]:
    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds on a damaged file
        raise ImportRefused(path, [f"1: cannot read the spreadsheet: {exc}"]) from exc
    try:
        sheet = book.worksheets[0]
        records = []
        for number, values in enumerate(sheet.iter_rows(values_only=True), 1):
            records.append((number, [_cell_text(value) for value in values]))
        return records
    finally:
        book.close()


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _table_from_records(path: Path, records: list[tuple[int, list[str]]]) -> ImportTable:
    if not records:
        raise ImportRefused(path, ["1: the file is empty"])
    header_line, header = records[0]
    columns: dict[str, int] = {}
    languages: dict[str, str] = {}
    reasons = []
    for index, raw in enumerate(header):
        name = raw.replace(EDIT_MARK, "").replace(EDIT_MARK.lower(), "").strip().lower()
        match = _LANGUAGE_COLUMN.match(name)
        if name == "key":
            columns["key"] = index
        elif match:
            kind = match.group(1)
            columns[kind] = index
            if match.group("code") is not None:
                languages[kind] = match.group("code").strip()
    for kind in ("key", "source", "translation"):
        if kind not in columns:
            reasons.append(
                f"{header_line}: missing column '{kind}' in the header"
                " (export a fresh file and keep its first row)"
            )
    language = languages.get("translation")
    if "translation" in columns and not language:
        reasons.append(
            f"{header_line}: no language in the header: the translation column must be"
            " named 'translation (<language code>)'"
        )
    status_language = languages.get("status")
    if language and status_language and status_language != language:
        reasons.append(
            f"{header_line}: the status column is for '{status_language}',"
            f" the translation column for '{language}'"
        )
    if reasons:
        raise ImportRefused(path, reasons)

    def cell(cells: list[str], kind: str) -> str:
        index = columns.get(kind)
        return cells[index] if index is not None and index < len(cells) else ""

    rows = []
    for line, cells in records[1:]:
        if not any(c.strip() for c in cells):
            continue
        status = cell(cells, "status").strip() if "status" in columns else ""
        rows.append(
            ImportRow(
                line=line,
                key=cell(cells, "key").strip(),
                source=_newlines(cell(cells, "source")),
                translation=_newlines(cell(cells, "translation")),
                status=status or None,
            )
        )
    return ImportTable(path, language, languages.get("source"), rows)


def _newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _read_po(path: Path) -> ImportTable:
    try:
        po = polib.pofile(str(path), encoding="utf-8", wrapwidth=0)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise ImportRefused(path, [f"1: cannot read the PO file: {exc}"]) from exc
    language = po.metadata.get("Language", "").strip() or None
    if language is None:
        raise ImportRefused(path, ["1: no language: the PO header needs a 'Language: <code>' line"])
    rows = []
    reasons = []
    for entry in po:
        if entry.obsolete:
            continue
        if entry.msgid_plural:
            reasons.append(f"{entry.linenum}: plural entries are not used by Kunnafoni")
            continue
        if not entry.msgctxt:
            reasons.append(f"{entry.linenum}: entry without msgctxt (the message key)")
            continue
        status = None
        for comment_line in (entry.tcomment or "").splitlines():
            name, _, value = comment_line.partition(":")
            if name.strip().lower() == "status" and value.strip():
                status = value.strip()
        rows.append(
            ImportRow(
                line=entry.linenum or 0,
                key=entry.msgctxt.strip(),
                source=entry.msgid,
                translation=entry.msgstr,
                status=status,
                current="fuzzy" not in entry.flags,
            )
        )
    if reasons:
        raise ImportRefused(path, reasons)
    source_language = po.metadata.get("X-Source-Language", "").strip() or None
    return ImportTable(path, language, source_language, rows)
