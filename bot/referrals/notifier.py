"""What a channel does for the referral policy: post a card, remind, escalate, tell a user.

The policy (:mod:`bot.referrals.policy`) decides *when*; a notifier knows *how* on one
channel (Telegram today: :class:`bot.telegram.referrals.TelegramNotifier`). A notifier
renders the partner's card itself, because the card's markup belongs to the channel.
Texts handed to it are ready to send; it adds nothing to them.
"""

from __future__ import annotations

from typing import Protocol

from bot.content.models import Service
from bot.store.referrals import ReferralRecord


class NotSent(Exception):
    """The channel could not send a message; ``str()`` says why, with no personal data."""


class Notifier(Protocol):
    @property
    def channel(self) -> str:
        """The channel whose users this notifier can reach (``users.channel``)."""
        ...

    async def deliver_card(
        self, referral: ReferralRecord, service: Service, *, chat_id: int
    ) -> int:
        """Post the referral's card with its status buttons in ``chat_id``; its message id.

        Raises :class:`NotSent` when the partner chat cannot be reached.
        """
        ...

    async def redraw_card(self, referral: ReferralRecord, service: Service) -> None:
        """Draw the referral's card again, as it stands now, in place of the one posted.

        Raises :class:`NotSent` when it could not.
        """
        ...

    async def remind(self, referral: ReferralRecord, text: str) -> None:
        """Post ``text`` in the referral's partner chat, in reply to its card.

        Raises :class:`NotSent` when it could not.
        """
        ...

    async def escalate(self, referral: ReferralRecord, text: str) -> None:
        """Flag ``text`` to the people who watch the partners (the admins).

        Never raises: a person who cannot be told is logged and skipped.
        """
        ...

    async def tell_user(self, address: str, text: str) -> None:
        """Send ``text`` to the user known on this channel as ``address``.

        Raises :class:`NotSent` when it could not (they blocked the bot, for example).
        """
        ...
