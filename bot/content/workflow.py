"""The translation workflow of campaign managers: coverage, export, import, preview, stamp.

A translator gets a file (spreadsheet, CSV or PO) with one row per message: the French
source text beside the translation. What comes back is checked as a whole before
anything is written; a write goes through :class:`MessageFile` (comments, order and
quoting kept) and is undone if the content tree no longer validates.

This module plans and applies an import (the diff of ``content import``), previews a
key and stamps translations current. The coverage matrix (:mod:`bot.content.coverage`),
writing files (:mod:`bot.content.export`) and reading them back
(:mod:`bot.content.import_table`) have their own modules; their public names are
re-exported here, the one place the command line takes the workflow from.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.content.catalog import Catalog, TranslationState, text_hash
from bot.content.coverage import LanguageCoverage, coverage, coverage_json, coverage_table
from bot.content.editing import MessageFile, write_atomic
from bot.content.export import FORMAT_OF_SUFFIX, ExportRow, Format, export_rows, write_export
from bot.content.import_table import ImportRefused, ImportRow, ImportTable, read_table
from bot.content.loader import load_catalog
from bot.content.models import ReviewStatus
from bot.content.reading import ContentError, Problem

__all__ = [
    "FORMAT_OF_SUFFIX",
    "Change",
    "ExportRow",
    "Format",
    "ImportPlan",
    "ImportRefused",
    "ImportRow",
    "ImportTable",
    "LanguageCoverage",
    "apply_import",
    "coverage",
    "coverage_json",
    "coverage_table",
    "describe",
    "export_rows",
    "plan_import",
    "preview",
    "read_table",
    "save_validated",
    "stamp",
    "write_export",
]


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
