"""The sign-in rate limit per address, beside the lock-out of one account.

An account is locked after a few wrong passwords in a row (``bot/web/console/app.py``);
that does not slow down someone who tries one password against many names. This counts
failed sign-ins per client address over a sliding window and refuses that address for a
while once it has failed too often. The counts live in the process's memory (each
replica counts its own share; a restart forgets them): nothing about staff addresses is
stored.

Behind a reverse proxy every request comes from the proxy's address: the browser's is
taken from ``X-Forwarded-For`` only when the connection comes from a proxy the settings
trust (``CONSOLE_TRUSTED_PROXIES``), since anyone can write that header.
"""

from __future__ import annotations

import ipaddress
from collections import OrderedDict, deque
from collections.abc import Iterable
from datetime import datetime, timedelta

from starlette.requests import Request

#: Failed sign-ins from one address within :data:`WINDOW` before it is refused.
MAX_ADDRESS_FAILURES = 20
WINDOW = timedelta(minutes=15)
#: Addresses remembered at most (the oldest are forgotten first): memory stays bounded.
MAX_ADDRESSES = 10_000

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def networks(trusted: Iterable[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(item, strict=False) for item in trusted)


def _in(address: str, trusted: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    return any(ip in network for network in trusted)


def client_address(request: Request, trusted: tuple[Network, ...]) -> str:
    """The browser's address: the connection's, or, when the connection comes from a
    trusted proxy, the last address in ``X-Forwarded-For`` that is not a trusted proxy
    (the ones before it could be written by the browser itself)."""
    peer = request.client.host if request.client else "unknown"
    if not trusted or not _in(peer, trusted):
        return peer
    forwarded = [
        part.strip()
        for header in request.headers.getlist("x-forwarded-for")
        for part in header.split(",")
        if part.strip()
    ]
    for address in reversed(forwarded):
        if not _in(address, trusted):
            return address
    return peer


class AddressLimiter:
    """Failed sign-ins per address in a sliding window."""

    def __init__(
        self, *, max_failures: int = MAX_ADDRESS_FAILURES, window: timedelta = WINDOW
    ) -> None:
        self.max_failures = max_failures
        self.window = window
        self._failures: OrderedDict[str, deque[datetime]] = OrderedDict()

    def _recent(self, address: str, now: datetime) -> deque[datetime]:
        times = self._failures.get(address)
        if times is None:
            return deque()
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            del self._failures[address]
        return times

    def minutes_left(self, address: str, now: datetime) -> int | None:
        """None when ``address`` may try; else the minutes until it may again."""
        times = self._recent(address, now)
        if len(times) < self.max_failures:
            return None
        # Free again when enough of the failures have left the window.
        freed = times[len(times) - self.max_failures] + self.window
        return max(1, int((freed - now).total_seconds() // 60) + 1)

    def failed(self, address: str, now: datetime) -> None:
        times = self._recent(address, now)
        times.append(now)
        self._failures[address] = times
        self._failures.move_to_end(address)
        while len(self._failures) > MAX_ADDRESSES:
            self._failures.popitem(last=False)
