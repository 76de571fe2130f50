"""How fresh the services directory is: entries to check, entries not verified lately.

``kunnafoni content status`` prints it under the translation coverage: every entry
with a ``to_check`` note (a contact read only in a press article, a page years old...)
and every entry whose ``verified_on`` is more than :data:`STALE_AFTER` ago, oldest
first, so the team knows what to re-check before a contact leads someone nowhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from bot.content.catalog import Catalog

#: An entry not verified for longer than this is listed as stale (about six months).
STALE_AFTER = timedelta(days=183)


@dataclass(frozen=True)
class EntryNote:
    id: str
    organisation: str
    verified_on: date
    #: The entry's ``to_check`` note, if any.
    note: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "organisation": self.organisation,
            "verified_on": self.verified_on.isoformat(),
            "note": self.note,
        }


@dataclass(frozen=True)
class Freshness:
    today: date
    total: int
    #: Entries marked to check, by id.
    to_check: list[EntryNote]
    #: Entries not verified for more than STALE_AFTER, oldest first.
    stale: list[EntryNote]

    def as_json(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "stale_after_days": STALE_AFTER.days,
            "to_check": [entry.as_json() for entry in self.to_check],
            "stale": [entry.as_json() for entry in self.stale],
        }


def freshness(catalog: Catalog, today: date) -> Freshness:
    services = sorted(catalog.services.values(), key=lambda s: s.id)
    to_check = [
        EntryNote(s.id, s.organisation, s.verified_on, s.to_check)
        for s in services
        if s.to_check is not None
    ]
    stale = sorted(
        (
            EntryNote(s.id, s.organisation, s.verified_on, s.to_check)
            for s in services
            if today - s.verified_on > STALE_AFTER
        ),
        key=lambda entry: (entry.verified_on, entry.id),
    )
    return Freshness(today=today, total=len(services), to_check=to_check, stale=stale)


def freshness_text(report: Freshness) -> str:
    lines = [
        f"Services directory: {report.total} entries, {len(report.to_check)} marked TO CHECK,"
        f" {len(report.stale)} not verified for more than {STALE_AFTER.days} days"
    ]
    if report.stale:
        lines.append("Not verified lately (oldest first):")
        for entry in report.stale:
            lines.append(f"  {entry.verified_on.isoformat()}  {entry.id}  {entry.organisation}")
    if report.to_check:
        lines.append("TO CHECK:")
        for entry in report.to_check:
            lines.append(f"  {entry.id}: {entry.note}")
    return "\n".join(lines)
