"""Referrals on Telegram: the partners' inbox cards, their status buttons, and the notifier.

A referral is shown in its partner chat as an HTML card with HTML-escaped user text and
one button per next status (payload ``pref:<referral id>:<status>``). A press is handed to
:class:`bot.referrals.policy.ReferralPolicy`, which decides; this module answers the press,
redraws the card and lets the policy tell the user. When to deliver, retry, remind and
escalate is the policy's; :class:`TelegramNotifier` only sends what it is given.
Logs carry references and pseudonyms only, never names, phones or descriptions.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.error import TelegramError

from bot.content.catalog import Catalog, Fields
from bot.content.models import AgeBracket, Service
from bot.dialogue.payloads import PARTNER_KIND, PartnerMove, parse_partner
from bot.partners import Partners
from bot.referrals.notifier import NotSent
from bot.referrals.policy import ReferralPolicy
from bot.referrals.status import next_statuses
from bot.store.db import Database
from bot.store.referrals import ReferralRecord

logger = logging.getLogger(__name__)

#: The ages of the minors' bracket, shown on their referrals' cards.
MINOR_AGES = AgeBracket.TEEN.value

#: The payload kind of partner buttons (made and read in bot/dialogue/payloads.py).
PARTNER_PAYLOAD = PARTNER_KIND


def partner_payload(referral_id: int, status: str) -> str:
    """The payload of the button moving ``referral_id`` to ``status``."""
    return PartnerMove(referral_id, status).pack()


def parse_partner_payload(data: str) -> tuple[int, str] | None:
    """(referral id, status) of a partner button's payload; None when it is not one."""
    move = parse_partner(data)
    return None if move is None else (move.referral_id, move.status)


def need_label(catalog: Catalog, need: str) -> str:
    """A referral's need as the team reads it (default language), or its id when untitled."""
    key = f"intent_label.{need}"
    language = catalog.default_language
    return catalog.text(key, language).text if key in catalog.messages[language] else need


def partner_card(
    catalog: Catalog, referral: ReferralRecord, service: Service
) -> tuple[str, InlineKeyboardMarkup | None]:
    """The partner chat's view of a referral (HTML) and its status buttons.

    A minor's referral (the person said they are 15-17) opens with a line saying so.
    """
    language = catalog.default_language

    def text(key: str) -> str:
        return catalog.text(key, language).text

    missing = text("referral.not_given")
    place = referral.location
    if place is not None and f"place.{place}" in catalog.messages[language]:
        place = text(f"place.{place}")
    elif place is not None and f"country.{place}" in catalog.messages[language]:
        place = text(f"country.{place}")
    values = {
        "reference": referral.reference,
        "organisation": service.organisation,
        "need": need_label(catalog, referral.need),
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
    if referral.minor:
        # First, before anything else: the service applies its child-protection procedures.
        low, _, high = MINOR_AGES.partition("-")
        flag = text("partner.minor").format_map(Fields(low=low, high=high))
        body = html.escape(flag, quote=False) + "\n" + body
    buttons = [
        [
            InlineKeyboardButton(
                text(f"partner.mark.{status}"), callback_data=partner_payload(referral.id, status)
            )
        ]
        for status in next_statuses(referral.status)
    ]
    return body, InlineKeyboardMarkup(buttons) if buttons else None


class TelegramNotifier:
    """The referral policy's :class:`~bot.referrals.notifier.Notifier` over one bot."""

    channel = "telegram"

    def __init__(
        self, bot: Bot, catalog: Callable[[], Catalog], admin_ids: frozenset[int] = frozenset()
    ) -> None:
        self.bot = bot
        self.catalog = catalog
        self.admin_ids = admin_ids

    async def deliver_card(
        self, referral: ReferralRecord, service: Service, *, chat_id: int
    ) -> int:
        body, markup = partner_card(self.catalog(), referral, service)
        try:
            message = await self.bot.send_message(
                chat_id, body, parse_mode=ParseMode.HTML, reply_markup=markup
            )
        except TelegramError as exc:
            raise NotSent(str(exc)) from exc
        return message.message_id

    async def redraw_card(self, referral: ReferralRecord, service: Service) -> None:
        body, markup = partner_card(self.catalog(), referral, service)
        try:
            assert referral.partner_chat_id is not None
            assert referral.partner_message_id is not None
            await self.bot.edit_message_text(
                body,
                chat_id=referral.partner_chat_id,
                message_id=referral.partner_message_id,
                parse_mode=ParseMode.HTML,
                reply_markup=markup,
            )
        except TelegramError as exc:
            raise NotSent(str(exc)) from exc

    async def remind(self, referral: ReferralRecord, text: str) -> None:
        try:
            assert referral.partner_chat_id is not None
            await self.bot.send_message(
                referral.partner_chat_id, text, reply_to_message_id=referral.partner_message_id
            )
        except TelegramError as exc:
            raise NotSent(str(exc)) from exc

    async def escalate(self, referral: ReferralRecord, text: str) -> None:
        for admin in sorted(self.admin_ids):
            try:
                await self.bot.send_message(admin, text)
            except TelegramError as exc:
                logger.error("Admin %s not told of %s (%s)", admin, referral.reference, exc)

    async def tell_user(self, address: str, text: str) -> None:
        try:
            await self.bot.send_message(int(address), text)
        except TelegramError as exc:
            raise NotSent(str(exc)) from exc


class ReferralDesk:
    """The referral policy wired to Telegram: deliveries, partners' presses, the check loop."""

    def __init__(
        self,
        database: Database,
        catalog: Callable[[], Catalog],
        *,
        admin_ids: frozenset[int] = frozenset(),
        ack_after: timedelta = timedelta(hours=24),
        partners: Partners | None = None,
    ) -> None:
        self.catalog = catalog
        self.admin_ids = admin_ids
        self.policy = ReferralPolicy(database, catalog, ack_after=ack_after, partners=partners)

    def notifier(self, bot: Bot) -> TelegramNotifier:
        return TelegramNotifier(bot, self.catalog, self.admin_ids)

    async def deliver(self, bot: Bot, referral_id: int) -> bool:
        """Post a stored referral to its partner chat; False when it could not (retried later)."""
        return await self.policy.deliver(self.notifier(bot), referral_id)

    async def reroute(self, bot: Bot, admin: int, args: str, language: str | None) -> str:
        """``/reroute <reference> <service>`` from an admin: the answer to send them.

        Without arguments (or with wrong ones): how to use it, with the referrals waiting
        and the services that take referrals."""
        catalog = self.catalog()
        parts = args.split()
        services = ", ".join(self.policy.referral_services())
        if len(parts) != 2:
            waiting = await self.policy.waiting_for_admins()
            references = ", ".join(r.reference for r in waiting) or "-"
            return catalog.text("admin.reroute_usage", language).text.format_map(
                Fields(references=references, services=services)
            )
        reference, service_id = parts[0].upper(), parts[1]
        moved = await self.policy.reroute(self.notifier(bot), reference, service_id, admin=admin)
        fields = Fields(reference=reference, service=service_id, services=services)
        if moved is None:
            return catalog.text("admin.reroute_refused", language).text.format_map(fields)
        fields["organisation"] = self.policy.organisation(moved)
        return catalog.text("admin.reroute_done", language).text.format_map(fields)

    async def withdrawn(self, bot: Bot, reference: str) -> None:
        """The person erased their data: their partner's card loses it, and is told."""
        await self.policy.withdrawn(self.notifier(bot), reference)

    async def on_partner_button(self, update: Update, bot: Bot) -> None:
        """A partner pressed a status button: move the referral, redraw its card, tell the user."""
        query = update.callback_query
        assert query is not None and query.data is not None
        catalog = self.catalog()
        pressed = parse_partner_payload(query.data)
        chat = update.effective_chat
        if pressed is None or chat is None:
            await query.answer()
            return
        referral_id, status_to = pressed
        if not self.policy.partners.is_staff(chat.id, query.from_user.id):
            # A member of the group who is not on its staff list (or any other chat).
            logger.warning(
                "A press on referral %s refused: not from the staff of that chat", referral_id
            )
            await query.answer(catalog.text("partner.not_staff", None).text, show_alert=True)
            return
        move = await self.policy.move(
            referral_id=referral_id,
            status_to=status_to,
            chat_id=chat.id,
            partner=query.from_user.id,
        )
        if move is None:
            await query.answer(catalog.text("partner.not_yours", None).text, show_alert=True)
            return
        await query.answer()
        current = move.after
        service = catalog.services.get(current.service_id)
        if service is not None and query.message is not None:
            body, markup = partner_card(catalog, current, service)
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
        await self.policy.announce(self.notifier(bot), move)

    async def check(self, bot: Bot, *, now: datetime | None = None) -> tuple[int, int]:
        """Retry undelivered referrals; remind overdue ones. Returns (delivered, reminded)."""
        return await self.policy.check(self.notifier(bot), now=now)

    async def run(self, bot: Bot, interval: float) -> None:
        """Check forever (a task; cancel it to stop)."""
        await self.policy.run(self.notifier(bot), interval)
