"""Send rate: a global sliding window, one message per chat per window, and pauses on 429.

Telegram allows a bot about 30 messages per second in bulk (up to 1000 with paid
broadcasts), one per second to the same chat, and answers floods with 429 and a
``retry_after`` during which nothing should be sent. :class:`RateLimiter` holds all three:

- **global**: at most ``rate`` sends start in any window of ``window`` seconds (a sliding
  window over the last ``rate`` starts), and starts are paced evenly, ``1/rate`` apart
  (plus a share of ``slack``), so that no burst reaches Telegram;
- **per chat**: two sends to one chat start at least ``window`` seconds apart;
- **pause**: :meth:`RateLimiter.pause` (after a 429) holds every sender until it ends.

``slack`` widens both windows a little: the limiter sees when a request *leaves*, Telegram
when it *arrives*. If transport delays vary by at most ``slack`` seconds, a window of
``window + slack`` here can never hold more than ``rate`` arrivals in any ``window`` there.
The default (25 ms) costs 2.4 % of the nominal rate and avoids the far costlier 429 pause.

Time comes from a :class:`Clock`, so tests can drive the limiter in virtual time.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import Protocol


class Clock(Protocol):
    """Where the limiter reads time and waits: the event loop's, or a test's."""

    def now(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class MonotonicClock:
    """Real time: ``time.monotonic`` and ``asyncio.sleep``."""

    def now(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class RateLimiter:
    """Global and per-chat send limits, and a shared pause after a 429."""

    def __init__(
        self,
        rate: float,
        *,
        per_chat_interval: float = 1.0,
        window: float = 1.0,
        slack: float = 0.025,
        clock: Clock | None = None,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.clock: Clock = clock or MonotonicClock()
        # At most `capacity` starts in any `span` seconds: `rate` per `window`, widened by
        # `slack`. A fractional rate (0.5/s) becomes one start per 2 s.
        self.capacity = max(1, int(rate * window))
        self.span = (self.capacity / rate) + slack
        self.per_chat_span = per_chat_interval + slack if per_chat_interval > 0 else 0.0
        # Starts are also paced evenly, ``span / capacity`` apart: a burst of ``capacity``
        # sends at the start of a window is what delay jitter turns into one too many at
        # Telegram's end, and each 429 costs a whole second of silence. Evenly spaced, the
        # arrivals in any window stay within ``capacity`` as long as jitter < ``slack``.
        # Paced on a theoretical schedule (GCRA): a send woken up a little late does not push
        # back every later one, so timer overshoot costs nothing over a run; the sliding
        # window above still bounds any window.
        self.spacing = self.span / self.capacity
        self._next_slot = float("-inf")
        self._starts: deque[float] = deque()
        self._last_by_chat: dict[str, float] = {}
        self._paused_until = 0.0
        self.pauses = 0

    def pause(self, seconds: float) -> None:
        """Hold every send for ``seconds`` from now (a 429's ``retry_after``)."""
        until = self.clock.now() + max(0.0, seconds)
        if until > self._paused_until:
            self._paused_until = until
            self.pauses += 1

    @property
    def paused_until(self) -> float:
        return self._paused_until

    def delay(self, chat: str) -> float:
        """Seconds to wait before a send to ``chat`` may start (0: now)."""
        now = self.clock.now()
        wait = self._paused_until - now
        if len(self._starts) >= self.capacity:
            wait = max(wait, self._starts[0] + self.span - now)
        wait = max(wait, self._next_slot - self.spacing - now)
        last = self._last_by_chat.get(chat)
        if last is not None and self.per_chat_span:
            wait = max(wait, last + self.per_chat_span - now)
        return max(0.0, wait)

    async def acquire(self, chat: str) -> None:
        """Wait until a send to ``chat`` is allowed, and count it as started."""
        while True:
            wait = self.delay(chat)
            if wait <= 0:
                break
            await self.clock.sleep(wait)
        # No await between the check and the record: asyncio runs this atomically.
        now = self.clock.now()
        self._next_slot = max(self._next_slot, now) + self.spacing
        self._starts.append(now)
        while len(self._starts) > self.capacity:
            self._starts.popleft()
        if self.per_chat_span:
            self._last_by_chat[chat] = now
            if len(self._last_by_chat) > 4 * self.capacity + 1024:
                self._forget_chats(now)

    def _forget_chats(self, now: float) -> None:
        horizon = now - self.per_chat_span
        self._last_by_chat = {c: t for c, t in self._last_by_chat.items() if t > horizon}
