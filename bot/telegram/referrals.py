"""Referrals on Telegram: the partners' inbox, their status buttons, reminders.

A referral the user confirmed is posted to its service's partner chat
(``partner_chat_id`` in ``content/services.yml``) with HTML-escaped user text and one
button per next status. A press moves the referral on (only from that chat; only
forward), is stored with who and when, and the user is told in their own language.
A referral not delivered (the chat was unreachable) is retried; one not acknowledged
after ``REFERRAL_ACK_HOURS`` is reminded in the partner chat and flagged to the admins.
Logs carry references and pseudonyms only, never names, phones or descriptions.
"""

from __future__ import annotations

import asyncio
import html
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.error import TelegramError

from bot.content.catalog import Catalog, Fields
from bot.content.models import Service
from bot.referrals import can_move, next_statuses
from bot.store import referrals as referral_repo
from bot.store.db import Database
from bot.store.referrals import ReferralRecord

logger = logging.getLogger(__name__)

PARTNER_PAYLOAD = "pref"


class ReferralDesk:
    def __init__(
        self,
        database: Database,
        catalog: Callable[[], Catalog],
        *,
        admin_ids: frozenset[int] = frozenset(),
        ack_after: timedelta = timedelta(hours=24),
    ) -> None:
        self.database = database
        self.catalog = catalog
        self.admin_ids = admin_ids
        self.ack_after = ack_after

    # -- rendering --------------------------------------------------------------------------

    def partner_message(
        self, referral: ReferralRecord, service: Service
    ) -> tuple[str, InlineKeyboardMarkup | None]:
        """The partner chat's view of a referral (HTML) and its status buttons."""
        catalog = self.catalog()
        language = catalog.default_language

        def text(key: str) -> str:
            return catalog.text(key, language).text

        missing = text("referral.not_given")
        place = referral.location
        if place is not None and f"place.{place}" in catalog.messages[language]:
            place = text(f"place.{place}")
        elif place is not None and f"country.{place}" in catalog.messages[language]:
            place = text(f"country.{place}")
        need_key = f"intent_label.{referral.need}"
        values = {
            "reference": referral.reference,
            "organisation": service.organisation,
            "need": text(need_key) if need_key in catalog.messages[language] else referral.need,
            "name": referral.first_name or missing,
            "phone": referral.phone or missing,
            "location": place or missing,
            "language": (
                catalog.languages[referral.language].name
                if referral.language in catalog.languages
                else referral.language
            ),
            "description": referral.description or missing,
            "status": text(f"referral.status.{referral.status}"),
        }
        # Everything is escaped: the template is content, the values come from a user.
        template = html.escape(text("partner.referral"), quote=False)
        body = template.format_map(
            Fields({k: html.escape(str(v), quote=False) for k, v in values.items()})
        )
        buttons = [
            [
                InlineKeyboardButton(
                    text(f"partner.mark.{status}"),
                    callback_data=f"{PARTNER_PAYLOAD}:{referral.id}:{status}",
                )
            ]
            for status in next_statuses(referral.status)
        ]
        return body, InlineKeyboardMarkup(buttons) if buttons else None

    # -- delivering -------------------------------------------------------------------------

    async def deliver(self, bot: Bot, referral_id: int) -> bool:
        """Post a stored referral to its partner chat; False when it could not (retried later)."""
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
        body, markup = self.partner_message(referral, service)
        try:
            message = await bot.send_message(
                service.partner_chat_id, body, parse_mode=ParseMode.HTML, reply_markup=markup
            )
        except TelegramError as exc:
            logger.error("Referral %s not delivered (%s); will retry", referral.reference, exc)
            return False
        async with self.database.transaction() as session:
            await referral_repo.mark_delivered(
                session,
                referral_id=referral.id,
                chat_id=service.partner_chat_id,
                message_id=message.message_id,
            )
        logger.info("Referral %s delivered to %s", referral.reference, service.id)
        return True

    # -- partners' buttons ------------------------------------------------------------------

    async def on_partner_button(self, update: Update, bot: Bot) -> None:
        query = update.callback_query
        assert query is not None and query.data is not None
        catalog = self.catalog()
        parts = query.data.split(":")
        chat = update.effective_chat
        if len(parts) != 3 or not parts[1].isdigit() or chat is None:
            await query.answer()
            return
        referral_id, status_to = int(parts[1]), parts[2]
        actor = f"partner:{query.from_user.id}"
        async with self.database.transaction() as session:
            referral = await referral_repo.get_referral(session, referral_id, for_update=True)
            if referral is None or referral.partner_chat_id != chat.id:
                # A partner chat sees and moves only its own service's referrals.
                refused = catalog.text("partner.not_yours", None).text
                await query.answer(refused, show_alert=True)
                return
            moved = can_move(referral.status, status_to) and await referral_repo.set_status(
                session,
                referral_id=referral.id,
                status_from=referral.status,
                status_to=status_to,
                actor=actor,
            )
            current = await referral_repo.get_referral(session, referral_id)
            address = await referral_repo.user_address(session, user_id=referral.user_id)
        assert current is not None
        await query.answer()
        service = catalog.services.get(current.service_id)
        if service is not None and query.message is not None:
            body, markup = self.partner_message(current, service)
            try:
                await bot.edit_message_text(
                    body,
                    chat_id=chat.id,
                    message_id=query.message.message_id,
                    parse_mode=ParseMode.HTML,
                    reply_markup=markup,
                )
            except TelegramError as exc:  # e.g. not modified after a double tap
                logger.info("Referral %s message not edited: %s", current.reference, exc)
        if not moved:
            return
        logger.info("Referral %s: %s -> %s", current.reference, referral.status, status_to)
        if address is None or address[0] != "telegram":
            return
        organisation = service.organisation if service else current.service_id
        notice = catalog.text(f"referral.update.{status_to}", current.language).text
        text = notice.format_map(Fields(reference=current.reference, organisation=organisation))
        try:
            await bot.send_message(int(address[1]), text)
        except TelegramError as exc:
            logger.warning("Referral %s: user not told (%s)", current.reference, exc)

    # -- reminders --------------------------------------------------------------------------

    async def check(self, bot: Bot, *, now: datetime | None = None) -> tuple[int, int]:
        """Retry undelivered referrals; remind overdue ones. Returns (delivered, reminded)."""
        now = now or datetime.now(UTC)
        async with self.database.transaction() as session:
            pending = await referral_repo.undelivered(session)
            overdue = await referral_repo.overdue(
                session, status="sent", before=now - self.ack_after
            )
        delivered = 0
        for referral in pending:
            delivered += await self.deliver(bot, referral.id)
        reminded = 0
        catalog = self.catalog()
        hours = f"{self.ack_after.total_seconds() / 3600:g}"
        for referral in overdue:
            service = catalog.services.get(referral.service_id)
            organisation = service.organisation if service else referral.service_id
            fields = Fields(reference=referral.reference, organisation=organisation, hours=hours)
            reminder = catalog.text("partner.reminder", None).text.format_map(fields)
            try:
                assert referral.partner_chat_id is not None
                await bot.send_message(
                    referral.partner_chat_id,
                    reminder,
                    reply_to_message_id=referral.partner_message_id,
                )
            except TelegramError as exc:
                logger.error("Referral %s: reminder not sent (%s)", referral.reference, exc)
            flag = catalog.text("admin.referral_overdue", None).text.format_map(fields)
            for admin in sorted(self.admin_ids):
                try:
                    await bot.send_message(admin, flag)
                except TelegramError as exc:
                    logger.error("Admin %s not told of %s (%s)", admin, referral.reference, exc)
            async with self.database.transaction() as session:
                await referral_repo.mark_reminded(session, referral_id=referral.id)
            logger.warning("Referral %s not acknowledged: reminded", referral.reference)
            reminded += 1
        return delivered, reminded

    async def run(self, bot: Bot, interval: float) -> None:
        """Check forever (a task; cancel it to stop)."""
        while True:
            await asyncio.sleep(interval)
            try:
                await self.check(bot)
            except Exception:
                logger.exception("Referral check failed; trying again later")
