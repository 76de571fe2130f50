"""The per-chat update processor: different chats at once, one chat in order, bounded."""

from __future__ import annotations

import asyncio
from typing import Any

from telegram import Update

from bot.telegram.ordering import PerChatProcessor, chat_key, update_kind
from tests.support.updates import Recorder, message


async def feed(processor: PerChatProcessor, work: list[tuple[Update, Any]]) -> None:
    """As python-telegram-bot does: one task per update, created in arrival order."""
    await asyncio.gather(*(processor.process_update(u, coro) for u, coro in work))


async def test_two_chats_interleaved_each_in_order_and_concurrent() -> None:
    processor = PerChatProcessor(concurrency=8)
    seen = Recorder()
    work = []
    for n in range(10):
        chat = 1 if n % 2 == 0 else 2
        update = message(n, chat)
        # Earlier updates of a chat take longer: out of order if they ran at once.
        work.append((update, seen.handle(update, 0.05 - n * 0.004)))
    await feed(processor, work)
    for chat in (1, 2):
        starts = [u for what, c, u in seen.log if c == chat and what == "start"]
        assert starts == sorted(starts)
        # one at a time per chat: each start follows the previous end
        events = [(what, u) for what, c, u in seen.log if c == chat]
        assert events == [e for u in sorted(starts) for e in (("start", u), ("end", u))]
    assert seen.most == 2  # the two chats did run at once
    assert processor.chats_waiting == 0  # every lock dropped once idle


async def test_a_slow_chat_with_a_backlog_does_not_block_others() -> None:
    processor = PerChatProcessor(concurrency=2)
    seen = Recorder()
    slow = [message(n, 1) for n in range(20)]
    fast = message(100, 2)
    work = [(u, seen.handle(u, 0.05)) for u in slow] + [(fast, seen.handle(fast, 0))]
    task = asyncio.create_task(feed(processor, work))
    await asyncio.sleep(0.2)
    # The other chat was answered long before the slow chat's backlog (20 x 50 ms) ends.
    assert ("end", 2, 100) in seen.log
    assert processor.chats_waiting == 1
    await task
    assert processor.chats_waiting == 0


async def test_the_global_bound_holds() -> None:
    processor = PerChatProcessor(concurrency=3)
    seen = Recorder()
    updates = [message(n, 1000 + n) for n in range(12)]
    await feed(processor, [(u, seen.handle(u, 0.02)) for u in updates])
    assert seen.most == 3
    assert processor.pending == 0


def test_keys_and_kinds() -> None:
    update = message(1, 42)
    assert chat_key(update) == 42
    assert update_kind(update) == "message"
    assert chat_key(object()) is None and update_kind(object()) == "other"


async def test_the_webhook_waits_for_room_when_the_backlog_is_full() -> None:
    processor = PerChatProcessor(concurrency=1)
    assert processor.backlog == 8
    seen = Recorder()
    updates = [message(n, 2000 + n) for n in range(8)]
    task = asyncio.create_task(feed(processor, [(u, seen.handle(u, 0.3)) for u in updates[:1]]))
    rest = asyncio.create_task(feed(processor, [(u, seen.handle(u, 0.01)) for u in updates[1:]]))
    await asyncio.sleep(0.05)
    assert processor.pending == 8
    waited = asyncio.create_task(processor.wait_for_room())
    await asyncio.sleep(0.05)
    assert not waited.done()  # full: the webhook holds Telegram's request
    await asyncio.wait_for(waited, 2)  # room as soon as one update is done
    assert processor.pending < 8
    await task
    await rest
    await processor.wait_idle()
