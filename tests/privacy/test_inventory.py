"""docs/privacy.md lists every column the database holds: a column added to the models
without a line in the inventory fails here, on purpose."""

from __future__ import annotations

import re
from pathlib import Path

from bot.store.models import Base

PRIVACY = Path(__file__).resolve().parents[2] / "docs" / "privacy.md"
HEADING = "## What is stored, why, and for how long"
NAME = re.compile(r"`([a-z0-9_]+(?:\.[a-z0-9_]+)?)`")


def documented(markdown: str) -> set[tuple[str, str]]:
    """(table, column) of the inventory table's first cells.

    A cell names ``table.column`` first; bare names after it are columns of that table
    (``users.consent``, ``consent_at``).
    """
    section = markdown.split(HEADING, 1)[1].split("\n## ", 1)[0]
    found: set[tuple[str, str]] = set()
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    for row in rows:
        first = row.split("|")[1]
        table = None
        for name in NAME.findall(first):
            if "." in name:
                table, column = name.split(".")
            else:
                assert table is not None, f"a bare column before any table.column: {row}"
                column = name
            found.add((table, column))
    return found


def test_the_reader_takes_bare_names_as_columns_of_the_table_before() -> None:
    text = f"{HEADING}\n\n| a | b |\n|---|---|\n| `users.consent`, `consent_at` | x |\n"
    assert documented(text) == {("users", "consent"), ("users", "consent_at")}
    assert documented(text + "\n## Next\n| `users.id` | x |\n") == documented(text)


def test_every_column_of_the_schema_is_in_the_inventory() -> None:
    schema = {(t.name, c.name) for t in Base.metadata.sorted_tables for c in t.columns}
    listed = documented(PRIVACY.read_text(encoding="utf-8"))
    missing = sorted(f"{t}.{c}" for t, c in schema - listed)
    assert not missing, f"columns not in docs/privacy.md's inventory: {missing}"
    unknown = sorted(f"{t}.{c}" for t, c in listed - schema)
    assert not unknown, f"the inventory names columns the schema does not have: {unknown}"
