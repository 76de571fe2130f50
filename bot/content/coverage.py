"""Where each language's translation stands: the coverage matrix of ``content status``.

Counts, per declared language, the keys its coverage requires that are missing,
stale (the source text changed since), untracked, draft or reviewed, and how many
have a voice note; as JSON for scripts or as an aligned table with a legend.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.content.catalog import Catalog, TranslationState
from bot.content.models import ReviewStatus


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
