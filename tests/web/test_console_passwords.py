"""Argon2 in the bot's process: off the event loop, one hash at a time."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from bot.web.console import passwords
from bot.web.console.passwords import hash_password, verify_password_off_loop

PASSWORD = "a long enough password"


async def test_a_password_check_leaves_the_event_loop_free() -> None:
    """Telegram's updates share the loop with the console: a sign-in must not stop them."""
    stored = hash_password(PASSWORD)
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.001)
            ticks += 1

    ticker = asyncio.create_task(tick())
    began = time.perf_counter()
    assert await verify_password_off_loop(stored, PASSWORD)
    took = time.perf_counter() - began
    ticker.cancel()
    # The loop ran while the hash was computed (it would not have once, blocked).
    assert ticks >= 2, (ticks, took)
    assert not await verify_password_off_loop(stored, "another long password")


class _SlowHasher:
    """Counts how many hashes run at once."""

    def __init__(self) -> None:
        self.running = 0
        self.most = 0
        self._guard = threading.Lock()

    def verify(self, _hash: str, _password: str) -> bool:
        with self._guard:
            self.running += 1
            self.most = max(self.most, self.running)
        time.sleep(0.02)
        with self._guard:
            self.running -= 1
        return True


async def test_sign_ins_at_once_hash_one_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each Argon2 hash takes 64 MiB: several sign-ins wait their turn instead of adding
    64 MiB each to the bot's memory."""
    slow = _SlowHasher()
    monkeypatch.setattr(passwords, "_HASHER", slow)
    results = await asyncio.gather(*(verify_password_off_loop("h", "p") for _ in range(4)))
    assert results == [True] * 4
    assert slow.most == 1
