"""What happens to a referral after the user sends it: delivery, partners' moves, reminders.

- **Delivery.** A stored referral is posted once to its service's partner chat
  (``partner_chat_id`` in ``content/services.yml``). When the service has no partner chat
  now, or the chat cannot be reached, the referral is kept undelivered and retried at every
  check until it is delivered or closed.
- **Moves.** Only the chat the referral was delivered to may move it, and only forward
  (:func:`bot.referrals.status.can_move`). Each move is stored with who made it, and the user
  is told in their own language when the notifier can reach them.
- **Reminders.** A referral delivered but still ``sent`` ``ack_after`` after it was created is
  reminded once in the partner chat and escalated to the admins; a failed reminder is logged,
  never retried (the admins were told).

Sessions are opened per unit of work and closed before any message is sent. Logs carry
references and service ids only, never names, phones or descriptions.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.content.catalog import Catalog, Fields
from bot.referrals.notifier import Notifier, NotSent
from bot.referrals.status import OPEN_STATUSES, ReferralStatus, can_move
from bot.store import referrals as referral_repo
from bot.store.db import Database
from bot.store.referrals import ReferralRecord

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Move:
    """A partner's press on a status button, once decided."""

    #: The referral as it was before the press.
    before: ReferralRecord
    #: The referral as it is now (moved or not), for the card to show.
    after: ReferralRecord
    #: Whether the press moved it (False for a backward, repeated or unknown status).
    moved: bool
    #: (channel, external id) of the referral's user, to tell them.
    address: tuple[str, str] | None


class ReferralPolicy:
    """The referral rules that involve time or a channel; see the module docstring."""

    def __init__(
        self,
        database: Database,
        catalog: Callable[[], Catalog],
        *,
        ack_after: timedelta = timedelta(hours=24),
    ) -> None:
        self.database = database
        self.catalog = catalog
        self.ack_after = ack_after

    def organisation(self, referral: ReferralRecord) -> str:
        """The name of the referral's service as users and partners read it."""
        service = self.catalog().services.get(referral.service_id)
        return service.organisation if service else referral.service_id

    # -- delivering -------------------------------------------------------------------------

    async def deliver(self, notifier: Notifier, referral_id: int) -> bool:
        """Post a stored referral to its partner chat; False when it could not (retried later).

        True as well when it was delivered already; False when it does not exist.
        """
        async with self.database.transaction() as session:
            referral = await referral_repo.get_referral(session, referral_id)
        if referral is None or referral.partner_message_id is not None:
            return referral is not None
        service = self.catalog().services.get(referral.service_id)
        if service is None or not service.partner_chat_id:
            logger.warning(
                "Referral %s: service %s has no partner chat now; kept for later",
                referral.reference,
                referral.service_id,
            )
            return False
        try:
            message_id = await notifier.deliver_card(
                referral, service, chat_id=service.partner_chat_id
            )
        except NotSent as exc:
            logger.error("Referral %s not delivered (%s); will retry", referral.reference, exc)
            return False
        async with self.database.transaction() as session:
            await referral_repo.mark_delivered(
                session,
                referral_id=referral.id,
                chat_id=service.partner_chat_id,
                message_id=message_id,
            )
        logger.info("Referral %s delivered to %s", referral.reference, service.id)
        return True

    # -- partners' moves --------------------------------------------------------------------

    async def move(
        self, *, referral_id: int, status_to: str, chat_id: int, partner: int
    ) -> Move | None:
        """Apply a partner's press in ``chat_id``; None when that chat may not move it.

        A partner chat sees and moves only its own service's referrals. ``partner`` is the
        channel's id of the person who pressed, stored as the move's actor.
        """
        async with self.database.transaction() as session:
            referral = await referral_repo.get_referral(session, referral_id, for_update=True)
            if referral is None or referral.partner_chat_id != chat_id:
                return None
            moved = can_move(referral.status, status_to) and await referral_repo.set_status(
                session,
                referral_id=referral.id,
                status_from=referral.status,
                status_to=status_to,
                actor=f"partner:{partner}",
            )
            current = await referral_repo.get_referral(session, referral_id)
            address = await referral_repo.user_address(session, user_id=referral.user_id)
        assert current is not None
        return Move(before=referral, after=current, moved=moved, address=address)

    async def announce(self, notifier: Notifier, move: Move) -> None:
        """Tell the user their referral moved, when it did and the notifier can reach them."""
        if not move.moved:
            return
        current = move.after
        logger.info("Referral %s: %s -> %s", current.reference, move.before.status, current.status)
        if move.address is None or move.address[0] != notifier.channel:
            return
        notice = self.catalog().text(f"referral.update.{current.status}", current.language).text
        text = notice.format_map(
            Fields(reference=current.reference, organisation=self.organisation(current))
        )
        try:
            await notifier.tell_user(move.address[1], text)
        except NotSent as exc:
            logger.warning("Referral %s: user not told (%s)", current.reference, exc)

    # -- reminders --------------------------------------------------------------------------

    async def check(self, notifier: Notifier, *, now: datetime | None = None) -> tuple[int, int]:
        """Retry undelivered referrals; remind overdue ones. Returns (delivered, reminded)."""
        now = now or datetime.now(UTC)
        async with self.database.transaction() as session:
            pending = await referral_repo.undelivered(session, statuses=OPEN_STATUSES)
            overdue = await referral_repo.overdue(
                session, status=ReferralStatus.SENT, before=now - self.ack_after
            )
        delivered = 0
        for referral in pending:
            delivered += await self.deliver(notifier, referral.id)
        reminded = 0
        for referral in overdue:
            await self._remind(notifier, referral)
            reminded += 1
        return delivered, reminded

    async def _remind(self, notifier: Notifier, referral: ReferralRecord) -> None:
        """Remind the partner chat once and escalate to the admins, in the default language."""
        catalog = self.catalog()
        fields = Fields(
            reference=referral.reference,
            organisation=self.organisation(referral),
            hours=f"{self.ack_after.total_seconds() / 3600:g}",
        )
        try:
            await notifier.remind(
                referral, catalog.text("partner.reminder", None).text.format_map(fields)
            )
        except NotSent as exc:
            logger.error("Referral %s: reminder not sent (%s)", referral.reference, exc)
        await notifier.escalate(
            referral, catalog.text("admin.referral_overdue", None).text.format_map(fields)
        )
        async with self.database.transaction() as session:
            await referral_repo.mark_reminded(session, referral_id=referral.id)
        logger.warning("Referral %s not acknowledged: reminded", referral.reference)

    async def withdrawn(self, notifier: Notifier, reference: str) -> None:
        """Tell the partner a referral was withdrawn (the person erased their data): the card
        is drawn again without the personal details, and a note in reply says why."""
        async with self.database.transaction() as session:
            referral = await referral_repo.by_reference(session, reference)
        if referral is None or referral.partner_chat_id is None:
            return
        catalog = self.catalog()
        service = catalog.services.get(referral.service_id)
        text = catalog.text("partner.withdrawn", None).text.format_map(
            Fields(reference=referral.reference)
        )
        try:
            if service is not None and referral.partner_message_id is not None:
                await notifier.redraw_card(referral, service)
            await notifier.remind(referral, text)
        except NotSent as exc:
            logger.error("Referral %s: withdrawal not told to the partner (%s)", reference, exc)
            return
        logger.info("Referral %s withdrawn: partner told", reference)

    async def run(self, notifier: Notifier, interval: float) -> None:
        """Check forever (a task; cancel it to stop)."""
        while True:
            await asyncio.sleep(interval)
            try:
                await self.check(notifier)
            except Exception:
                logger.exception("Referral check failed; trying again later")
