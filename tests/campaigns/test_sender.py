"""The broadcast sender against the fake Bot API: rate, 429/403/5xx/400, crashes, two senders."""

from __future__ import annotations

import asyncio
import itertools
import os
import subprocess
import sys
import warnings
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from telegram import Bot
from telegram.error import RetryAfter

from bot.campaigns.ratelimit import RateLimiter
from bot.campaigns.sender import BroadcastSender, SenderSettings
from bot.content.catalog import Catalog
from bot.store import outbox, runs
from bot.store.db import Database
from bot.store.models import OutboxMessage, User
from bot.telegram.transport import TelegramTransport, retry_after_seconds
from tests.fakes.bot_api import FakeBotApi, TelegramLimits
from tests.support.broadcasts import (
    FIRST_CHAT,
    KEY,
    TOKEN,
    add_people,
    committed,
    limited,
    new_run,
)

__all__ = ["committed", "limited"]  # the fixtures, used by name

#: Fast settings for tests: a high rate (the fake enforces it), short backoff and lease.
FAST = SenderSettings(rate=200, paid=True, concurrency=4, lease=5, backoff_base=0.05)


@pytest.fixture
async def bot(limited: FakeBotApi) -> AsyncIterator[Bot]:
    async with Bot(TOKEN, base_url=limited.base_url) as telegram_bot:
        yield telegram_bot


def sender(
    database: Database,
    bot: Bot,
    catalog: Catalog,
    settings: SenderSettings = FAST,
    **kwargs: Any,
) -> BroadcastSender:
    return BroadcastSender(
        database, TelegramTransport(bot), lambda: catalog, settings=settings, **kwargs
    )


async def _rows(database: Database, run_id: int) -> list[OutboxMessage]:
    async with database.transaction() as session:
        return list(
            await session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.run_id == run_id)
                .order_by(OutboxMessage.id)
            )
        )


async def test_sends_every_recipient_once_in_their_language(
    committed: Database, bot: Bot, limited: FakeBotApi, catalog: Catalog
) -> None:
    fr = await add_people(committed, 30)
    bm = await add_people(committed, 30, first_chat=FIRST_CHAT + 100, language="bm")
    run_id = await new_run(committed, fr + bm)
    report = await sender(committed, bot, catalog).run(run_id)
    assert report.sent == 60 and report.failed == report.skipped == 0
    assert len(limited.deliveries) == 60 and limited.duplicates() == {}
    assert limited.sent_messages(FIRST_CHAT)[0].text == catalog.text(KEY, "fr").text
    assert limited.sent_messages(FIRST_CHAT + 100)[0].text == catalog.text(KEY, "bm").text
    sent = limited.requests_for("sendMessage")
    assert all(r.params.get("allow_paid_broadcast") is True for r in sent)
    async with committed.transaction() as session:
        status = await runs.run_status(session, run_id)
    assert status is not None and status.delivered == 60
    assert status.run.status == "done" and status.run.finished_at is not None


async def test_global_rate_is_held_at_the_fake(committed: Database, catalog: Catalog) -> None:
    """400 messages at 100/s: never more than 100 within any second at the server.

    The fake's own limit is set well above, so it counts what the sender does instead of
    refusing the excess; the count is per window of the server's clock, not a wall-clock
    duration of the test.
    """
    people = await add_people(committed, 400)
    run_id = await new_run(committed, people)
    settings = SenderSettings(rate=100, concurrency=8, lease=5)  # free mode: no paid flag
    async with (
        FakeBotApi(token=TOKEN, limits=TelegramLimits(global_per_second=1000)) as server,
        Bot(TOKEN, base_url=server.base_url) as free_bot,
    ):
        report = await sender(committed, free_bot, catalog, settings).run(run_id)
    assert report.sent == 400 and server.throttled == [] and server.refused == []
    # The limiter counts when requests leave; the server when they arrive. A stalled event
    # loop (this test runs both in one process) can bunch up at most the requests in flight.
    assert server.max_in_window(1.0) <= 100 + settings.concurrency
    # ...and close to it: the busiest second is nearly full.
    assert server.max_in_window(1.0) >= 90
    assert "allow_paid_broadcast" not in server.requests_for("sendMessage")[0].params


async def test_one_message_per_chat_per_second(
    committed: Database, bot: Bot, limited: FakeBotApi, catalog: Catalog
) -> None:
    """Three drip steps to the same two chats in one run: spaced by a second per chat."""
    people = await add_people(committed, 2)
    async with committed.transaction() as session:
        run_id = await runs.create_run(session, name="drip", kind="drip")
        await outbox.enqueue(
            session, run_id, [(p, step, KEY, None) for step in (0, 1, 2) for p in people]
        )
    report = await sender(committed, bot, catalog).run(run_id)
    assert report.sent == 6
    times: dict[Any, list[float]] = {}
    sent = limited.requests_for("sendMessage")
    for request, moment in zip(sent, limited.send_times, strict=True):
        times.setdefault(request.chat_id, []).append(moment)
    for moments in times.values():
        assert len(moments) == 3
        assert all(b - a >= 1.0 for a, b in itertools.pairwise(moments))


async def test_429_pauses_all_sending_for_retry_after(
    committed: Database, bot: Bot, limited: FakeBotApi, catalog: Catalog
) -> None:
    people = await add_people(committed, 20)
    run_id = await new_run(committed, people)
    limited.fail_next(
        "sendMessage", error_code=429, description="Too Many Requests: retry after 1", retry_after=1
    )
    send = sender(committed, bot, catalog)
    report = await send.run(run_id)
    assert report.sent == 20 and report.throttled == 1 and limited.duplicates() == {}
    assert send.limiter.pauses == 1
    # The 429 was the first answer: the pause ran from then for retry_after (1 s). Nothing
    # new was sent during it; at most the requests already in flight were accepted.
    paused_until = send.limiter.paused_until
    during = [t for t in limited.send_times if paused_until - 1.0 + 0.05 < t < paused_until]
    assert during == []
    early = [t for t in limited.send_times if t < paused_until]
    assert len(early) <= FAST.concurrency - 1
    assert len(limited.send_times) - len(early) >= 20 - (FAST.concurrency - 1)


async def test_403_marks_the_user_blocked_and_skips(
    committed: Database, bot: Bot, limited: FakeBotApi, catalog: Catalog
) -> None:
    people = await add_people(committed, 3)
    run_id = await new_run(committed, people)
    limited.fail_next(
        "sendMessage", error_code=403, description="Forbidden: bot was blocked by the user"
    )
    report = await sender(
        committed,
        bot,
        sender_id="s1",
        catalog=catalog,
        settings=FAST.__class__(rate=200, paid=True, concurrency=1, lease=5),
    ).run(run_id)
    assert report.blocked == 1 and report.sent == 2
    rows = await _rows(committed, run_id)
    assert [r.status for r in rows] == ["skipped", "sent", "sent"]
    assert rows[0].error == "blocked"
    async with committed.transaction() as session:
        user = await session.get(User, people[0].user_id)
    assert user is not None and user.blocked_at is not None and user.subscribed is False
    # A later run skips them without asking Telegram.
    before = len(limited.requests_for("sendMessage"))
    again = await new_run(committed, people, name="again")
    await sender(committed, bot, catalog).run(again)
    assert len(limited.requests_for("sendMessage")) == before + 2


async def test_5xx_and_network_errors_retry_with_backoff_then_succeed(
    committed: Database, bot: Bot, limited: FakeBotApi, catalog: Catalog
) -> None:
    [person] = await add_people(committed, 1)
    run_id = await new_run(committed, [person])
    limited.fail_next("sendMessage", error_code=500, description="Internal Server Error")
    limited.fail_next("sendMessage", error_code=502, description="Bad Gateway")
    report = await sender(committed, bot, catalog).run(run_id)
    assert report.retried == 2 and report.sent == 1
    [row] = await _rows(committed, run_id)
    assert (row.status, row.attempts, row.error) == ("sent", 3, None)
    assert len(limited.injected) == 2 and limited.deliveries[FIRST_CHAT] == 1


async def test_retries_are_bounded(
    committed: Database, bot: Bot, limited: FakeBotApi, catalog: Catalog
) -> None:
    [person] = await add_people(committed, 1)
    run_id = await new_run(committed, [person])
    for _ in range(3):
        limited.fail_next("sendMessage", error_code=500, description="Internal Server Error")
    settings = SenderSettings(rate=200, paid=True, concurrency=2, max_attempts=3, backoff_base=0.01)
    report = await sender(committed, bot, catalog, settings).run(run_id)
    [row] = await _rows(committed, run_id)
    assert (report.failed, report.sent, row.status, row.attempts) == (1, 0, "failed", 3)
    assert row.error is not None and row.error.startswith("gave_up:NetworkError")


async def test_other_400_is_recorded_and_skipped(
    committed: Database, bot: Bot, limited: FakeBotApi, catalog: Catalog
) -> None:
    people = await add_people(committed, 2)
    run_id = await new_run(committed, people)
    limited.fail_next("sendMessage", error_code=400, description="Bad Request: chat not found")
    settings = SenderSettings(rate=200, paid=True, concurrency=1)
    report = await sender(committed, bot, catalog, settings).run(run_id)
    rows = await _rows(committed, run_id)
    assert (report.skipped, report.sent) == (1, 1)
    assert rows[0].status == "skipped"
    assert rows[0].error == "BadRequest: Chat not found"
    assert rows[1].status == "sent"


async def test_two_senders_at_once_never_double_send(
    committed: Database, limited: FakeBotApi, catalog: Catalog
) -> None:
    people = await add_people(committed, 200)
    run_id = await new_run(committed, people)
    async with (
        Bot(TOKEN, base_url=limited.base_url) as one,
        Bot(TOKEN, base_url=limited.base_url) as two,
    ):
        # Each holds half the rate, so together they stay within the fake's limit.
        half = SenderSettings(rate=100, paid=True, concurrency=4, lease=5, batch=10)
        first, second = await asyncio.gather(
            sender(committed, one, catalog, half, sender_id="one").run(run_id),
            sender(committed, two, catalog, half, sender_id="two").run(run_id),
        )
    assert first.sent + second.sent == 200
    assert first.sent > 0 and second.sent > 0
    assert len(limited.deliveries) == 200 and limited.duplicates() == {}


async def test_killed_mid_batch_then_restarted_delivers_everyone(
    committed: Database, bot: Bot, limited: FakeBotApi, catalog: Catalog
) -> None:
    """Cancel a sender abruptly mid-run (its claims stay behind), restart: nobody is lost.

    Task cancellation stands in for SIGKILL here (the subprocess version is in
    ``bench/broadcast.py``): the rows the first sender held are left ``claimed`` with its
    id, exactly as a killed process leaves them, and come back when the lease expires.
    """
    people = await add_people(committed, 120)
    run_id = await new_run(committed, people)
    settings = SenderSettings(rate=200, paid=True, concurrency=4, lease=1.0, batch=40)
    first = sender(committed, bot, catalog, settings, sender_id="first")
    task = asyncio.create_task(first.run(run_id))
    await limited.wait_for("sendMessage", count=30, timeout=10)
    # A kill gives nothing back: drop the local queue, leave its rows claimed in the database.
    first._release_queued = lambda: _abandon(first)  # type: ignore[method-assign]
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    async with committed.transaction() as session:
        status = await runs.run_status(session, run_id)
    assert status is not None and status.counts.get("claimed", 0) > 0  # left behind
    second = await sender(committed, bot, catalog, settings, sender_id="second").run(run_id)
    assert second.sent > 0
    assert set(limited.deliveries) == {int(p.chat_id) for p in people}
    # Cancellation lets in-flight sends finish and be marked: no duplicate at all here;
    # after a SIGKILL at most `concurrency` could be.
    assert sum(limited.duplicates().values()) - len(limited.duplicates()) <= settings.concurrency
    rows = await _rows(committed, run_id)
    assert {r.status for r in rows} == {"sent"}


async def _abandon(send: BroadcastSender) -> None:
    while not send._queue.empty():
        send._queue.get_nowait()


async def test_unknown_message_key_fails_the_row(
    committed: Database, bot: Bot, limited: FakeBotApi, catalog: Catalog
) -> None:
    [person] = await add_people(committed, 1)
    run_id = await new_run(committed, [person], key="no.such.key")
    report = await sender(committed, bot, catalog).run(run_id)
    [row] = await _rows(committed, run_id)
    assert (report.failed, row.status, row.error) == (1, "failed", "unknown_message_key")
    assert limited.requests_for("sendMessage") == []


# --- the limiter in virtual time -------------------------------------------------------------


class VirtualClock:
    def __init__(self) -> None:
        self.t = 0.0

    def now(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.t += max(seconds, 0.0)


async def _starts(limiter: RateLimiter, chats: Callable[[int], str], count: int) -> list[float]:
    clock = limiter.clock
    out = []
    for i in range(count):
        await limiter.acquire(chats(i))
        out.append(clock.now())
    return out


def _max_in(times: list[float], span: float) -> int:
    best = start = 0
    for end, moment in enumerate(times):
        while moment - times[start] >= span - 1e-9:  # float sums of the virtual clock
            start += 1
        best = max(best, end - start + 1)
    return best


async def test_limiter_window_and_throughput_in_virtual_time() -> None:
    clock = VirtualClock()
    limiter = RateLimiter(30, clock=clock)
    times = await _starts(limiter, lambda i: str(i), 3000)
    assert _max_in(times, limiter.span) <= 30
    assert _max_in(times, 1.0) <= 30
    rate = len(times) / (times[-1] - times[0])
    assert 30 * 0.95 <= rate <= 30


async def test_limiter_per_chat_and_pause_in_virtual_time() -> None:
    clock = VirtualClock()
    limiter = RateLimiter(1000, clock=clock)
    times = await _starts(limiter, lambda i: "same", 5)
    assert all(b - a >= 1.0 for a, b in itertools.pairwise(times))
    limiter.pause(7)
    paused_at = clock.now()
    await limiter.acquire("other")
    assert clock.now() - paused_at == pytest.approx(7)


def test_paid_and_rate_settings() -> None:
    with pytest.raises(ValueError):
        SenderSettings(rate=1001, paid=True)
    with pytest.raises(ValueError):
        SenderSettings(concurrency=0)
    assert SenderSettings(rate=30).claim_batch == 60
    assert timedelta(seconds=SenderSettings().lease) == timedelta(minutes=1)


def test_retry_after_is_read_without_a_deprecation_warning(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The bot opts in to python-telegram-bot's timedelta periods (``bot/__init__.py``)."""
    env = {k: v for k, v in os.environ.items() if k != "PTB_TIMEDELTA"}
    shown = subprocess.run(
        [sys.executable, "-c", "import os, bot; print(os.environ['PTB_TIMEDELTA'])"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert shown.stdout.strip() == "true"  # importing the bot package opts in
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        error = RetryAfter(3)  # PTB reads the attribute in its own constructor
        assert isinstance(error.retry_after, timedelta)
    assert retry_after_seconds(error) == 3.0
    # an operator who opts out still gets seconds (PTB reads the variable on each access)
    monkeypatch.setenv("PTB_TIMEDELTA", "false")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        legacy = RetryAfter(5)
    assert retry_after_seconds(legacy) == 5.0
