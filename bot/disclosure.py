"""Small cells: how every count about people is shown outside the program.

A report that says "1 person came from radio Kayes and speaks Soninke" points at
someone. Every aggregate output (``kunnafoni report``, ``kunnafoni broadcast plan``,
text and JSON) shows its counts through :func:`shown`:

- 0 stays 0 (nobody is nobody);
- 1 to 4 (under :data:`MIN_CELL`) becomes ``"<5"``;
- 5 and more is rounded to the nearest multiple of :data:`ROUND_TO` (never below 5);
- in a breakdown (users by language, by source, ...), the lines from 1 to 4 are left
  out and counted together in one :data:`OTHER` line, shown by the same rule.

Why round the rest: a hidden line must not come back by subtraction. If the total of a
breakdown (new users, split by source) and every other line were exact, the hidden one
would be the difference. Shown counts are multiples of 5, so a total less the lines
shown is a multiple of 5 too, never a count from 1 to 4, and no second line has to be
hidden. Why one "other" line: had every hidden line been marked "<5", seven sources
marked "<5" under a total of 7 would each be exactly 1. A share (a quiz's right answers)
is shown only when both its parts are 0 or at least 5, to the nearest 5 points.

The limits, said plainly: someone who knows every category of a breakdown and works
with the bounds the rounding leaves (a line shown 10 is 8 to 12) can now and then
narrow a hidden line down to one value; and two reports over periods that differ by an
hour show what happened in that hour. Reports go to the people who need them, over
fixed periods (docs/privacy.md).

Counts of messages and answers go through the same rule: a count of 3 messages is a
count of at most 3 people.
"""

from __future__ import annotations

from collections.abc import Mapping

#: The smallest count of people shown as it is (rounded).
MIN_CELL = 5
#: Counts of :data:`MIN_CELL` or more are rounded to a multiple of this.
ROUND_TO = 5
#: What a count from 1 to ``MIN_CELL - 1`` becomes.
HIDDEN = f"<{MIN_CELL}"
#: The line of a breakdown that stands for every hidden line together.
OTHER = "(other)"

#: A count as shown: 0, a rounded number, or :data:`HIDDEN`.
Shown = int | str


def shown(count: int) -> Shown:
    """``count`` as it may be shown."""
    if count <= 0:
        return 0
    if count < MIN_CELL:
        return HIDDEN
    return max(MIN_CELL, (count + ROUND_TO // 2) // ROUND_TO * ROUND_TO)


def shown_counts(counts: Mapping[str, int]) -> dict[str, Shown]:
    """A breakdown as it may be shown: its lines of 0 or of 5 and more (rounded), in the
    same order, then one :data:`OTHER` line for all the lines from 1 to 4 together
    (itself shown by :func:`shown`). The hidden lines are left out rather than marked:
    which ones are hidden, and how many, would bound each of them."""
    out: dict[str, Shown] = {}
    hidden = 0
    for key, count in counts.items():
        if 0 < count < MIN_CELL:
            hidden += count
        else:
            out[key] = shown(count)
    if hidden:
        out[OTHER] = shown(hidden)
    return out


def shown_share(part: int, whole: int) -> str:
    """``part`` of ``whole`` in percent to the nearest 5 points, or ``"-"`` when ``part``
    or the rest would reveal a small count (or there is nothing to divide)."""
    rest = whole - part
    if whole <= 0 or any(0 < n < MIN_CELL for n in (part, rest)):
        return "-"
    return f"{round(20 * part / whole) * 5}%"
