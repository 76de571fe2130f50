"""What the campaign sender needs of a messaging platform: one call, and the project's errors.

``bot/telegram/transport.py`` implements it over python-telegram-bot; tests use an
in-memory one. The sender never sees a platform's own types or exceptions.
"""

from __future__ import annotations

from typing import Protocol


class CampaignTransport(Protocol):
    """Sends one campaign message to one chat.

    Returns when the platform accepted the message. Raises only subclasses of
    :class:`bot.errors.DeliveryError`: ``RateLimited`` (wait, then send again),
    ``RecipientBlocked``, ``BadRequest`` (``ChatNotFound``), ``NetworkFailure``
    (``TimedOut``), ``TransportRefused`` (the bot itself is refused), or
    ``DeliveryError`` for anything else the platform refused.
    """

    async def send_text(self, chat_id: str, text: str, *, paid: bool = False) -> None:
        """Send ``text`` to ``chat_id``; ``paid``: above the free bulk rate, at a charge."""
        ...
