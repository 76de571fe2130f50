"""The funnel's flags on each person (``users.progress``): set by the step that reaches a
step the first time, only with consent, and cleared with what consent keeps."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.content.catalog import Catalog
from bot.dialogue.engine import Engine
from bot.store import repositories as repo
from bot.store.db import Database
from bot.store.models import (
    PROGRESS_ASKED_FOR_HELP,
    PROGRESS_FINISHED_MODULE,
    PROGRESS_OPENED_MODULE,
)
from tests.support.conversation import USER, command, onboard, press, stored_user

EVERY_STEP = PROGRESS_OPENED_MODULE | PROGRESS_FINISHED_MODULE | PROGRESS_ASKED_FOR_HELP


@pytest.fixture
def written(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The bits each step's user update added (0: none)."""
    seen: list[int] = []
    update_user = repo.update_user

    async def watched(session: Any, *, user_id: int, reached: int = 0, **values: Any) -> None:
        seen.append(reached)
        await update_user(session, user_id=user_id, reached=reached, **values)

    monkeypatch.setattr(repo, "update_user", watched)
    return seen


async def read_a_module(engine: Engine, catalog: Catalog) -> None:
    """The first module, opened then read to its last card (the module's end)."""
    topic = next(iter(catalog.topics.values()))
    await engine.handle(press(USER, f"topic:{topic.id}"))
    await engine.handle(press(USER, f"card:{topic.id}:{len(topic.cards) - 1}"))


async def ask_for_help(engine: Engine) -> None:
    """A need, then where the person is: service cards shown."""
    asked = await engine.handle(press(USER, "intent:return_help"))
    if not asked.meta.services:
        asked = await engine.handle(press(USER, "where:r:kayes"))
    assert asked.meta.services


async def test_each_step_sets_its_flag_once(
    engine: Engine, database: Database, catalog: Catalog, written: list[int]
) -> None:
    await onboard(engine)
    assert (await stored_user(database)).progress == 0
    topic = next(iter(catalog.topics.values()))

    written.clear()
    await engine.handle(press(USER, f"topic:{topic.id}"))
    assert (await stored_user(database)).progress == PROGRESS_OPENED_MODULE
    assert written == [PROGRESS_OPENED_MODULE]

    written.clear()
    await engine.handle(press(USER, f"card:{topic.id}:{len(topic.cards) - 1}"))
    assert (await stored_user(database)).progress == (
        PROGRESS_OPENED_MODULE | PROGRESS_FINISHED_MODULE
    )
    assert written == [PROGRESS_FINISHED_MODULE]

    await ask_for_help(engine)
    assert (await stored_user(database)).progress == EVERY_STEP

    # Reached again: nothing new to write.
    written.clear()
    await read_a_module(engine, catalog)
    await ask_for_help(engine)
    await engine.handle(command(USER, "menu"))
    assert written and set(written) == {0}
    assert (await stored_user(database)).progress == EVERY_STEP


async def test_no_flag_without_consent(
    engine: Engine, database: Database, catalog: Catalog
) -> None:
    await engine.handle(command(USER, "start"))
    await engine.handle(press(USER, "lang:fr"))
    await engine.handle(press(USER, "consent:no"))
    await engine.handle(press(USER, "sub:no"))
    await read_a_module(engine, catalog)
    await ask_for_help(engine)
    user = await stored_user(database)
    assert user.consent is False and user.progress == 0
    async with database.reading() as session:
        assert await repo.count_events(session, kind="served") > 0


async def test_withdrawing_consent_clears_the_flags(
    engine: Engine, database: Database, catalog: Catalog
) -> None:
    await onboard(engine)
    await read_a_module(engine, catalog)
    await ask_for_help(engine)
    assert (await stored_user(database)).progress == EVERY_STEP
    await engine.handle(press(USER, "privacy:withdraw"))
    await engine.handle(press(USER, "privacy:withdraw_yes"))
    user = await stored_user(database)
    assert user.consent is False and user.progress == 0
    # Without consent from then on: nothing set again.
    await read_a_module(engine, catalog)
    assert (await stored_user(database)).progress == 0


async def test_someone_under_15_loses_the_flags(
    engine: Engine, database: Database, catalog: Catalog
) -> None:
    await onboard(engine)
    await read_a_module(engine, catalog)
    assert (await stored_user(database)).progress != 0
    await engine.handle(command(USER, "subscribe"))
    await engine.handle(press(USER, "age:under-15"))
    user = await stored_user(database)
    assert user.consent is False and user.progress == 0


async def test_the_mydata_file_lists_the_steps_reached(engine: Engine, catalog: Catalog) -> None:
    await onboard(engine)
    await read_a_module(engine, catalog)
    sent = await engine.handle(press(USER, "mydata:file"))
    document = sent.replies[0].document
    assert document is not None
    statistics = json.loads(document.content)["statistics_linked_to_you"]
    assert statistics["steps_reached"] == ["opened_a_module", "finished_a_module"]


async def test_dropping_optional_data_resets_progress(database: Database) -> None:
    async with database.transaction() as session:
        user, _ = await repo.get_or_create_user(session, channel="console", external_id=USER)
        await repo.update_user(session, user_id=user.id, reached=EVERY_STEP)
    assert (await stored_user(database)).progress == EVERY_STEP
    async with database.transaction() as session:
        # OR'ed in: a bit already set stays, another one is added.
        await repo.update_user(session, user_id=user.id, reached=PROGRESS_OPENED_MODULE)
        await repo.drop_optional_data(session, user_id=user.id)
    assert (await stored_user(database)).progress == 0
