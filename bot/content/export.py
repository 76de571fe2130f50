"""Writing a translation file: one row per message, the source beside the translation.

The same rows go out as a spreadsheet (XLSX), CSV (UTF-8 with a byte order mark, for
Excel) or PO; :mod:`bot.content.import_table` reads them back. The column layout and
the ``[EDIT]`` mark are shared by XLSX and CSV.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import polib
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from bot.content.catalog import Catalog, TranslationState, placeholders, text_hash
from bot.content.models import ReviewStatus


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


#: A spreadsheet reads a cell starting with one of these as a formula (OWASP, "CSV
#: injection"): a message like "=HYPERLINK(...)" or "+223 ..." would run or be mangled.
FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")
#: What neutralises such a cell: a leading apostrophe, which `content import` removes.
FORMULA_GUARD = "'"


def neutralise_formula(cell: str) -> str:
    """``cell`` made inert for a spreadsheet: ``'`` before a formula-leading character."""
    return FORMULA_GUARD + cell if cell.startswith(FORMULA_LEADS) else cell


def restore_formula_guard(cell: str) -> str:
    """The inverse of :func:`neutralise_formula`, for cells read back from a CSV file."""
    if cell.startswith(FORMULA_GUARD) and cell[1:].startswith(FORMULA_LEADS):
        return cell[1:]
    return cell


def _write_csv(rows: Sequence[ExportRow], source_language: str, language: str, path: Path) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")  # RFC 4180: CRLF between records
    writer.writerow(_headers(source_language, language))
    for row in rows:
        writer.writerow([neutralise_formula(cell) for cell in _cells(row)])
    # Excel reads a CSV file as UTF-8 only when it starts with a byte order mark.
    path.write_bytes(b"\xef\xbb\xbf" + buffer.getvalue().encode("utf-8"))


def _write_xlsx(rows: Sequence[ExportRow], source_language: str, language: str, path: Path) -> None:
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
