"""What the ``kunnafoni`` commands share: settings, logging, content, parsing.

Opening the database is in ``database.py``, so that commands without one stay light.

Errors a command reports go to stderr prefixed ``kunnafoni:``; the exit codes are the
commands' (2: wrong use, 1: something to fix).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError

from bot.config import Settings
from bot.content.catalog import Catalog
from bot.content.loader import ContentError, load_catalog

DB_HELP = "database URL (default: DATABASE_URL)"
FOLDER_HELP = "content folder (default: CONTENT_DIR)"


def load_settings() -> Settings:
    """The settings from the environment; invalid ones end the command (exit 2)."""
    try:
        return Settings()
    except ValidationError as exc:
        print(f"kunnafoni: invalid settings:\n{settings_errors(exc)}", file=sys.stderr)
        raise SystemExit(2) from exc


def settings_errors(exc: ValidationError) -> str:
    """One line per problem, naming the setting; never the values (they may be secrets,
    and pydantic's own message quotes the input)."""
    lines = []
    for error in exc.errors(include_url=False, include_input=False, include_context=False):
        where = ".".join(str(part) for part in error["loc"]).upper()
        message = error["msg"].removeprefix("Value error, ")
        lines.append(f"  {where}: {message}" if where else f"  {message}")
    return "\n".join(lines)


def content_dir(value: str | None) -> Path:
    return Path(value) if value else load_settings().content_dir


def load_or_report(directory: Path) -> Catalog | None:
    """The catalog of ``directory``; None after printing its problems."""
    try:
        return load_catalog(directory)
    except ContentError as exc:
        for problem in exc.problems:
            print(problem)
        print(
            f"{len(exc.problems)} problem(s) in {directory}: fix them first"
            " (kunnafoni content check)",
            file=sys.stderr,
        )
        return None


class IntermixedParser(argparse.ArgumentParser):
    """Positionals may stand on both sides of options (``preview KEY --lang bm DIR``)."""

    _inner = False

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        if self._inner:  # parse_known_intermixed_args calls back into this method
            return super().parse_known_args(args, namespace)
        self._inner = True
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._inner = False
