"""The engine's property-based test with a larger budget: random conversations (commands,
buttons on screen, mutated and forged payloads, any Unicode text up to 10,000 characters,
emergency phrases, voice notes, photos, locations) against a migrated database, checking
at every step the properties of ``tests/support/fuzz.py``.

    .venv/bin/python -m bench.engine_fuzz --examples 2000
    .venv/bin/python -m bench.engine_fuzz --examples 500 --db postgresql://postgres@127.0.0.1:5432/test

PostgreSQL runs in a private schema, dropped at the end. Prints what was tried and the
first failing conversation, shrunk, if any (exit 1).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, seed, settings
from sqlalchemy.engine import make_url

from bot.config import normalise_database_url
from bot.store.db import Database, upgrade_database
from tests.support.databases import private_schema
from tests.support.fuzz import conversations, engine_under_test


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=2000)
    parser.add_argument("--steps", type=int, default=12, help="most steps per conversation")
    parser.add_argument("--db", default=None, help="a PostgreSQL URL; default: an SQLite file")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    with _database(args.db) as url:
        return _run(args, url)


@contextmanager
def _database(raw: str | None) -> Iterator[str]:
    """A migrated database of the bench's own: an SQLite file in a temporary folder, or a
    schema in the PostgreSQL database at ``raw`` (the tests' helper), dropped at the end."""
    if raw is not None:
        with private_schema(normalise_database_url(raw)) as url:
            yield url
        return
    with tempfile.TemporaryDirectory() as scratch:
        url = f"sqlite+aiosqlite:///{Path(scratch) / 'fuzz.db'}"
        asyncio.run(upgrade_database(url))
        yield url


def _run(args: argparse.Namespace, url: str) -> int:
    failure: list[str] = []
    started = time.perf_counter()
    with engine_under_test(lambda: Database(url)) as under_test:

        @settings(
            max_examples=args.examples,
            deadline=None,
            database=None,
            derandomize=args.seed is None,
            suppress_health_check=list(HealthCheck),
        )
        @given(conversation=conversations(max_steps=args.steps))
        def check(conversation: list[tuple[Any, ...]]) -> None:
            under_test.play(conversation)

        if args.seed is not None:
            check = seed(args.seed)(check)
        try:
            check()
        except Exception as exc:  # the shrunk counter-example, reported below
            failure.append(f"{type(exc).__name__}: {exc}")
        tally = under_test.tally
    elapsed = time.perf_counter() - started
    report = {
        "database": make_url(url).get_backend_name(),
        "conversations": tally.conversations,
        "steps": tally.steps,
        "steps_by_kind": dict(sorted(tally.kinds.items())),
        "texts_with_emergency_words": tally.emergencies,
        "forged_payloads": tally.forged,
        "seconds": round(elapsed, 1),
        "failure": failure[0] if failure else None,
    }
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        for key, value in report.items():
            print(f"{key}: {value}")
    return 1 if failure else 0


if __name__ == "__main__":
    sys.exit(main())
