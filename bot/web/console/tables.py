"""A dashboard table as it may leave the program: every count through :mod:`bot.disclosure`.

The same published rows feed the page's table, its chart and its CSV download, so no
view shows more than another.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

from bot.disclosure import HIDDEN, MIN_CELL, OTHER, shown, shown_share
from bot.store.dashboard import Table


@dataclass(frozen=True)
class Published:
    name: str
    kind: str
    columns: tuple[str, ...]
    labels: int
    rows: list[tuple[Any, ...]]

    def chart(self) -> dict[str, Any]:
        """Chart.js data: the label columns joined, one dataset per count column; hidden
        cells are gaps (null)."""
        values = [
            [v if isinstance(v, int | float) and not isinstance(v, bool) else None for v in row]
            for row in self.rows
        ]
        return {
            "labels": [" ".join(str(c) for c in row[: self.labels]) for row in self.rows],
            "series": [
                {"key": column, "data": [row[i] for row in values]}
                for i, column in enumerate(self.columns)
                if i >= self.labels
            ],
        }


def _folded(table: Table) -> list[tuple[Any, ...]]:
    """A breakdown's rows whose first count is 1 to 4 folded into one ``(other)`` row."""
    kept: list[tuple[Any, ...]] = []
    small: list[tuple[Any, ...]] = []
    for row in table.rows:
        first = row[table.labels]
        (small if 0 < first < MIN_CELL else kept).append(row)
    if small:
        counts = [sum(row[i] for row in small) for i in range(table.labels, len(table.columns))]
        kept.append((OTHER, *([""] * (table.labels - 1)), *counts))
    return kept


def publish(table: Table) -> Published:
    labels = table.labels
    rows: list[tuple[Any, ...]] = []
    if table.kind == "share":
        for *names, answers, correct in table.rows:
            rows.append((*names, shown(answers), shown_share(correct, answers)))
        columns = (*table.columns[:labels], "answers", "share_correct")
        return Published(table.name, table.kind, columns, labels, rows)
    if table.kind == "delays":
        for service, acks, ack_median, closes, close_median in table.rows:
            rows.append(
                (
                    service,
                    shown(acks),
                    ack_median if acks >= MIN_CELL else "-",
                    shown(closes),
                    close_median if closes >= MIN_CELL else "-",
                )
            )
        return Published(table.name, table.kind, table.columns, labels, rows)
    source = _folded(table) if table.kind == "breakdown" else table.rows
    for row in source:
        rows.append((*row[:labels], *(shown(v) for v in row[labels:])))
    if table.kind == "figures":
        rows = [(*row, change(row[1], row[2])) for row in rows]
        return Published(table.name, table.kind, (*table.columns, "change"), labels, rows)
    return Published(table.name, table.kind, table.columns, labels, rows)


def change(current: Any, previous: Any) -> str:
    """The change between two shown counts, in percent; ``-`` when one is hidden or the
    previous one is 0."""
    if current == HIDDEN or previous == HIDDEN or not previous:
        return "-"
    return f"{round(100 * (int(current) - int(previous)) / int(previous)):+d}%"


def to_csv(rows: list[tuple[Any, ...]], header: list[str]) -> str:
    """A published table's rows (labels translated) as CSV."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()
