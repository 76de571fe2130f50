"""A partner works one case from both places: the console and the Telegram buttons, against
the fake Bot API. A move in the console shows on the partner chat's card and is told to the
person in their language; a press on the card shows in the console."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.routing import Mount
from telegram import Bot

from bot.content.store import ContentStore
from bot.dialogue.decision import Thresholds
from bot.dialogue.engine import Engine
from bot.nlu.service import NluService
from bot.partners import Partners, load_partners
from bot.referrals.policy import ReferralPolicy
from bot.store import accounts as account_store
from bot.store import referrals as referral_repo
from bot.store import repositories as repo
from bot.store.db import Database
from bot.telegram.referrals import ReferralDesk, TelegramNotifier
from bot.web.console.app import PREFIX, build_console
from bot.web.console.cases import CaseDesk, case_routes
from tests.fakes.bot_api import FakeBotApi
from tests.support.nlu import StubParser
from tests.support.referrals import PARTNER_CHAT, SERVICE, STAFF, enable_referrals, partners_file
from tests.support.telegram import CHAT, polling
from tests.web.console_support import HASH, client, sign_in, token_in

REFERENCE = "KF-BOTH42"
CASE_URL = f"{PREFIX}/services/{SERVICE}/cases/{REFERENCE}"


@pytest.fixture
def store(content_copy: Path) -> ContentStore:
    enable_referrals(content_copy)
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


def bot_of(fake: FakeBotApi) -> Bot:
    return Bot("123456:TEST", base_url=fake.base_url, base_file_url=fake.base_file_url)


def console(database: Database, store: ContentStore, partners: Partners, bot: Bot) -> Starlette:
    """The console as `kunnafoni run` mounts it: its moves told through the bot."""
    desk = CaseDesk(
        ReferralPolicy(database, store.current, partners=partners),
        TelegramNotifier(bot, store.current),
    )
    app = build_console(
        database,
        secret="s" * 40,
        secure=False,
        catalog=store.current,
        routes=case_routes(),
        cases=desk,
    )
    return Starlette(routes=[Mount(PREFIX, app=app)])


async def seeded_case(database: Database) -> referral_repo.ReferralRecord:
    """A person writing in Bambara, their referral to the partner, and a partner account."""
    async with database.transaction() as session:
        user, _ = await repo.get_or_create_user(session, channel="telegram", external_id=str(CHAT))
        await repo.update_user(session, user_id=user.id, language="bm")
        stored = await referral_repo.create_referral(
            session,
            reference=REFERENCE,
            user_id=user.id,
            service_id=SERVICE,
            need="return_help",
            status="pending",
            language="bm",
            first_name="Awa",
            phone="+22376000000",
            location=None,
            description="words",
        )
        await account_store.create_account(
            session, name="iom_staff", role="partner", password_hash=HASH, services=(SERVICE,)
        )
    assert stored is not None
    return stored


async def test_a_console_move_redraws_the_card_and_tells_the_person_in_their_language(
    fake: FakeBotApi, store: ContentStore, database: Database, partners: Partners
) -> None:
    fake.add_group(PARTNER_CHAT, "IOM Mali referrals", is_forum=False)
    referral = await seeded_case(database)
    catalog = store.current()
    async with bot_of(fake) as bot:
        desk = ReferralDesk(database, store.current, partners=partners)
        assert await desk.deliver(bot, referral.id)
        told_before = len(fake.requests_for("sendMessage", chat_id=CHAT))
        async with client(console(database, store, partners, bot)) as c:
            await sign_in(c, "iom_staff")
            token = token_in((await c.get(CASE_URL)).text)
            moved = await c.post(f"{CASE_URL}/status", data={"csrf": token, "status": "received"})
    assert moved.status_code == 303 and moved.headers["location"].endswith("?done=status")
    card = fake.sent_messages(PARTNER_CHAT)[0]
    assert card.edited
    assert catalog.text("referral.status.received", "fr").text in (card.plain_text or "")
    keyboard = (card.reply_markup or {})["inline_keyboard"]
    buttons = [b["callback_data"] for row in keyboard for b in row]
    assert buttons == [f"pref:{referral.id}:in_progress", f"pref:{referral.id}:closed"]
    told = fake.requests_for("sendMessage", chat_id=CHAT)[told_before:]
    organisation = catalog.services[SERVICE].organisation
    expected = catalog.text("referral.update.received", "bm").text.format(
        reference=REFERENCE, organisation=organisation
    )
    assert [m.params["text"] for m in told] == [expected]


async def test_a_press_on_the_telegram_card_shows_in_the_console(
    fake: FakeBotApi,
    store: ContentStore,
    database: Database,
    partners: Partners,
    helper: Engine,
) -> None:
    fake.add_group(PARTNER_CHAT, "IOM Mali referrals", is_forum=False)
    referral = await seeded_case(database)
    async with polling(fake, helper, store):
        async with bot_of(fake) as bot:
            desk = ReferralDesk(database, store.current, partners=partners)
            assert await desk.deliver(bot, referral.id)
            fake.push_callback(PARTNER_CHAT, f"pref:{referral.id}:in_progress", user_id=STAFF)
            await fake.wait_for("answerCallbackQuery", count=1)
            await fake.wait_for("sendMessage", chat_id=CHAT, count=2)
            async with client(console(database, store, partners, bot)) as c:
                await sign_in(c, "iom_staff")
                page = await c.get(CASE_URL)
                listing = await c.get(f"{PREFIX}/cases?status=in_progress")
                token = token_in(page.text)
                # The console offers only what follows, as the card does: a step back fails.
                back = await c.post(
                    f"{CASE_URL}/status", data={"csrf": token, "status": "received"}
                )
    assert 'id="case-status">en cours<' in page.text
    assert 'data-move="closed"' in page.text and 'data-move="received"' not in page.text
    assert "partenaire (Telegram)" in page.text
    assert REFERENCE in listing.text
    assert back.headers["location"].endswith("?error=status")
    async with database.reading() as session:
        changes = await referral_repo.history(session, referral_id=referral.id)
    assert [c.actor for c in changes] == ["user", "system", f"partner:{STAFF}"]
