"""Changing a copy of the content in tests: one edit in a file, and where a text stands."""

from __future__ import annotations

from pathlib import Path


def edit(path: Path, old: str, new: str) -> None:
    """Replace the first ``old`` in ``path`` (which must hold it) by ``new``."""
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def line_of(path: Path, needle: str, start: int = 0) -> int:
    """The 1-based number of the first line after ``start`` lines that holds ``needle``."""
    lines = path.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines[start:], start + 1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in {path}")
