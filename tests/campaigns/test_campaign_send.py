"""A campaign from content to the outbox and out: `kunnafoni broadcast send NAME`'s core.

Enqueueing is idempotent per campaign (one run, unique rows per user and step), so the
command can be run again after a crash, or every hour for a drip."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, select, update
from telegram import Bot

from bot.campaigns.enqueue import enqueue_campaign
from bot.campaigns.sender import BroadcastSender, SenderSettings
from bot.cli import main
from bot.content.catalog import Catalog
from bot.store import runs
from bot.store.db import Database
from bot.store.models import BroadcastRun, OutboxMessage, User, UserTopic
from bot.telegram.transport import TelegramTransport
from tests.fakes.bot_api import FakeBotApi
from tests.support.broadcasts import TOKEN, committed, limited

__all__ = ["committed", "limited"]  # the fixtures, used by name

FIRST_CHAT = 910_001


async def people(
    database: Database,
    languages: list[str],
    *,
    subscribed_at: datetime,
    first_chat: int = FIRST_CHAT,
) -> list[int]:
    rows = [
        {
            "channel": "telegram",
            "external_id": str(first_chat + i),
            "language": language,
            "consent": True,
            "subscribed": True,
            "subscribed_at": subscribed_at,
        }
        for i, language in enumerate(languages)
    ]
    async with database.transaction() as session:
        return list(await session.scalars(insert(User).returning(User.id), rows))


async def rows(database: Database) -> list[OutboxMessage]:
    async with database.transaction() as session:
        return list(await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


async def test_a_one_off_is_queued_once_for_its_segment(
    database: Database, catalog: Catalog
) -> None:
    campaign = catalog.campaigns["legal_paths_reminder"]
    assert campaign.when is not None
    before = campaign.when - timedelta(days=1)
    ids = await people(database, ["fr", "bm", "fr"], subscribed_at=before - timedelta(days=30))
    async with database.transaction() as session:
        # Someone who already read the legal-paths module is not in this segment.
        await session.execute(insert(UserTopic).values(user_id=ids[2], topic="legal_paths"))
        first = await enqueue_campaign(session, catalog, "legal_paths_reminder", now=before)
        again = await enqueue_campaign(session, catalog, "legal_paths_reminder", now=before)
    assert (first.audience, first.due, first.added) == (2, 2, 2)
    assert again.run_id == first.run_id and again.added == 0
    queued = await rows(database)
    assert {r.user_id for r in queued} == {ids[0], ids[1]}
    assert {r.language for r in queued} == {"fr", "bm"}
    assert all(r.not_before.replace(tzinfo=UTC) == campaign.when for r in queued)
    assert {r.message_key for r in queued} == {campaign.message}


async def test_a_drip_queues_each_step_once_as_days_pass(
    database: Database, catalog: Catalog
) -> None:
    campaign = catalog.campaigns["weekly_quiz"]
    days = [step.day for step in campaign.steps]
    start = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    await people(database, ["fr", "bm"], subscribed_at=start)
    async with database.transaction() as session:
        for day in range(0, days[-1] + 3):
            await enqueue_campaign(session, catalog, "weekly_quiz", now=start + timedelta(days=day))
    queued = await rows(database)
    assert sorted({r.step for r in queued}) == days
    assert len(queued) == 2 * len(days)  # each person, each step, once
    quiet_start, quiet_end = campaign.quiet_hours.start, campaign.quiet_hours.end
    for row in queued:  # never queued for the night (Mali time is UTC)
        hour = row.not_before.replace(tzinfo=UTC).time()
        assert not (hour >= quiet_start or hour < quiet_end)


async def test_a_cancelled_run_is_not_reused(database: Database, catalog: Catalog) -> None:
    campaign = catalog.campaigns["legal_paths_reminder"]
    assert campaign.when is not None
    await people(database, ["fr"], subscribed_at=campaign.when - timedelta(days=9))
    async with database.transaction() as session:
        first = await enqueue_campaign(session, catalog, campaign.name, now=campaign.when)
        await runs.cancel_run(session, first.run_id)
        second = await enqueue_campaign(session, catalog, campaign.name, now=campaign.when)
        statuses = list(
            await session.scalars(select(BroadcastRun.status).order_by(BroadcastRun.id))
        )
    assert second.run_id != first.run_id and second.added == 1
    assert statuses == ["cancelled", "planned"]


async def test_queued_then_sent_in_each_language_and_opt_out_respected(
    committed: Database, catalog: Catalog, limited: FakeBotApi
) -> None:
    campaign = catalog.campaigns["legal_paths_reminder"]
    assert campaign.when is not None and campaign.message is not None
    ids = await people(committed, ["fr", "bm", "bm"], subscribed_at=campaign.when)
    async with committed.transaction() as session:
        queued = await enqueue_campaign(session, catalog, campaign.name, now=campaign.when)
        # Opting out after the run was queued still stops the message.
        await session.execute(update(User).where(User.id == ids[2]).values(subscribed=False))
        # The campaign's date has come (the sender works in real time).
        await session.execute(update(OutboxMessage).values(not_before=datetime.now(UTC)))
    settings = SenderSettings(rate=200, paid=True, concurrency=4, lease=5, backoff_base=0.05)
    async with Bot(TOKEN, base_url=limited.base_url) as bot:
        sender = BroadcastSender(
            committed, TelegramTransport(bot), lambda: catalog, settings=settings
        )
        report = await sender.run(queued.run_id)
    assert report.sent == 2
    assert limited.sent_messages(FIRST_CHAT)[0].text == catalog.text(campaign.message, "fr").text
    assert (
        limited.sent_messages(FIRST_CHAT + 1)[0].text == catalog.text(campaign.message, "bm").text
    )
    assert limited.sent_messages(FIRST_CHAT + 2) == [] and limited.duplicates() == {}


def test_send_refuses_an_unknown_campaign(
    tmp_path: object, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    assert main(["broadcast", "send", "no_such_campaign", "--db", "sqlite:///:memory:"]) == 2
    assert "no campaign 'no_such_campaign'" in capsys.readouterr().err
