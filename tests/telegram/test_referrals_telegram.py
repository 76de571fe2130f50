"""A referral end to end on Telegram: the user's chat and the partner's chat, through the
real PTB Application against the fake Bot API (consent, form, delivery, three status
changes told to the user, a reminder, and a partner chat that is not the service's)."""

from __future__ import annotations

import asyncio
import html
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from telegram import Bot

from bot.content.store import ContentStore
from bot.dialogue.decision import Thresholds
from bot.dialogue.engine import Engine
from bot.nlu.service import NluService
from bot.partners import Partners, load_partners
from bot.store import referrals as referral_repo
from bot.store import repositories as repo
from bot.store.db import Database
from bot.telegram.referrals import (
    ReferralDesk,
    parse_partner_payload,
    partner_card,
    partner_payload,
)
from tests.fakes.bot_api import FakeBotApi
from tests.support.nlu import StubParser
from tests.support.referrals import PARTNER_CHAT, SERVICE, enable_referrals, partners_file
from tests.support.telegram import CHAT, polling

OTHER_PARTNER = -1009876543
STAFF = 81
ADMIN = 4242


@pytest.fixture
def store(content_copy: Path) -> ContentStore:
    enable_referrals(content_copy)
    enable_referrals(content_copy, "red_cross_rfl", OTHER_PARTNER)
    return ContentStore(content_copy)


@pytest.fixture
def partners(store: ContentStore, content_copy: Path) -> Partners:
    return load_partners(partners_file(content_copy))


@pytest.fixture
def helper(store: ContentStore, database: Database, partners: Partners) -> Engine:
    return Engine(
        database=database,
        content=store.current,
        nlu=NluService(StubParser(), store.matcher),
        thresholds=Thresholds(),
        partners=partners,
    )


async def new_referral(
    session: Any,
    user_id: int,
    reference: str,
    service_id: str,
    need: str,
    *,
    first_name: str | None = None,
    description: str | None = None,
) -> referral_repo.ReferralRecord:
    """A referral as the engine stores it after "send" (pending until delivered, French)."""
    stored = await referral_repo.create_referral(
        session,
        reference=reference,
        user_id=user_id,
        service_id=service_id,
        need=need,
        status="pending",
        language="fr",
        first_name=first_name,
        phone=None,
        location=None,
        description=description,
    )
    assert stored is not None
    return stored


class Chat:
    """Drives one user's private chat: waits for each answer before the next step."""

    def __init__(self, fake: FakeBotApi) -> None:
        self.fake = fake
        self.seen = 0

    async def after(self, action: Any) -> list[Any]:
        action()
        await self.fake.wait_for("sendMessage", chat_id=CHAT, count=self.seen + 1)
        await self._settle()
        new = self.fake.requests_for("sendMessage", chat_id=CHAT)[self.seen :]
        self.seen += len(new)
        return new

    async def press(self, payload: str) -> list[Any]:
        return await self.after(lambda: self.fake.push_callback(CHAT, payload))

    async def say(self, text: str) -> list[Any]:
        return await self.after(lambda: self.fake.push_text(CHAT, text))

    async def _settle(self) -> None:
        """Until the bot has stopped answering (the replies of one step come in a row)."""
        count = -1
        while count != len(self.fake.requests_for("sendMessage", chat_id=CHAT)):
            count = len(self.fake.requests_for("sendMessage", chat_id=CHAT))
            await asyncio.sleep(0.15)


async def test_a_referral_from_the_users_chat_to_the_partners_and_back(
    fake: FakeBotApi, store: ContentStore, helper: Engine, database: Database
) -> None:
    catalog = store.current()
    organisation = catalog.services[SERVICE].organisation
    fake.add_group(PARTNER_CHAT, "IOM Mali referrals", is_forum=False)
    fake.add_group(OTHER_PARTNER, "Red Cross referrals", is_forum=False)
    chat = Chat(fake)
    async with polling(fake, helper, store, ADMIN_TELEGRAM_IDS=str(ADMIN)):
        await chat.after(lambda: fake.push_command(CHAT, "start"))
        await chat.press("lang:fr")
        await chat.press("consent:yes")
        await chat.press("sub:no")
        await chat.press("intent:return_help")
        await chat.press("where:ml")
        cards = await chat.press("where:r:kayes")
        assert any(organisation in m.params["text"] for m in cards)
        consent = await chat.press(f"refer:{SERVICE}:return_help")
        assert organisation in consent[0].params["text"]
        await chat.press("ref:yes")
        await chat.say("Awa <script>")
        await chat.say("76 12 34 56")
        await chat.press("ref:here")
        await chat.say("Rentree de Libye & sans travail")
        sent = await chat.press("ref:send")
        delivered = await fake.wait_for("sendMessage", chat_id=PARTNER_CHAT, count=1)
        # First "being passed on", then, once the partner's chat took it, "it arrived".
        assert (
            sent[0]
            .params["text"]
            .startswith(catalog.text("referral.sent", "fr").text.split("{")[0])
        )
        arrived = catalog.text("referral.delivered", "fr").text.split("{")[0]
        assert any(m.params["text"].startswith(arrived) for m in sent[1:])

        async with database.transaction() as session:
            user = await repo.get_user(session, channel="telegram", external_id=str(CHAT))
            assert user is not None
            referral = (await referral_repo.user_referrals(session, user_id=user.id))[0]
        assert referral.reference in sent[0].params["text"]
        inbox = delivered[0].params
        assert inbox["parse_mode"] == "HTML"
        partner_view = fake.sent_messages(PARTNER_CHAT)[0].plain_text or ""
        # User text is escaped: it shows as typed and cannot inject markup.
        assert "Awa <script>" in partner_view and "Libye & sans travail" in partner_view
        assert "&lt;script&gt;" in inbox["text"]
        assert "+22376123456" in partner_view and referral.reference in partner_view
        assert str(CHAT) not in partner_view and "Test" not in partner_view  # no Telegram id/name

        for status in ("received", "in_progress", "closed"):
            fake.push_callback(PARTNER_CHAT, f"pref:{referral.id}:{status}", user_id=STAFF)
            told = await chat.after(lambda: None)
            expected = catalog.text(f"referral.update.{status}", "fr").text.format(
                reference=referral.reference, organisation=organisation
            )
            assert told[0].params["text"] == expected
        final = fake.sent_messages(PARTNER_CHAT)[0]
        assert final.edited and not (final.reply_markup or {}).get("inline_keyboard")
        assert catalog.text("referral.status.closed", "fr").text in (final.plain_text or "")

        cases = await chat.after(lambda: fake.push_command(CHAT, "mycases"))
        assert referral.reference in cases[0].params["text"]
        assert catalog.text("referral.status.closed", "fr").text in cases[0].params["text"]

    async with database.transaction() as session:
        changes = await referral_repo.history(session, referral_id=referral.id)
    assert [(c.status_from, c.status_to) for c in changes] == [
        (None, "pending"),
        ("pending", "sent"),
        ("sent", "received"),
        ("received", "in_progress"),
        ("in_progress", "closed"),
    ]
    assert [c.actor for c in changes] == ["user", "system"] + [f"partner:{STAFF}"] * 3


async def test_only_the_services_chat_moves_its_referrals(
    fake: FakeBotApi, store: ContentStore, helper: Engine, database: Database, partners: Partners
) -> None:
    fake.add_group(PARTNER_CHAT, "IOM Mali referrals", is_forum=False)
    fake.add_group(OTHER_PARTNER, "Red Cross referrals", is_forum=False)
    async with database.transaction() as session:
        user, _ = await repo.get_or_create_user(session, channel="telegram", external_id=str(CHAT))
        mine = await new_referral(session, user.id, "KF-AAAAAA", SERVICE, "return_help")
        theirs = await new_referral(
            session, user.id, "KF-BBBBBB", "red_cross_rfl", "missing_person"
        )
    assert mine is not None and theirs is not None
    async with polling(fake, helper, store):
        desk = ReferralDesk(database, store.current, partners=partners)
        async with _bot_of(fake) as bot:
            for referral in (mine, theirs):
                assert await desk.deliver(bot, referral.id)
        # The Red Cross chat presses a button carrying IOM's referral: refused.
        fake.push_callback(
            OTHER_PARTNER, f"pref:{mine.id}:received", user_id=STAFF, check_button=False
        )
        answers = await fake.wait_for("answerCallbackQuery", count=1)
    assert answers[0].params.get("show_alert") is True
    assert answers[0].params["text"] == store.current().text("partner.not_yours", "fr").text
    async with database.transaction() as session:
        still = await referral_repo.get_referral(session, mine.id)
    assert still is not None and still.status == "sent"


async def test_a_member_of_the_partners_group_not_on_its_staff_cannot_move_a_case(
    fake: FakeBotApi,
    store: ContentStore,
    helper: Engine,
    database: Database,
    partners: Partners,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Any member of a partner chat could move a case from sent to closed; now a press
    from someone the deployment did not list is refused, and logged without their id."""
    fake.add_group(PARTNER_CHAT, "IOM Mali referrals", is_forum=False)
    intruder = 5550999
    async with database.transaction() as session:
        user, _ = await repo.get_or_create_user(session, channel="telegram", external_id=str(CHAT))
        mine = await new_referral(session, user.id, "KF-CCCCCC", SERVICE, "return_help")
    assert mine is not None
    with caplog.at_level(logging.DEBUG, logger="bot"):
        async with polling(fake, helper, store):
            desk = ReferralDesk(database, store.current, partners=partners)
            async with _bot_of(fake) as bot:
                assert await desk.deliver(bot, mine.id)
            fake.push_callback(PARTNER_CHAT, f"pref:{mine.id}:closed", user_id=intruder)
            answers = await fake.wait_for("answerCallbackQuery", count=1)
    assert answers[0].params.get("show_alert") is True
    assert answers[0].params["text"] == store.current().text("partner.not_staff", "fr").text
    async with database.transaction() as session:
        still = await referral_repo.get_referral(session, mine.id)
        changes = await referral_repo.history(session, referral_id=mine.id)
    assert still is not None and still.status == "sent"
    assert [c.actor for c in changes] == ["user", "system"]
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "not from the staff" in logged and str(intruder) not in logged


def _bot_of(fake: FakeBotApi) -> Bot:
    return Bot("123456:TEST", base_url=fake.base_url, base_file_url=fake.base_file_url)


async def test_undelivered_then_overdue_referrals_are_retried_reminded_and_flagged(
    fake: FakeBotApi, store: ContentStore, database: Database, partners: Partners
) -> None:
    fake.add_group(PARTNER_CHAT, "IOM Mali referrals", is_forum=False)
    async with database.transaction() as session:
        user, _ = await repo.get_or_create_user(session, channel="telegram", external_id=str(CHAT))
        referral = await new_referral(
            session,
            user.id,
            "KF-CCCCCC",
            SERVICE,
            "return_help",
            first_name="Awa",
            description="secret words",
        )
    assert referral is not None
    desk = ReferralDesk(
        database,
        store.current,
        admin_ids=frozenset({ADMIN}),
        ack_after=timedelta(hours=24),
        partners=partners,
    )
    bot = _bot_of(fake)
    async with bot:
        fake.fail_next("sendMessage", error_code=502, description="Bad Gateway")
        assert await desk.check(bot) == (0, 0)  # the partner chat was unreachable: kept
        assert await desk.check(bot) == (0, 0)  # the next attempt is not due yet
        soon = datetime.now(UTC) + timedelta(minutes=2)
        assert await desk.check(bot, now=soon) == (1, 0)  # delivered when it is
        assert await desk.check(bot, now=datetime.now(UTC) + timedelta(hours=23)) == (0, 0)
        later = datetime.now(UTC) + timedelta(hours=25)
        assert await desk.check(bot, now=later) == (0, 1)
        assert await desk.check(bot, now=later) == (0, 0)  # reminded once
    reminders = fake.requests_for("sendMessage", chat_id=PARTNER_CHAT)
    assert len(reminders) == 2 and "KF-CCCCCC" in reminders[1].params["text"]
    # The admins: once at the first failed delivery, once when it was overdue.
    flagged = fake.requests_for("sendMessage", chat_id=ADMIN)
    assert len(flagged) == 2 and all("KF-CCCCCC" in m.params["text"] for m in flagged)
    for message in flagged:
        assert "secret" not in message.params["text"] and "Awa" not in message.params["text"]


AGENTS = -1001000000001
AGENT = 91


async def test_asking_for_a_person_opens_the_relay_in_the_agents_forum(
    fake: FakeBotApi, store: ContentStore, database: Database
) -> None:
    """The whole path in the real application: ask_human, consent, relay both ways, /end."""
    catalog = store.current()
    fake.add_group(AGENTS, "Agents", is_forum=True)
    engine = Engine(
        database=database,
        content=store.current,
        nlu=NluService(
            StubParser({"n b'a fɛ ka kuma mɔgɔ fɛ": ("ask_human", 0.95)}), store.matcher
        ),
        thresholds=Thresholds(),
        handover=True,
    )
    chat = Chat(fake)
    async with polling(
        fake, engine, store, AGENTS_CHAT_ID=str(AGENTS), AGENTS_STAFF_IDS=str(AGENT)
    ):
        await chat.after(lambda: fake.push_command(CHAT, "start"))
        await chat.press("lang:bm")
        await chat.press("consent:yes")
        await chat.press("sub:no")
        await chat.say("n b'a fɛ ka kuma mɔgɔ fɛ")
        offer = await chat.press("where:skip")
        assert offer[-1].params["text"] == catalog.text("handover.confirm", "bm").text
        opened = await chat.press("human:yes")
        assert opened[-1].params["text"] == catalog.text("handover.opened", "bm").text
        [topic] = fake.forum_topics(AGENTS)
        assert "bm" in topic.name and str(CHAT) not in topic.name and "Test" not in topic.name

        fake.push_text(CHAT, "n bɛ Kayi, n b'a fɛ ka kuma mɔgɔ fɛ")
        copies = await fake.wait_for("copyMessage", count=1)
        assert copies[0].params["chat_id"] == AGENTS
        assert copies[0].params["message_thread_id"] == topic.message_thread_id

        fake.push_group_message(
            AGENTS, "I ni ce, n bɛ yan.", user_id=AGENT, message_thread_id=topic.message_thread_id
        )
        back = await fake.wait_for("copyMessage", count=2)
        assert back[1].params["chat_id"] == CHAT

        closed = await chat.after(lambda: fake.push_command(CHAT, "end"))
        assert closed[-1].params["text"] == catalog.text("handover.closed", "bm").text
        # The bot is back: the menu answers again.
        menu = await chat.after(lambda: fake.push_command(CHAT, "menu"))
        assert menu[-1].params["text"] == catalog.text("menu.title", "bm").text


def test_partner_payloads_round_trip_and_strangers_are_refused() -> None:
    assert partner_payload(12, "received") == "pref:12:received"
    assert parse_partner_payload(partner_payload(12, "in_progress")) == (12, "in_progress")
    for stranger in (
        "pref",
        "pref:12",
        "pref:x:received",
        "pref:1:2:3",
        "pref:-1:closed",
        "ref:1:closed",
    ):
        assert parse_partner_payload(stranger) is None


async def test_forgetting_withdraws_the_referral_and_wipes_the_partners_card(
    fake: FakeBotApi, store: ContentStore, helper: Engine, database: Database
) -> None:
    """/forget in the user's chat: confirmed, everything goes; the partner's card is drawn
    again without the name, phone and words, and a note in reply says the person withdrew."""
    catalog = store.current()
    fake.add_group(PARTNER_CHAT, "IOM Mali referrals", is_forum=False)
    chat = Chat(fake)
    async with polling(fake, helper, store):
        await chat.after(lambda: fake.push_command(CHAT, "start"))
        await chat.press("lang:bm")
        await chat.press("consent:yes")
        await chat.press("sub:no")
        await chat.press("intent:return_help")
        await chat.press("where:ml")
        await chat.press("where:r:kayes")
        await chat.press(f"refer:{SERVICE}:return_help")
        await chat.press("ref:yes")
        await chat.say("Kadiatou")
        await chat.say("76 12 34 56")
        await chat.press("ref:here")
        await chat.say("N cɛ bɛ n gosi")
        await chat.press("ref:send")
        await fake.wait_for("sendMessage", chat_id=PARTNER_CHAT, count=1)
        async with database.transaction() as session:
            user = await repo.get_user(session, channel="telegram", external_id=str(CHAT))
            assert user is not None
            reference = (await referral_repo.user_referrals(session, user_id=user.id))[0].reference
        assert "Kadiatou" in (fake.sent_messages(PARTNER_CHAT)[0].plain_text or "")

        asked = await chat.after(lambda: fake.push_command(CHAT, "forget"))
        assert asked[0].params["text"] == catalog.text("forget.explain", "bm").text
        kept = await chat.press("forget:no")
        assert kept[0].params["text"] == catalog.text("forget.kept", "bm").text
        await chat.after(lambda: fake.push_command(CHAT, "forget"))
        done = await chat.press("forget:yes")
        assert done[0].params["text"] == catalog.text("forget.done", "bm").text
        notes = await fake.wait_for("sendMessage", chat_id=PARTNER_CHAT, count=2)

    card = fake.sent_messages(PARTNER_CHAT)[0]
    shown = card.plain_text or ""
    assert card.edited and not (card.reply_markup or {}).get("inline_keyboard")
    for gone in ("Kadiatou", "+22376123456", "gosi"):
        assert gone not in shown
    assert catalog.text("referral.status.withdrawn", "fr").text in shown
    note = notes[1].params
    async with database.transaction() as session:
        assert await repo.get_user(session, channel="telegram", external_id=str(CHAT)) is None
        referral = await referral_repo.by_reference(session, reference)
    assert referral is not None and referral.status == "withdrawn" and referral.user_id is None
    expected = catalog.text("partner.withdrawn", "fr").text.format(reference=referral.reference)
    assert note["text"] == expected
    assert note["reply_parameters"]["message_id"] == card.message_id


async def test_a_minors_referral_card_says_so_first_and_an_adults_does_not(
    store: ContentStore, database: Database
) -> None:
    catalog = store.current()
    service = catalog.services[SERVICE]
    async with database.transaction() as session:
        user, _ = await repo.get_or_create_user(session, channel="telegram", external_id="55")
        adult = await new_referral(session, user.id, "KF-ADULT1", SERVICE, "return_help")
        minor = await referral_repo.create_referral(
            session,
            reference="KF-MINOR1",
            user_id=user.id,
            service_id=SERVICE,
            need="psychosocial",
            status="sent",
            language="fr",
            first_name="Awa",
            phone=None,
            location=None,
            description=None,
            minor=True,
        )
    assert minor is not None and minor.minor and not adult.minor
    flag = catalog.text("partner.minor", catalog.default_language).text
    flag = flag.format(low=15, high=17)
    body, _ = partner_card(catalog, minor, service)
    assert body.splitlines()[0] == html.escape(flag, quote=False)
    assert "KF-MINOR1" in body and "Awa" in body
    body, _ = partner_card(catalog, adult, service)
    assert flag not in body and "🧒" not in body


def test_every_language_of_the_partner_card_has_the_minor_line(store: ContentStore) -> None:
    catalog = store.current()
    card_languages = [c for c in catalog.languages if "partner.referral" in catalog.messages[c]]
    assert catalog.default_language in card_languages and len(card_languages) >= 2
    for code in card_languages:
        assert "partner.minor" in catalog.messages[code], code
        assert "{low}" in catalog.messages[code]["partner.minor"].text, code


async def test_an_undeliverable_referral_can_be_handed_to_the_teams_relay(
    fake: FakeBotApi, store: ContentStore, database: Database, helper: Engine
) -> None:
    """No partner could receive it: an admin's `/reroute <reference> relay` opens the relay
    for its person, the agents told why (no personal data), and the referral is closed."""
    catalog = store.current()
    fake.add_group(AGENTS, "Agents", is_forum=True)
    async with database.transaction() as session:
        user, _ = await repo.get_or_create_user(session, channel="telegram", external_id=str(CHAT))
        await repo.update_user(session, user_id=user.id, language="fr")
        stuck = await new_referral(
            session, user.id, "KF-DDDDDD", SERVICE, "return_help", first_name="Awa"
        )
        assert stuck is not None
        assert await referral_repo.set_status(
            session,
            referral_id=stuck.id,
            status_from="pending",
            status_to="undeliverable",
            actor="system",
        )
    helper.handover = True
    async with polling(
        fake,
        helper,
        store,
        ADMIN_TELEGRAM_IDS=str(ADMIN),
        AGENTS_CHAT_ID=str(AGENTS),
        AGENTS_STAFF_IDS=str(AGENT),
    ):
        fake.push_command(ADMIN, "reroute", "KF-DDDDDD relay", user_id=ADMIN)
        done = await fake.wait_for("sendMessage", chat_id=ADMIN, count=1)
        told = await fake.wait_for("sendMessage", chat_id=CHAT, count=1)
    assert done[0].params["text"] == catalog.text("admin.reroute_relay_done", "fr").text.format(
        reference="KF-DDDDDD"
    )
    assert told[0].params["text"] == catalog.text("handover.opened", "fr").text
    header = fake.sent_messages(AGENTS)[0].plain_text or ""
    assert "KF-DDDDDD" in header and "Awa" not in header and str(CHAT) not in header
    async with database.transaction() as session:
        closed = await referral_repo.get_referral(session, stuck.id)
        changes = await referral_repo.history(session, referral_id=stuck.id)
    assert closed is not None and closed.status == "closed"
    assert changes[-1].actor == "reroute:relay"
