"""The campaign sender against an in-memory transport: its decisions without any HTTP.

The same sender is tested against the fake Bot API in ``test_sender.py``; here the
transport raises the project's own errors (``bot/errors.py``) directly, as
``bot/telegram/transport.py`` does after mapping Telegram's.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from sqlalchemy import select

from bot import errors
from bot.campaigns.sender import BroadcastSender, Fatal, SenderSettings
from bot.campaigns.transport import CampaignTransport
from bot.content.catalog import Catalog
from bot.store import runs
from bot.store.db import Database
from bot.store.models import OutboxMessage, User
from tests.support.broadcasts import FIRST_CHAT, KEY, add_people, committed, new_run

__all__ = ["committed"]  # the fixture, used by name

FAST = SenderSettings(rate=200, paid=True, concurrency=2, lease=5, backoff_base=0.01)


@dataclass
class MemoryTransport:
    """Accepts every message, except the errors queued for a chat (raised in order)."""

    sent: list[tuple[str, str, bool]] = field(default_factory=list)
    failures: dict[str, list[errors.DeliveryError]] = field(default_factory=dict)
    attempts: int = 0

    def fail(self, chat_id: int | str, *failures: errors.DeliveryError) -> None:
        self.failures.setdefault(str(chat_id), []).extend(failures)

    async def send_text(self, chat_id: str, text: str, *, paid: bool = False) -> None:
        self.attempts += 1
        queued = self.failures.get(chat_id)
        if queued:
            raise queued.pop(0)
        self.sent.append((chat_id, text, paid))

    def chats(self) -> list[str]:
        return [chat for chat, _, _ in self.sent]


def _sender(
    database: Database,
    transport: CampaignTransport,
    catalog: Catalog,
    settings: SenderSettings = FAST,
) -> BroadcastSender:
    return BroadcastSender(database, transport, lambda: catalog, settings=settings)


async def _rows(database: Database, run_id: int) -> list[OutboxMessage]:
    async with database.transaction() as session:
        query = select(OutboxMessage).where(OutboxMessage.run_id == run_id)
        return list(await session.scalars(query.order_by(OutboxMessage.id)))


def test_memory_transport_fits_the_protocol() -> None:
    transport: CampaignTransport = MemoryTransport()
    assert transport is not None


async def test_sends_each_row_once_in_its_language(committed: Database, catalog: Catalog) -> None:
    fr = await add_people(committed, 3)
    bm = await add_people(committed, 2, first_chat=FIRST_CHAT + 100, language="bm")
    run_id = await new_run(committed, fr + bm)
    transport = MemoryTransport()
    report = await _sender(committed, transport, catalog).run(run_id)
    assert (report.sent, report.failed, report.skipped) == (5, 0, 0)
    assert sorted(transport.chats()) == sorted(p.chat_id for p in fr + bm)
    texts = {chat: text for chat, text, _ in transport.sent}
    assert texts[fr[0].chat_id] == catalog.text(KEY, "fr").text
    assert texts[bm[0].chat_id] == catalog.text(KEY, "bm").text
    assert all(paid for _, _, paid in transport.sent)
    async with committed.transaction() as session:
        status = await runs.run_status(session, run_id)
    assert status is not None and status.delivered == 5 and status.run.status == "done"


async def test_free_rate_does_not_ask_for_paid_broadcast(
    committed: Database, catalog: Catalog
) -> None:
    people = await add_people(committed, 2)
    run_id = await new_run(committed, people)
    transport = MemoryTransport()
    settings = SenderSettings(rate=30, concurrency=2, lease=5)
    await _sender(committed, transport, catalog, settings).run(run_id)
    assert [paid for _, _, paid in transport.sent] == [False, False]


async def test_rate_limited_pauses_and_sends_again_without_an_attempt(
    committed: Database, catalog: Catalog
) -> None:
    [person] = await add_people(committed, 1)
    run_id = await new_run(committed, [person])
    transport = MemoryTransport()
    transport.fail(person.chat_id, errors.RateLimited("RetryAfter: Flood control", 0.2))
    send = _sender(committed, transport, catalog)
    report = await send.run(run_id)
    assert (report.sent, report.throttled, report.retried) == (1, 1, 0)
    assert send.limiter.pauses == 1
    [row] = await _rows(committed, run_id)
    assert (row.status, row.attempts, row.error) == ("sent", 1, None)


async def test_recipient_blocked_marks_the_user_and_skips_them_later(
    committed: Database, catalog: Catalog
) -> None:
    people = await add_people(committed, 2)
    run_id = await new_run(committed, people)
    transport = MemoryTransport()
    transport.fail(people[0].chat_id, errors.RecipientBlocked("Forbidden: blocked"))
    report = await _sender(committed, transport, catalog).run(run_id)
    assert (report.blocked, report.skipped, report.sent) == (1, 1, 1)
    rows = await _rows(committed, run_id)
    assert [(r.status, r.error) for r in rows] == [("skipped", "blocked"), ("sent", None)]
    async with committed.transaction() as session:
        user = await session.get(User, people[0].user_id)
    assert user is not None and user.blocked_at is not None and user.subscribed is False
    again = await new_run(committed, people, name="again")
    before = transport.attempts
    await _sender(committed, transport, catalog).run(again)
    assert transport.attempts == before + 1  # only the one who did not block


@pytest.mark.parametrize(
    "error",
    [
        errors.ChatNotFound("BadRequest: Chat not found"),
        errors.BadRequest("BadRequest: Message is too long"),
        errors.DeliveryError("Conflict: something else"),
    ],
)
async def test_refused_for_this_recipient_is_recorded_and_skipped(
    committed: Database, catalog: Catalog, error: errors.DeliveryError
) -> None:
    people = await add_people(committed, 2)
    run_id = await new_run(committed, people)
    transport = MemoryTransport()
    transport.fail(people[0].chat_id, error)
    report = await _sender(committed, transport, catalog).run(run_id)
    assert (report.skipped, report.sent, report.blocked) == (1, 1, 0)
    assert report.errors == {error.label: 1}
    rows = await _rows(committed, run_id)
    assert [(r.status, r.error) for r in rows] == [("skipped", error.label), ("sent", None)]


async def test_network_failures_retry_with_backoff_then_succeed(
    committed: Database, catalog: Catalog
) -> None:
    [person] = await add_people(committed, 1)
    run_id = await new_run(committed, [person])
    transport = MemoryTransport()
    transport.fail(
        person.chat_id,
        errors.NetworkFailure("NetworkError: Bad Gateway"),
        errors.TimedOut("TimedOut: Timed out"),
    )
    report = await _sender(committed, transport, catalog).run(run_id)
    assert (report.retried, report.sent) == (2, 1)
    [row] = await _rows(committed, run_id)
    assert (row.status, row.attempts, row.error) == ("sent", 3, None)


async def test_network_retries_are_bounded(committed: Database, catalog: Catalog) -> None:
    [person] = await add_people(committed, 1)
    run_id = await new_run(committed, [person])
    transport = MemoryTransport()
    transport.fail(person.chat_id, *[errors.NetworkFailure("NetworkError: down")] * 3)
    settings = SenderSettings(rate=200, concurrency=1, max_attempts=3, backoff_base=0.01)
    report = await _sender(committed, transport, catalog, settings).run(run_id)
    [row] = await _rows(committed, run_id)
    assert (report.failed, report.sent, report.retried) == (1, 0, 2)
    assert (row.status, row.attempts, row.error) == ("failed", 3, "gave_up:NetworkError: down")


async def test_refused_transport_stops_the_sender(committed: Database, catalog: Catalog) -> None:
    people = await add_people(committed, 3)
    run_id = await new_run(committed, people)
    transport = MemoryTransport()
    for person in people:
        transport.fail(person.chat_id, errors.TransportRefused("InvalidToken: Unauthorized"))
    settings = SenderSettings(rate=200, concurrency=1, lease=5)
    with pytest.raises(Fatal) as stopped:
        await _sender(committed, transport, catalog, settings).run(run_id)
    assert isinstance(stopped.value, errors.KunnafoniError)
    assert transport.sent == [] and transport.attempts == 1
    rows = await _rows(committed, run_id)
    assert "sent" not in {r.status for r in rows}
