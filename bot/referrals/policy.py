"""What happens to a referral after the user sends it: delivery, partners' moves, reminders.

- **Delivery.** A stored referral is ``pending`` and posted once to its service's partner
  chat (``PARTNERS_FILE``, deployment configuration); only when the chat accepted the
  message is it ``sent``, and the person told it arrived. When the service has no partner
  chat now, or the chat cannot be reached, the failure is counted and the next attempt set
  after a growing wait (``retry_after``); the admins are told at the first failure, once.
  After the last attempt the referral is ``undeliverable``: the person is told the team
  is on it, the admins are told again, and ``/reroute`` sends it to another service.
  Due referrals are taken by their next attempt time, so failing ones never starve the
  others.
- **Moves.** One rule for every path a partner works from: only forward
  (:func:`bot.referrals.status.can_move`), and only by the partner it was sent to: on
  Telegram the staff listed for the chat it was delivered to, in the console an account
  whose services hold the referral's. Each move is stored with who made it, the user is told
  in their own language when the notifier can reach them, and a move made in the console
  redraws the Telegram card, so both show the same state.
- **Reminders.** A referral still ``pending``, ``sent`` or ``undeliverable`` ``ack_after``
  after it was created is escalated to the admins once, and reminded in the partner chat
  when it was delivered there; a failed reminder is logged, never retried (the admins
  were told).

Sessions are opened per unit of work and closed before any message is sent. Logs carry
references and service ids only, never names, phones or descriptions.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from bot.content.catalog import Catalog, Fields
from bot.content.models import Service
from bot.partners import Partners
from bot.referrals.notifier import Notifier, NotSent
from bot.referrals.status import ReferralStatus, can_move
from bot.store import referrals as referral_repo
from bot.store.db import Database
from bot.store.referrals import ReferralRecord

logger = logging.getLogger(__name__)

#: How long to wait after each failed delivery before the next attempt; after the last
#: one the referral is undeliverable (seven attempts over about ten hours).
RETRY_AFTER: tuple[timedelta, ...] = tuple(timedelta(minutes=m) for m in (1, 5, 15, 60, 180, 360))
#: Statuses in which a referral waits for someone to act (reminded when it waits too long).
WAITING = (
    ReferralStatus.PENDING.value,
    ReferralStatus.SENT.value,
    ReferralStatus.UNDELIVERABLE.value,
)
#: Statuses from which an admin may send a referral to another service: no partner has
#: acknowledged it (a sent one whose partner does not answer is the usual case).
REROUTABLE = WAITING


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
        retry_after: Sequence[timedelta] = RETRY_AFTER,
        partners: Partners | None = None,
    ) -> None:
        self.database = database
        self.catalog = catalog
        self.ack_after = ack_after
        self.retry_after = tuple(retry_after)
        #: Where each service's referrals go, and who may move them (``PARTNERS_FILE``).
        self.partners = partners or Partners()

    def chat_for(self, service: Service | None) -> int | None:
        """The partner chat of a service that takes referrals now, or None."""
        if service is None or not service.accepts_referrals:
            return None
        return self.partners.chat_for(service.id)

    def organisation(self, referral: ReferralRecord) -> str:
        """The name of the referral's service as users and partners read it."""
        service = self.catalog().services.get(referral.service_id)
        return service.organisation if service else referral.service_id

    # -- delivering -------------------------------------------------------------------------

    async def deliver(
        self, notifier: Notifier, referral_id: int, *, now: datetime | None = None
    ) -> bool:
        """Post a pending referral to its partner chat; True once it is delivered (now or
        before), False when it could not be (counted, and retried later) or does not exist.
        """
        async with self.database.transaction() as session:
            referral = await referral_repo.get_referral(session, referral_id)
        if referral is None:
            return False
        if referral.status != ReferralStatus.PENDING:
            return referral.partner_message_id is not None
        service = self.catalog().services.get(referral.service_id)
        chat_id = self.chat_for(service)
        if service is None or chat_id is None:
            await self._failed(notifier, referral, "no partner chat for the service", now)
            return False
        try:
            # The card shows the referral as it is once accepted: sent, with the next moves.
            message_id = await notifier.deliver_card(
                replace(referral, status=ReferralStatus.SENT.value),
                service,
                chat_id=chat_id,
            )
        except NotSent as exc:
            await self._failed(notifier, referral, str(exc), now)
            return False
        async with self.database.transaction() as session:
            await referral_repo.mark_delivered(
                session,
                referral_id=referral.id,
                chat_id=chat_id,
                message_id=message_id,
            )
            await referral_repo.set_status(
                session,
                referral_id=referral.id,
                status_from=ReferralStatus.PENDING.value,
                status_to=ReferralStatus.SENT.value,
                actor="system",
            )
            address = await referral_repo.user_address(session, user_id=referral.user_id)
        logger.info("Referral %s delivered to %s", referral.reference, service.id)
        await self._tell(notifier, referral, address, "referral.delivered", service.organisation)
        return True

    async def _failed(
        self, notifier: Notifier, referral: ReferralRecord, reason: str, now: datetime | None
    ) -> None:
        """Count a failed delivery; tell the admins at the first one; after the last one the
        referral is undeliverable and the person and the admins are told."""
        now = now or datetime.now(UTC)
        done = referral.delivery_attempts + 1
        last = done > len(self.retry_after)
        wait = None if last else self.retry_after[done - 1]
        async with self.database.transaction() as session:
            attempts = await referral_repo.record_failed_attempt(
                session,
                referral_id=referral.id,
                next_attempt_at=None if wait is None else now + wait,
            )
            if last:
                await referral_repo.set_status(
                    session,
                    referral_id=referral.id,
                    status_from=ReferralStatus.PENDING.value,
                    status_to=ReferralStatus.UNDELIVERABLE.value,
                    actor="system",
                )
            address = await referral_repo.user_address(session, user_id=referral.user_id)
        catalog = self.catalog()
        fields = Fields(
            reference=referral.reference,
            organisation=self.organisation(referral),
            reason=reason,
            attempts=str(attempts),
            services=", ".join(self.referral_services()),
        )
        if last:
            logger.error(
                "Referral %s undeliverable after %d attempts (%s)",
                referral.reference,
                attempts,
                reason,
            )
            await notifier.escalate(
                referral, catalog.text("admin.referral_dead", None).text.format_map(fields)
            )
            await self._tell(
                notifier, referral, address, "referral.undeliverable", self.organisation(referral)
            )
        else:
            logger.error(
                "Referral %s not delivered (%s); attempt %d, next in %s",
                referral.reference,
                reason,
                attempts,
                wait,
            )
            if attempts == 1:  # the admins hear of it once, not at every retry
                await notifier.escalate(
                    referral,
                    catalog.text("admin.referral_undelivered", None).text.format_map(fields),
                )

    async def _tell(
        self,
        notifier: Notifier,
        referral: ReferralRecord,
        address: tuple[str, str] | None,
        key: str,
        organisation: str,
    ) -> None:
        """Tell the referral's person ``key``, when the notifier can reach them."""
        if address is None or address[0] != notifier.channel:
            return
        text = (
            self.catalog()
            .text(key, referral.language)
            .text.format_map(Fields(reference=referral.reference, organisation=organisation))
        )
        try:
            await notifier.tell_user(address[1], text)
        except NotSent as exc:
            logger.warning("Referral %s: user not told (%s)", referral.reference, exc)

    def referral_services(self) -> list[str]:
        """Ids of the services that take referrals now (where a referral can be re-routed)."""
        return sorted(
            s.id for s in self.catalog().services.values() if self.chat_for(s) is not None
        )

    async def reroute(
        self, notifier: Notifier, reference: str, service_id: str, *, admin: int | str
    ) -> ReferralRecord | None:
        """Send a referral no partner has acknowledged (undeliverable, still pending, or
        sent but never marked received) to another service, then try to deliver it at once;
        None when it cannot be re-routed there. ``admin`` is who asked (a Telegram id or a
        console account), for the log's sake only."""
        service = self.catalog().services.get(service_id)
        if service is None or self.chat_for(service) is None:
            return None
        async with self.database.transaction() as session:
            referral = await referral_repo.by_reference(session, reference)
            if (
                referral is None
                or referral.status not in REROUTABLE
                or referral.service_id == service.id
            ):
                return None
            moved = await referral_repo.reroute(
                session,
                referral_id=referral.id,
                service_id=service.id,
                status_from=referral.status,
                status_to=ReferralStatus.PENDING.value,
            )
        if not moved:
            return None
        logger.info("Referral %s re-routed to %s by an admin", reference, service.id)
        await self.deliver(notifier, referral.id)
        async with self.database.transaction() as session:
            return await referral_repo.get_referral(session, referral.id)

    async def to_relay(self, reference: str) -> tuple[ReferralRecord, tuple[str, str]] | None:
        """An undeliverable (or pending) referral handed to the team's human relay instead
        of a service: closed, with ``reroute:relay`` as who closed it; the referral and
        its person's address, to open the relay. None when that cannot be done (no such
        referral, already delivered, or its person was erased)."""
        async with self.database.transaction() as session:
            referral = await referral_repo.by_reference(session, reference)
            if referral is None or referral.status not in (
                ReferralStatus.UNDELIVERABLE,
                ReferralStatus.PENDING,
            ):
                return None
            address = await referral_repo.user_address(session, user_id=referral.user_id)
            if address is None:
                return None
            await referral_repo.set_status(
                session,
                referral_id=referral.id,
                status_from=referral.status,
                status_to=ReferralStatus.CLOSED.value,
                actor="reroute:relay",
            )
        logger.info("Referral %s handed to the human relay by an admin", reference)
        return referral, address

    async def waiting_for_admins(self) -> list[ReferralRecord]:
        """Referrals not delivered: pending ones that failed at least once, undeliverable."""
        async with self.database.transaction() as session:
            found = await referral_repo.in_statuses(
                session,
                statuses=(ReferralStatus.PENDING.value, ReferralStatus.UNDELIVERABLE.value),
            )
        return [r for r in found if r.status == ReferralStatus.UNDELIVERABLE or r.delivery_attempts]

    # -- partners' moves --------------------------------------------------------------------

    async def move(
        self, *, referral_id: int, status_to: str, chat_id: int, partner: int
    ) -> Move | None:
        """Apply a partner's press in ``chat_id``; None when that chat may not move it.

        A partner chat sees and moves only its own service's referrals, and only the staff
        listed for it in ``PARTNERS_FILE`` may move them. ``partner`` is the channel's id of
        the person who pressed, stored as the move's actor.
        """
        if not self.partners.is_staff(chat_id, partner):
            return None
        return await self._move(
            referral_id=referral_id,
            status_to=status_to,
            actor=f"partner:{partner}",
            theirs=lambda referral: referral.partner_chat_id == chat_id,
        )

    async def move_from_console(
        self, *, referral_id: int, status_to: str, services: Collection[str], account: str
    ) -> Move | None:
        """Apply a move made in the console by ``account``, a partner account whose
        ``services`` are its scope; None when the referral is not one of theirs. The same
        rule as a press in the partner chat (:meth:`move`)."""
        return await self._move(
            referral_id=referral_id,
            status_to=status_to,
            actor=f"console:{account}",
            theirs=lambda referral: referral.service_id in services,
        )

    async def _move(
        self,
        *,
        referral_id: int,
        status_to: str,
        actor: str,
        theirs: Callable[[ReferralRecord], bool],
    ) -> Move | None:
        """The one state machine of a partner's move, whatever the path: forward only, by
        whoever ``theirs`` says the referral belongs to."""
        async with self.database.transaction() as session:
            referral = await referral_repo.get_referral(session, referral_id, for_update=True)
            if referral is None or not theirs(referral):
                return None
            moved = can_move(referral.status, status_to) and await referral_repo.set_status(
                session,
                referral_id=referral.id,
                status_from=referral.status,
                status_to=status_to,
                actor=actor[:64],
            )
            current = await referral_repo.get_referral(session, referral_id)
            address = await referral_repo.user_address(session, user_id=referral.user_id)
        assert current is not None
        return Move(before=referral, after=current, moved=moved, address=address)

    async def redraw(self, notifier: Notifier, move: Move) -> None:
        """Draw the partner chat's card again after a move made elsewhere (the console), so
        its buttons are the next moves; a card that cannot be edited is logged, not retried."""
        current = move.after
        service = self.catalog().services.get(current.service_id)
        if not move.moved or service is None or current.partner_message_id is None:
            return
        try:
            await notifier.redraw_card(current, service)
        except NotSent as exc:
            logger.warning("Referral %s: partner card not redrawn (%s)", current.reference, exc)

    async def announce(self, notifier: Notifier, move: Move) -> None:
        """Tell the user their referral moved, when it did and the notifier can reach them."""
        if not move.moved:
            return
        current = move.after
        logger.info("Referral %s: %s -> %s", current.reference, move.before.status, current.status)
        await self._tell(
            notifier,
            current,
            move.address,
            f"referral.update.{current.status}",
            self.organisation(current),
        )

    # -- reminders --------------------------------------------------------------------------

    async def check(self, notifier: Notifier, *, now: datetime | None = None) -> tuple[int, int]:
        """Deliver the referrals due; remind overdue ones. Returns (delivered, reminded)."""
        now = now or datetime.now(UTC)
        async with self.database.transaction() as session:
            due = await referral_repo.due_for_delivery(
                session, status=ReferralStatus.PENDING.value, now=now
            )
            overdue = await referral_repo.overdue(
                session, statuses=WAITING, before=now - self.ack_after
            )
        delivered = 0
        for referral in due:
            delivered += await self.deliver(notifier, referral.id, now=now)
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
        if referral.partner_message_id is not None:
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
