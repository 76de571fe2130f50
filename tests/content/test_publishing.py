"""Publishing content while the bot runs: hot reload, refusal of invalid changes, versions."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.content.catalog import Catalog
from bot.content.editing import MessageFile
from bot.content.publish import ContentPublisher
from bot.content.store import ContentStore
from bot.dialogue.decision import Thresholds
from bot.dialogue.engine import Engine
from bot.dialogue.types import Inbound
from bot.nlu.service import NluService
from bot.store import repositories as repo
from bot.store.db import Database
from bot.store.models import Event
from tests.support.nlu import StubParser


def set_text(root: Path, language: str, key: str, text: str) -> None:
    messages = MessageFile(root, language)
    messages.update(key, text=text)
    messages.save()


async def wait_until(condition: Callable[[], bool]) -> None:
    """Poll ``condition()`` every 20 ms until true, for at most 10 s (a limit, not a measure)."""
    async with asyncio.timeout(10):
        while not condition():  # noqa: ASYNC110 - files change outside the loop
            await asyncio.sleep(0.02)


async def versions(database: Database) -> list[repo.PublishedVersion]:
    async with database.transaction() as session:
        return await repo.content_versions(session)


async def test_a_valid_change_goes_live_and_is_recorded(
    content_copy: Path, database: Database
) -> None:
    store = ContentStore(content_copy)
    publisher = ContentPublisher(store, database, interval=0.05)
    first = store.current().version
    assert await publisher.record("startup")
    assert not await publisher.record("startup")  # recorded once

    set_text(content_copy, "fr", "menu.title", "Choisis un sujet :")
    assert await publisher.poll()
    assert store.current().version != first
    assert store.current().text("menu.title", "fr").text == "Choisis un sujet :"
    recorded = await versions(database)
    assert [v.published_by for v in recorded][:2] == ["reload", "startup"]
    assert recorded[0].version == store.current().version
    assert recorded[0].summary["messages"]["fr"] == len(store.current().messages["fr"])
    # Nothing changed since: nothing to publish.
    assert not await publisher.poll()


async def test_an_invalid_change_is_refused_and_the_old_version_keeps_serving(
    content_copy: Path, database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    store = ContentStore(content_copy)
    publisher = ContentPublisher(store, database, interval=0.05)
    before = store.current()
    menu = content_copy / "menu.yml"
    good = menu.read_text(encoding="utf-8")
    menu.write_text(good.replace("topic: sahara", "topic: nowhere", 1), encoding="utf-8")

    with caplog.at_level(logging.ERROR):
        assert not await publisher.poll()
    assert store.current() is before
    refusal = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert refusal and "menu.yml:" in refusal[0] and "unknown topic 'nowhere'" in refusal[0]
    assert await versions(database) == []

    # Fixing the file publishes the fixed tree (the same as before: nothing new to record).
    menu.write_text(good, encoding="utf-8")
    set_text(content_copy, "fr", "nav.next", "Suite ▶️")
    assert await publisher.poll()
    assert store.current().text("nav.next", "fr").text == "Suite ▶️"


async def test_the_watcher_picks_up_a_change_without_a_restart(
    content_copy: Path, database: Database
) -> None:
    store = ContentStore(content_copy)
    publisher = ContentPublisher(store, database, interval=0.05)
    task = asyncio.create_task(publisher.watch())
    try:
        set_text(content_copy, "bm", "menu.title", "Barokun sugandi:")
        await wait_until(lambda: store.current().text("menu.title", "bm").text.startswith("Bar"))
        # The version is recorded right after the swap; one connection at a time (on
        # PostgreSQL the test's database is a single connection), so wait, then read.
        await publisher.settled()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    recorded = await versions(database)
    assert recorded[0].published_by == "reload"
    assert recorded[0].version == store.current().version


async def test_listeners_hear_of_each_new_version(content_copy: Path, database: Database) -> None:
    store = ContentStore(content_copy)
    publisher = ContentPublisher(store, database)
    heard: list[str] = []

    async def listener(catalog: Catalog) -> None:
        heard.append(catalog.version)

    async def broken(_catalog: Catalog) -> None:
        raise RuntimeError("listener bug")

    publisher.listeners += [broken, listener]
    async with publisher.editing("import by a test"):
        set_text(content_copy, "fr", "nav.back", "◀️ Avant")
    assert heard == [store.current().version]
    assert (await versions(database))[0].published_by == "import by a test"


async def test_events_carry_the_version_that_served_them(
    content_copy: Path, database: Database
) -> None:
    store = ContentStore(content_copy)
    publisher = ContentPublisher(store, database)
    engine = Engine(
        database=database,
        content=store.current,
        nlu=NluService(StubParser(), store.matcher),
        thresholds=Thresholds(),
    )
    first = store.current().version
    await engine.handle(Inbound(user_id="7", command="start"))
    set_text(content_copy, "fr", "onboarding.welcome", "Bienvenue ! Choisis ta langue.")
    assert await publisher.poll()
    outcome = await engine.handle(Inbound(user_id="7", command="start"))
    assert outcome.replies[0].text == "Bienvenue ! Choisis ta langue."
    async with database.transaction() as session:
        rows = (await session.execute(select(Event.kind, Event.content_version))).all()
    served = [version for kind, version in rows if kind == "served"]
    assert served == [first, store.current().version]
