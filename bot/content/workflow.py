"""The translation workflow of campaign managers: coverage, export, import, preview, stamp.

A translator gets a file (spreadsheet, CSV or PO) with one row per message: the French
source text beside the translation. What comes back is checked as a whole before
anything is written; a write goes through :class:`MessageFile` (comments, order and
quoting kept) and is undone if the content tree no longer validates.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from bot.content.catalog import Catalog, TranslationState, placeholders, text_hash
from bot.content.editing import MessageFile, write_atomic
from bot.content.loader import ContentError, Problem, load_catalog
from bot.content.models import ReviewStatus
from bot.errors import KunnafoniError

# --- coverage ------------------------------------------------------------------------------


@dataclass(frozen=True)
class LanguageCoverage:
    """Where one language stands: counts over the keys its coverage requires."""

    language: str
    name: str
    coverage: str
    is_source: bool
    expected: int
    complete: int
    missing: int
    stale: int
    untracked: int
    draft: int
    reviewed: int
    voice: int
    #: state -> keys, for the states that need work (missing, stale, untracked, draft).
    keys: dict[str, list[str]] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "language": self.language,
            "name": self.name,
            "coverage": self.coverage,
            "source": self.is_source,
            "expected": self.expected,
            "complete": self.complete,
            "missing": self.missing,
            "stale": self.stale,
            "untracked": self.untracked,
            "draft": self.draft,
            "reviewed": self.reviewed,
            "voice": self.voice,
            "keys": self.keys,
        }


def coverage(catalog: Catalog) -> list[LanguageCoverage]:
    """The coverage matrix: one row per declared language, the source language first."""
    codes = sorted(catalog.languages, key=lambda c: (c != catalog.default_language, c))
    rows = []
    for code in codes:
        language = catalog.languages[code]
        expected = catalog.expected_keys(code)
        messages = catalog.messages.get(code, {})
        default_status = catalog.statuses.get(code, ReviewStatus.DRAFT)
        by_state: dict[str, list[str]] = {}
        draft = reviewed = 0
        for key in expected:
            state = catalog.state(code, key)
            if state is TranslationState.SOURCE:
                entry = messages[key]
                status = entry.status or default_status
                state = TranslationState(status.value)
            by_state.setdefault(state.value, []).append(key)
            draft += state is TranslationState.DRAFT
            reviewed += state is TranslationState.REVIEWED
        voiced = sum(1 for key in expected if key in messages and messages[key].voice is not None)
        rows.append(
            LanguageCoverage(
                language=code,
                name=language.name,
                coverage=language.coverage.value,
                is_source=code == catalog.default_language,
                expected=len(expected),
                complete=draft + reviewed,
                missing=len(by_state.get(TranslationState.MISSING.value, [])),
                stale=len(by_state.get(TranslationState.STALE.value, [])),
                untracked=len(by_state.get(TranslationState.UNTRACKED.value, [])),
                draft=draft,
                reviewed=reviewed,
                voice=voiced,
                keys={
                    state.value: by_state[state.value]
                    for state in (
                        TranslationState.MISSING,
                        TranslationState.STALE,
                        TranslationState.UNTRACKED,
                        TranslationState.DRAFT,
                    )
                    if state.value in by_state
                },
            )
        )
    return rows


def coverage_json(catalog: Catalog) -> str:
    return json.dumps(
        {
            "default": catalog.default_language,
            "version": catalog.version,
            "languages": [row.as_json() for row in coverage(catalog)],
        },
        ensure_ascii=False,
        indent=2,
    )


def coverage_table(rows: Sequence[LanguageCoverage]) -> str:
    """An aligned plain-text table, with a legend."""
    header = (
        "language",
        "coverage",
        "expected",
        "complete",
        "missing",
        "stale",
        "untracked",
        "draft",
        "reviewed",
        "voice",
    )
    lines: list[tuple[str, ...]] = [header]
    for row in rows:
        percent = round(100 * row.complete / row.expected) if row.expected else 100
        dash = "-"
        lines.append(
            (
                f"{row.language} ({'source' if row.is_source else row.name})",
                row.coverage,
                str(row.expected),
                f"{row.complete} ({percent}%)",
                dash if row.is_source else str(row.missing),
                dash if row.is_source else str(row.stale),
                dash if row.is_source else str(row.untracked),
                str(row.draft),
                str(row.reviewed),
                f"{row.voice}/{row.expected}",
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    out = []
    for line in lines:
        cells = [
            cell.ljust(widths[i]) if i < 2 else cell.rjust(widths[i]) for i, cell in enumerate(line)
        ]
        out.append("  ".join(cells).rstrip())
    out.append("")
    out.append(
        "expected: keys the language must translate (full: every key; key: the key_messages"
        " of languages.yml)"
    )
    out.append("complete: translated and current (draft + reviewed)")
    out.append("missing: no translation, the fallback language is shown")
    out.append("stale: the French text changed since the translation was made")
    out.append("untracked: no record of the French text it was made from (see content stamp)")
    out.append("voice: keys with a voice note / expected")
    return "\n".join(out)


# --- export rows ---------------------------------------------------------------------------


class Format(StrEnum):
    XLSX = "xlsx"
    CSV = "csv"
    PO = "po"


FORMAT_OF_SUFFIX = {".xlsx": Format.XLSX, ".csv": Format.CSV, ".po": Format.PO}


@dataclass(frozen=True)
class ExportRow:
    key: str
    required: bool
    state: str
    source: str
    translation: str
    status: str
    source_hash: str
    notes: str


def export_rows(catalog: Catalog, language: str) -> list[ExportRow]:
    """One row per key of the default language, in its file order."""
    default = catalog.default_language
    required = set(catalog.expected_keys(language))
    sources = catalog.messages[default]
    translations = catalog.messages.get(language, {})
    file_status = catalog.statuses.get(language, ReviewStatus.DRAFT)
    rows = []
    for key in catalog.keys():
        source = sources[key]
        entry = translations.get(key)
        notes = []
        try:
            names = sorted(placeholders(source.text))
        except ValueError:
            names = []
        if names:
            notes.append("keep " + ", ".join(f"{{{name}}}" for name in names))
        if source.source:
            notes.append(f"source: {source.source}")
        if source.verified_on:
            notes.append(f"verified_on: {source.verified_on.isoformat()}")
        if entry is not None and entry.voice is not None:
            notes.append(f"voice ({language}): {entry.voice.file}")
        if source.voice is not None:
            notes.append(f"voice ({default}): {source.voice.file}")
        rows.append(
            ExportRow(
                key=key,
                required=key in required,
                state=catalog.state(language, key).value,
                source=source.text,
                translation=entry.text if entry is not None else "",
                status=(entry.status or file_status).value if entry is not None else "",
                source_hash=text_hash(source.text),
                notes="; ".join(notes),
            )
        )
    return rows


# --- the table layout shared by XLSX and CSV -----------------------------------------------

EDIT_MARK = "[EDIT]"


def _headers(source_language: str, language: str) -> list[str]:
    return [
        "key",
        f"required for {language}",
        "state",
        f"source ({source_language})",
        f"translation ({language}) {EDIT_MARK}",
        f"status ({language}) {EDIT_MARK}",
        "source hash",
        "notes",
    ]


def _cells(row: ExportRow) -> list[str]:
    return [
        row.key,
        "yes" if row.required else "no",
        row.state,
        row.source,
        row.translation,
        row.status,
        row.source_hash,
        row.notes,
    ]


INSTRUCTIONS = (
    "Edit only the columns marked {edit}: the translation and its status.",
    "status: 'draft' (not yet read by a reviewer) or 'reviewed' (a native-speaker reviewer"
    " read it). A changed translation becomes draft unless its status says reviewed.",
    "An empty translation is ignored: it never deletes a text.",
    "Keep the {{name}} placeholders of the source as they are.",
    "Do not rename, add or move the key column; do not change the header row.",
    "state (read only): missing, untracked, stale (the French text changed), draft, reviewed.",
)


def write_export(catalog: Catalog, language: str, fmt: Format, path: Path) -> int:
    """Write the translation file of ``language``; return the number of rows."""
    rows = export_rows(catalog, language)
    source_language = catalog.default_language
    if fmt is Format.CSV:
        _write_csv(rows, source_language, language, path)
    elif fmt is Format.XLSX:
        _write_xlsx(rows, source_language, language, path)
    else:
        _write_po(rows, source_language, language, path)
    return len(rows)


def _write_csv(rows: Sequence[ExportRow], source_language: str, language: str, path: Path) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")  # RFC 4180: CRLF between records
    writer.writerow(_headers(source_language, language))
    for row in rows:
        writer.writerow(_cells(row))
    # Excel reads a CSV file as UTF-8 only when it starts with a byte order mark.
    path.write_bytes(b"\xef\xbb\xbf" + buffer.getvalue().encode("utf-8"))


def _write_xlsx(rows: Sequence[ExportRow], source_language: str, language: str, path: Path) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = f"translation {language}"
    headers = _headers(source_language, language)
    sheet.append(headers)
    for row in rows:
        sheet.append(_cells(row))
        for cell in sheet[sheet.max_row]:
            cell.data_type = "s"  # a text starting with '=' stays a text, not a formula

    editable = {4, 5}  # translation, status (0-based)
    widths = [32, 10, 11, 60, 60, 12, 14, 40]
    wrap = Alignment(wrap_text=True, vertical="top")
    top = Alignment(vertical="top")
    edit_fill = PatternFill("solid", start_color="FFF2CC", end_color="FFF2CC")
    head_fill = PatternFill("solid", start_color="D9D9D9", end_color="D9D9D9")
    edit_head_fill = PatternFill("solid", start_color="FFD966", end_color="FFD966")
    for index, width in enumerate(widths):
        sheet.column_dimensions[get_column_letter(index + 1)].width = width
        head = sheet.cell(row=1, column=index + 1)
        head.font = Font(bold=True)
        head.fill = edit_head_fill if index in editable else head_fill
        head.alignment = wrap
        for cells in sheet.iter_rows(min_row=2, min_col=index + 1, max_col=index + 1):
            for cell in cells:
                cell.alignment = wrap if index in (3, 4, 7) else top
                if index in editable:
                    cell.fill = edit_fill
    sheet.freeze_panes = "B2"
    sheet.auto_filter.ref = sheet.dimensions
    if rows:
        status_letter = get_column_letter(6)
        choice = DataValidation(type="list", formula1='"draft,reviewed"', allow_blank=True)
        choice.error = "draft or reviewed"
        sheet.add_data_validation(choice)
        choice.add(f"{status_letter}2:{status_letter}{len(rows) + 1}")

    about = book.create_sheet("how to")
    about.column_dimensions["A"].width = 110
    about.append([f"Kunnafoni messages: translation from {source_language} into {language}"])
    about["A1"].font = Font(bold=True)
    for line in INSTRUCTIONS:
        about.append([line.format(edit=EDIT_MARK)])
    about.append([f"Bring the file back with: kunnafoni content import {path.name}"])
    book.save(path)


def _write_po(rows: Sequence[ExportRow], source_language: str, language: str, path: Path) -> None:
    import polib

    po = polib.POFile(wrapwidth=0)
    po.metadata = {
        "Project-Id-Version": "kunnafoni content",
        "Language": language,
        "MIME-Version": "1.0",
        "Content-Type": "text/plain; charset=UTF-8",
        "Content-Transfer-Encoding": "8bit",
        "X-Source-Language": source_language,
    }
    po.header = (
        f"Kunnafoni messages: translation from {source_language} into {language}.\n"
        "msgctxt is the message key; msgid the source text; msgstr the translation.\n"
        "Keep the '# status: draft|reviewed' line; 'fuzzy' marks a translation made from an\n"
        "older source text: clear it once the translation matches the source again."
    )
    for row in rows:
        comments = [f"required for {language}: {'yes' if row.required else 'no'}"]
        comments.append(f"state: {row.state}")
        if row.notes:
            comments.extend(row.notes.split("; "))
        po.append(
            polib.POEntry(
                msgctxt=row.key,
                msgid=row.source,
                msgstr=row.translation,
                comment="\n".join(comments),
                tcomment=f"status: {row.status}" if row.status else "",
                flags=["fuzzy"] if row.state == TranslationState.STALE.value else [],
            )
        )
    path.write_text(str(po) + "\n", encoding="utf-8")


# --- import --------------------------------------------------------------------------------


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
        records.append((start, cells))
        start = reader.line_num + 1
    return records


def _read_xlsx(path: Path) -> list[tuple[int, list[str]]]:
    from openpyxl import load_workbook

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
    import polib

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


@dataclass(frozen=True)
class Change:
    """What an import does to one key."""

    key: str
    line: int
    old_text: str | None
    new_text: str | None  # None: the text stays
    old_status: str | None
    new_status: str | None  # None: the status stays
    source_hash: str | None  # None: the recorded hash stays
    #: The row's source text is not the current one: the translation will be stale.
    outdated_source: bool = False
    #: Marked reviewed while its text changed: a reviewer must have read the new text.
    reviewed_with_new_text: bool = False


@dataclass(frozen=True)
class ImportPlan:
    language: str
    path: Path
    changes: list[Change]


def plan_import(catalog: Catalog, table: ImportTable) -> ImportPlan:
    """Check the table against the catalog and work out the changes; nothing is written."""
    reasons: list[str] = []
    default = catalog.default_language
    language = table.language
    if language is None:
        raise ImportRefused(table.path, ["1: the file does not say which language it holds"])
    if language not in catalog.languages:
        declared = ", ".join(sorted(catalog.languages))
        raise ImportRefused(
            table.path,
            [f"1: language '{language}' is not declared in languages.yml ({declared})"],
        )
    if language == default:
        raise ImportRefused(
            table.path,
            [f"1: '{language}' is the source language: edit messages/{language}.yml directly"],
        )
    if table.source_language is not None and table.source_language != default:
        reasons.append(
            f"1: the source column is '{table.source_language}', but the source language"
            f" is '{default}'"
        )
    sources = catalog.messages[default]
    translations = catalog.messages.get(language, {})
    file_status = catalog.statuses.get(language, ReviewStatus.DRAFT)
    seen: dict[str, int] = {}
    changes: list[Change] = []
    statuses = {status.value for status in ReviewStatus}
    for row in table.rows:
        if not row.key:
            reasons.append(f"{row.line}: no key in this row")
            continue
        if row.key in seen:
            reasons.append(f"{row.line}: key '{row.key}' repeated (first on line {seen[row.key]})")
            continue
        seen[row.key] = row.line
        if row.key not in sources:
            reasons.append(f"{row.line}: unknown key '{row.key}': it has no text in {default}.yml")
            continue
        status = row.status.lower() if row.status else None
        if status is not None and status not in statuses:
            reasons.append(
                f"{row.line}: status '{row.status}' of '{row.key}': write draft or reviewed"
            )
            continue
        entry = translations.get(row.key)
        new_text = row.translation.strip()
        if not new_text:
            continue  # an empty cell never deletes a translation
        current = sources[row.key].text
        old_text = entry.text if entry is not None else None
        old_status = (entry.status or file_status).value if entry is not None else None
        text_changed = old_text is None or new_text != old_text.strip()
        if text_changed:
            target = ReviewStatus.REVIEWED.value if status == "reviewed" else "draft"
        else:
            target = status or old_status or "draft"
        status_changed = target != old_status
        refreshed = (
            row.current is True
            and not text_changed
            and catalog.state(language, row.key) is TranslationState.STALE
            and row.source.strip() == current.strip()
        )
        if not (text_changed or status_changed or refreshed):
            continue
        records_hash = text_changed or refreshed or target == ReviewStatus.REVIEWED.value
        changes.append(
            Change(
                key=row.key,
                line=row.line,
                old_text=old_text,
                new_text=new_text if text_changed else None,
                old_status=old_status,
                new_status=target if status_changed else None,
                source_hash=text_hash(row.source) if records_hash else None,
                outdated_source=records_hash and row.source.strip() != current.strip(),
                reviewed_with_new_text=(
                    text_changed and old_text is not None and target == "reviewed"
                ),
            )
        )
    if reasons:
        raise ImportRefused(table.path, reasons)
    return ImportPlan(language, table.path, changes)


def describe(plan: ImportPlan) -> str:
    """The dry-run diff: per key, old -> new text and status."""
    if not plan.changes:
        return f"{plan.path.name}: nothing to change in messages/{plan.language}.yml"
    lines = [f"{plan.path.name}: {len(plan.changes)} change(s) to messages/{plan.language}.yml"]
    for change in plan.changes:
        lines.append(f"  {change.key} (line {change.line})")
        if change.new_text is not None:
            old = _quote(change.old_text) if change.old_text is not None else "(missing)"
            lines.append(f"    text:   {old}")
            lines.append(f"        ->  {_quote(change.new_text)}")
        if change.new_status is not None:
            lines.append(f"    status: {change.old_status or '(none)'} -> {change.new_status}")
        if change.new_text is None and change.source_hash is not None:
            lines.append("    marked current against the source text shown in the file")
        if change.outdated_source:
            lines.append("    note: translated from an older source text: it will show as stale")
        if change.reviewed_with_new_text:
            lines.append("    note: new text marked reviewed: a reviewer must have read it")
    return "\n".join(lines)


def _quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def apply_import(content_dir: Path, catalog: Catalog, plan: ImportPlan) -> list[Problem]:
    """Write the plan; return the problems (and restore the file) if the tree is invalid."""
    if not plan.changes:
        return []
    messages = MessageFile(content_dir, plan.language)
    source_file = MessageFile(content_dir, catalog.default_language)
    file_status = catalog.statuses.get(plan.language, ReviewStatus.DRAFT).value
    order = catalog.keys()
    for change in plan.changes:
        fields: dict[str, Any] = {}
        if change.new_text is not None:
            fields["text"] = change.new_text
        if change.source_hash is not None:
            fields["source_hash"] = change.source_hash
        if change.new_status is not None or change.old_text is None:
            status = change.new_status or file_status
            # The file's default status needs no line of its own.
            fields["status"] = None if status == file_status else status
        if change.old_text is None and fields.get("status") is None:
            fields.pop("status", None)
        messages.update(
            change.key,
            order=order,
            starts_section=source_file.starts_section(change.key),
            **fields,
        )
    return save_validated(content_dir, [messages])


def save_validated(content_dir: Path, files: Sequence[MessageFile]) -> list[Problem]:
    """Save ``files``, validate the tree, and put the originals back if it is invalid."""
    originals = {f.path: (f.path.read_bytes() if f.path.exists() else None) for f in files}
    for message_file in files:
        message_file.save()
    try:
        load_catalog(content_dir)
    except ContentError as exc:
        for path, raw in originals.items():
            if raw is None:
                path.unlink(missing_ok=True)
            else:
                write_atomic(path, raw.decode("utf-8"))
        return list(exc.problems)
    return []


# --- preview and stamp ---------------------------------------------------------------------


def preview(catalog: Catalog, key: str, language: str) -> str:
    """What a user of ``language`` sees for ``key``, and where it came from."""
    shown = catalog.text(key, language)
    head = f"{key} in {language}"
    if shown.fell_back:
        head += f" [fallback: {shown.language}]"
    lines = [head, ""]
    lines.extend(shown.text.splitlines() or [""])
    lines.append("")
    if shown.voice is not None:
        lines.append(f"voice: {shown.voice.file} ({shown.voice.mode.value} the text)")
    else:
        lines.append("voice: none")
    state = catalog.state(language, key)
    lines.append(f"state: {state.value}")
    if language != catalog.default_language and key not in catalog.expected_keys(language):
        lines.append(f"required for {language}: no (its coverage is 'key')")
    return "\n".join(lines)


def stamp(
    content_dir: Path,
    catalog: Catalog,
    language: str,
    keys: Sequence[str] | None,
    *,
    include_stale: bool = False,
) -> tuple[list[str], list[str], list[Problem]]:
    """Record the current source hash on translations without one.

    Returns (stamped keys, skipped keys with the reason, problems). Texts are never touched.
    """
    default = catalog.default_language
    translations = catalog.messages.get(language, {})
    chosen = list(translations) if keys is None else list(keys)
    messages = MessageFile(content_dir, language)
    stamped: list[str] = []
    skipped: list[str] = []
    for key in chosen:
        if key not in catalog.messages[default]:
            skipped.append(f"{key}: unknown key")
            continue
        state = catalog.state(language, key)
        if state is TranslationState.MISSING:
            skipped.append(f"{key}: no {language} translation")
            continue
        if state is TranslationState.STALE and not include_stale:
            skipped.append(f"{key}: stale (check it against the source, then use --stale)")
            continue
        if state is not TranslationState.UNTRACKED and state is not TranslationState.STALE:
            continue  # already current
        if messages.update(key, source_hash=text_hash(catalog.messages[default][key].text)):
            stamped.append(key)
    problems = save_validated(content_dir, [messages]) if stamped else []
    return stamped, skipped, problems
