"""Property-based test of the engine: whatever people (or forgers) send, in whatever state
and language, the bot answers without an exception, within Telegram's limits, puts the
emergency contacts first for every text that holds an emergency phrase of ``content/``,
and stores nothing for a button payload it never made.

The strategies live in ``tests/support/fuzz.py``; ``python -m bench.engine_fuzz`` runs the
same properties with a larger budget and reports what it tried.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from bot.store.db import Database
from tests.support.databases import private_schema
from tests.support.fuzz import EngineUnderTest, conversations, engine_under_test

#: Examples per database in the suite; the bench script runs many more.
SUITE_EXAMPLES = 40


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def fuzzed(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EngineUnderTest]:
    """One engine and database for all the examples of a test (each example is a new
    person, so examples never see each other's state)."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "fuzz.db"
        path.write_bytes(template.read_bytes())
        url = f"sqlite+aiosqlite:///{path}"
        with engine_under_test(lambda: Database(url)) as under_test:
            yield under_test
        return
    # Its own schema: these examples commit, and must not leave rows other tests count.
    with (
        private_schema(request.getfixturevalue("postgres_url")) as url,
        engine_under_test(lambda: Database(url)) as under_test,
    ):
        yield under_test


@settings(
    max_examples=SUITE_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(conversation=conversations())
def test_no_input_breaks_the_engine_or_the_emergency_path(
    fuzzed: EngineUnderTest, conversation: list[tuple[Any, ...]]
) -> None:
    fuzzed.play(conversation)
