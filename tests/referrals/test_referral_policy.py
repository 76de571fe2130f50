"""The referral policy on its own: statuses, delivery, partners' moves, reminders.

No Telegram here: the policy speaks to an in-memory notifier that records what it was
asked to send and can be told to fail, so each rule is checked where it is decided.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.content.models import Service
from bot.content.store import ContentStore
from bot.partners import load_partners
from bot.referrals import STATUSES, ReferralStatus, can_move, intake, new_reference, next_statuses
from bot.referrals.notifier import Notifier, NotSent
from bot.referrals.policy import ReferralPolicy
from bot.store import referrals as referral_repo
from bot.store import repositories as repo
from bot.store.db import Database
from bot.store.referrals import ReferralRecord
from tests.support.referrals import PARTNER_CHAT, SERVICE, enable_referrals, partners_file

OTHER_CHAT = -1009876543
PARTNER = 81
USER_CHAT = "5551234"


@dataclass
class InMemoryNotifier:
    """Records what the policy sends; fails the operations named in ``failing``."""

    channel: str = "telegram"
    failing: set[str] = field(default_factory=set)
    cards: list[tuple[int, str, int]] = field(default_factory=list)
    reminders: list[tuple[str, str]] = field(default_factory=list)
    escalations: list[tuple[str, str]] = field(default_factory=list)
    told: list[tuple[str, str]] = field(default_factory=list)
    redrawn: list[tuple[str, str, str | None]] = field(default_factory=list)
    _message_id: int = 100

    def _maybe_fail(self, operation: str) -> None:
        if operation in self.failing:
            raise NotSent(f"{operation} refused")

    async def deliver_card(
        self, referral: ReferralRecord, service: Service, *, chat_id: int
    ) -> int:
        self._maybe_fail("deliver_card")
        self._message_id += 1
        self.cards.append((chat_id, referral.reference, self._message_id))
        return self._message_id

    async def redraw_card(self, referral: ReferralRecord, service: Service) -> None:
        self._maybe_fail("redraw_card")
        self.redrawn.append((referral.reference, referral.status, referral.first_name))

    async def remind(self, referral: ReferralRecord, text: str) -> None:
        self._maybe_fail("remind")
        self.reminders.append((referral.reference, text))

    async def escalate(self, referral: ReferralRecord, text: str) -> None:
        self.escalations.append((referral.reference, text))

    async def tell_user(self, address: str, text: str) -> None:
        self._maybe_fail("tell_user")
        self.told.append((address, text))


def _is_a_notifier(notifier: InMemoryNotifier) -> Notifier:
    """Type-checked: the in-memory notifier keeps to the protocol the channels implement."""
    return notifier


@pytest.fixture
def store(content_copy: Path) -> ContentStore:
    enable_referrals(content_copy)
    enable_referrals(content_copy, "red_cross_rfl", OTHER_CHAT)
    return ContentStore(content_copy)


@pytest.fixture
def policy(store: ContentStore, database: Database, content_copy: Path) -> ReferralPolicy:
    partners = load_partners(partners_file(content_copy))
    return ReferralPolicy(database, store.current, ack_after=timedelta(hours=24), partners=partners)


@pytest.fixture
def notifier() -> InMemoryNotifier:
    return InMemoryNotifier()


async def new_referral(
    database: Database,
    reference: str = "KF-AAAAAA",
    service_id: str = SERVICE,
    *,
    channel: str = "telegram",
) -> ReferralRecord:
    """A referral as the engine stores it after "send", with sensitive fields filled."""
    async with database.transaction() as session:
        user, _ = await repo.get_or_create_user(session, channel=channel, external_id=USER_CHAT)
        stored = await referral_repo.create_referral(
            session,
            reference=reference,
            user_id=user.id,
            service_id=service_id,
            need="return_help",
            status="pending",
            language="fr",
            first_name="Awa",
            phone="+22376123456",
            location=None,
            description="secret words",
        )
    assert stored is not None
    return stored


async def reload(database: Database, referral: ReferralRecord) -> ReferralRecord:
    async with database.transaction() as session:
        current = await referral_repo.get_referral(session, referral.id)
    assert current is not None
    return current


# -- statuses ---------------------------------------------------------------------------------


def test_statuses_move_forward_only_and_may_skip() -> None:
    assert STATUSES == ("sent", "received", "in_progress", "closed")
    assert [str(status) for status in ReferralStatus] == [
        "pending",
        *STATUSES,
        "undeliverable",
        "withdrawn",
    ]
    # Before delivery and after it failed, only the bot moves a referral: no partner.
    assert next_statuses("pending") == () and next_statuses("undeliverable") == ()
    assert not can_move("pending", "sent") and not can_move("undeliverable", "closed")
    assert next_statuses("sent") == ("received", "in_progress", "closed")
    assert next_statuses("in_progress") == ("closed",)
    assert next_statuses("closed") == ()
    # Withdrawn by the person (their data erased): no partner may move it any more.
    assert next_statuses("withdrawn") == ()
    assert not any(can_move("withdrawn", status) for status in STATUSES)
    assert next_statuses("lost") == ()
    assert can_move("sent", "closed") and can_move(ReferralStatus.RECEIVED, "in_progress")
    assert not can_move("received", "sent") and not can_move("sent", "sent")
    assert not can_move("sent", "lost") and not can_move("lost", "closed")


# -- delivering -------------------------------------------------------------------------------


async def test_a_referral_is_delivered_once_to_its_services_chat(
    policy: ReferralPolicy, notifier: InMemoryNotifier, database: Database, store: ContentStore
) -> None:
    referral = await new_referral(database)
    assert referral.status == "pending"  # not sent until the partner chat accepted it
    assert await policy.deliver(_is_a_notifier(notifier), referral.id)
    assert notifier.cards == [(PARTNER_CHAT, "KF-AAAAAA", 101)]
    stored = await reload(database, referral)
    assert (stored.partner_chat_id, stored.partner_message_id) == (PARTNER_CHAT, 101)
    assert stored.status == "sent"
    # The person is told it arrived, only now.
    catalog = store.current()
    arrived = catalog.text("referral.delivered", "fr").text.format(
        reference="KF-AAAAAA", organisation=catalog.services[SERVICE].organisation
    )
    assert notifier.told == [(USER_CHAT, arrived)]
    # Delivered already: nothing is posted again, and that counts as delivered.
    assert await policy.deliver(notifier, referral.id)
    assert len(notifier.cards) == 1
    assert not await policy.deliver(notifier, referral.id + 1000)  # no such referral


async def test_a_failed_delivery_is_kept_and_retried_at_the_next_check(
    policy: ReferralPolicy,
    notifier: InMemoryNotifier,
    database: Database,
    caplog: pytest.LogCaptureFixture,
) -> None:
    referral = await new_referral(database)
    notifier.failing.add("deliver_card")
    with caplog.at_level(logging.DEBUG, logger="bot"):
        assert not await policy.deliver(notifier, referral.id)
        assert await policy.check(notifier) == (0, 0)  # the next attempt is not due yet
    stored = await reload(database, referral)
    assert stored.partner_message_id is None and stored.status == "pending"
    assert stored.delivery_attempts == 1 and stored.next_attempt_at is not None
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "KF-AAAAAA not delivered" in logged
    assert "Awa" not in logged and "secret" not in logged and "+223" not in logged
    # The admins hear of it at the first failure; the person is not told it arrived.
    [(flagged, _text)] = notifier.escalations
    assert flagged == "KF-AAAAAA" and notifier.told == []
    notifier.failing.clear()
    later = datetime.now(UTC) + timedelta(minutes=2)
    assert await policy.check(notifier, now=later) == (1, 0)
    assert await policy.check(notifier, now=later) == (0, 0)
    assert [card[1] for card in notifier.cards] == ["KF-AAAAAA"]
    assert (await reload(database, referral)).status == "sent"


async def test_a_service_without_a_partner_chat_keeps_its_referral(
    content_copy: Path, database: Database, notifier: InMemoryNotifier
) -> None:
    # "red_cross_rfl" has no partner chat in the shipped content.
    policy = ReferralPolicy(database, ContentStore(content_copy).current)
    referral = await new_referral(database, service_id="red_cross_rfl")
    assert not await policy.deliver(notifier, referral.id)
    assert notifier.cards == []
    assert (await reload(database, referral)).partner_message_id is None


async def test_a_closed_referral_is_not_delivered_any_more(
    policy: ReferralPolicy, notifier: InMemoryNotifier, database: Database
) -> None:
    referral = await new_referral(database)
    async with database.transaction() as session:
        assert await referral_repo.set_status(
            session,
            referral_id=referral.id,
            status_from="pending",
            status_to="closed",
            actor="test",
        )
    assert await policy.check(notifier) == (0, 0)
    assert notifier.cards == []


# -- partners' moves --------------------------------------------------------------------------


async def delivered(
    policy: ReferralPolicy,
    database: Database,
    reference: str = "KF-AAAAAA",
    service_id: str = SERVICE,
    *,
    channel: str = "telegram",
) -> ReferralRecord:
    referral = await new_referral(database, reference, service_id, channel=channel)
    assert await policy.deliver(InMemoryNotifier(), referral.id)
    return await reload(database, referral)


async def test_only_the_chat_it_was_delivered_to_moves_a_referral(
    policy: ReferralPolicy, database: Database
) -> None:
    referral = await delivered(policy, database)
    refused = await policy.move(
        referral_id=referral.id, status_to="received", chat_id=OTHER_CHAT, partner=PARTNER
    )
    assert refused is None
    unknown = await policy.move(
        referral_id=referral.id + 1000, status_to="received", chat_id=PARTNER_CHAT, partner=PARTNER
    )
    assert unknown is None
    assert (await reload(database, referral)).status == "sent"


async def test_a_move_goes_forward_is_stored_with_its_actor_and_told_to_the_user(
    policy: ReferralPolicy, notifier: InMemoryNotifier, database: Database, store: ContentStore
) -> None:
    referral = await delivered(policy, database)
    move = await policy.move(
        referral_id=referral.id, status_to="in_progress", chat_id=PARTNER_CHAT, partner=PARTNER
    )
    assert move is not None and move.moved
    assert (move.before.status, move.after.status) == ("sent", "in_progress")
    assert move.address == ("telegram", USER_CHAT)
    await policy.announce(notifier, move)
    catalog = store.current()
    expected = catalog.text("referral.update.in_progress", "fr").text.format(
        reference="KF-AAAAAA", organisation=catalog.services[SERVICE].organisation
    )
    assert notifier.told == [(USER_CHAT, expected)]

    back = await policy.move(
        referral_id=referral.id, status_to="received", chat_id=PARTNER_CHAT, partner=PARTNER
    )
    assert back is not None and not back.moved and back.after.status == "in_progress"
    await policy.announce(notifier, back)
    assert len(notifier.told) == 1  # nothing moved, nobody told
    async with database.transaction() as session:
        changes = await referral_repo.history(session, referral_id=referral.id)
    assert [(c.status_from, c.status_to, c.actor) for c in changes] == [
        (None, "pending", "user"),
        ("pending", "sent", "system"),
        ("sent", "in_progress", f"partner:{PARTNER}"),
    ]


async def test_a_user_on_another_channel_or_unreachable_is_not_told(
    policy: ReferralPolicy, notifier: InMemoryNotifier, database: Database
) -> None:
    elsewhere = await delivered(policy, database, channel="console")
    move = await policy.move(
        referral_id=elsewhere.id, status_to="received", chat_id=PARTNER_CHAT, partner=PARTNER
    )
    assert move is not None and move.moved
    await policy.announce(notifier, move)
    assert notifier.told == []

    here = await delivered(policy, database, "KF-BBBBBB")
    move = await policy.move(
        referral_id=here.id, status_to="received", chat_id=PARTNER_CHAT, partner=PARTNER
    )
    assert move is not None
    notifier.failing.add("tell_user")
    await policy.announce(notifier, move)  # logged, not raised: the move stands
    assert (await reload(database, here)).status == "received"


# -- reminders --------------------------------------------------------------------------------


async def test_an_unacknowledged_referral_is_reminded_and_escalated_once(
    policy: ReferralPolicy, notifier: InMemoryNotifier, database: Database, store: ContentStore
) -> None:
    await delivered(policy, database)
    soon = datetime.now(UTC) + timedelta(hours=23)
    assert await policy.check(notifier, now=soon) == (0, 0)
    later = datetime.now(UTC) + timedelta(hours=25)
    assert await policy.check(notifier, now=later) == (0, 1)
    assert await policy.check(notifier, now=later) == (0, 0)
    [(reference, reminder)] = notifier.reminders
    # In the default language, with the reference, the service and the delay.
    catalog = store.current()
    fields = {
        "reference": "KF-AAAAAA",
        "organisation": catalog.services[SERVICE].organisation,
        "hours": "24",
    }
    assert reference == "KF-AAAAAA"
    assert reminder == catalog.text("partner.reminder", None).text.format(**fields)
    [(flagged, flag)] = notifier.escalations
    assert flagged == "KF-AAAAAA"
    assert flag == catalog.text("admin.referral_overdue", None).text.format(**fields)
    assert "Awa" not in flag and "secret" not in flag


async def test_an_acknowledged_referral_is_not_reminded(
    policy: ReferralPolicy, notifier: InMemoryNotifier, database: Database
) -> None:
    referral = await delivered(policy, database)
    move = await policy.move(
        referral_id=referral.id, status_to="received", chat_id=PARTNER_CHAT, partner=PARTNER
    )
    assert move is not None and move.moved
    later = datetime.now(UTC) + timedelta(hours=25)
    assert await policy.check(notifier, now=later) == (0, 0)
    assert notifier.reminders == [] and notifier.escalations == []


async def test_a_failed_reminder_is_still_escalated_and_not_repeated(
    policy: ReferralPolicy, notifier: InMemoryNotifier, database: Database
) -> None:
    await delivered(policy, database)
    notifier.failing.add("remind")
    later = datetime.now(UTC) + timedelta(hours=25)
    assert await policy.check(notifier, now=later) == (0, 1)
    assert notifier.reminders == [] and len(notifier.escalations) == 1
    notifier.failing.clear()
    assert await policy.check(notifier, now=later) == (0, 0)


async def test_an_undelivered_referral_is_flagged_without_a_partner_message(
    policy: ReferralPolicy, notifier: InMemoryNotifier, database: Database, store: ContentStore
) -> None:
    """The overdue check once needed a partner message: a referral never delivered was
    never reminded nor flagged. Now the admins hear of it (the partner has no card)."""
    await new_referral(database)
    notifier.failing.add("deliver_card")
    later = datetime.now(UTC) + timedelta(hours=25)
    assert await policy.check(notifier, now=later) == (0, 1)
    assert notifier.reminders == []
    catalog = store.current()
    overdue = catalog.text("admin.referral_overdue", None).text.split("{")[0]
    assert [text for _ref, text in notifier.escalations if text.startswith(overdue)]
    assert await policy.check(notifier, now=later) == (0, 0)  # once


async def test_retries_back_off_then_the_referral_is_undeliverable_and_rerouted(
    policy: ReferralPolicy, notifier: InMemoryNotifier, database: Database, store: ContentStore
) -> None:
    referral = await new_referral(database)
    notifier.failing.add("deliver_card")
    now = datetime.now(UTC)
    assert not await policy.deliver(notifier, referral.id, now=now)
    waits = []
    for _ in range(len(policy.retry_after)):
        stored = await reload(database, referral)
        assert stored.status == "pending" and stored.next_attempt_at is not None
        waits.append(stored.next_attempt_at - now)
        now = stored.next_attempt_at
        assert await policy.check(notifier, now=now - timedelta(seconds=1)) == (0, 0)
        await policy.check(notifier, now=now)
    assert waits == list(policy.retry_after)  # growing waits, each one respected
    dead = await reload(database, referral)
    assert dead.status == "undeliverable" and dead.delivery_attempts == len(waits) + 1
    catalog = store.current()
    texts = [text for _ref, text in notifier.escalations]
    assert len(texts) == 2  # the first failure, and the last: not one per retry
    assert "/reroute KF-AAAAAA" in texts[1]
    assert notifier.told[-1][1].startswith(
        catalog.text("referral.undeliverable", "fr").text.split("{")[0]
    )
    assert await policy.waiting_for_admins() == [dead]
    # An admin re-routes it to a service whose chat works: delivered at once.
    notifier.failing.clear()
    assert await policy.reroute(notifier, "KF-AAAAAA", "nowhere", admin=1) is None
    moved = await policy.reroute(notifier, "KF-AAAAAA", "red_cross_rfl", admin=1)
    assert moved is not None and moved.status == "sent" and moved.service_id == "red_cross_rfl"
    assert notifier.cards[-1][0] == OTHER_CHAT
    async with database.transaction() as session:
        changes = await referral_repo.history(session, referral_id=referral.id)
    assert [(c.status_from, c.status_to) for c in changes][-3:] == [
        ("pending", "undeliverable"),
        ("undeliverable", "pending"),
        ("pending", "sent"),
    ]


async def test_a_sent_case_its_partner_never_acknowledged_is_rerouted_an_acknowledged_one_not(
    policy: ReferralPolicy, notifier: InMemoryNotifier, database: Database
) -> None:
    silent = await delivered(policy, database, "KF-SILENT")
    answered = await delivered(policy, database, "KF-ANSWER")
    move = await policy.move(
        referral_id=answered.id, status_to="received", chat_id=PARTNER_CHAT, partner=PARTNER
    )
    assert move is not None and move.moved
    assert await policy.reroute(notifier, "KF-ANSWER", "red_cross_rfl", admin="ada") is None
    assert await policy.reroute(notifier, "KF-SILENT", SERVICE, admin="ada") is None  # same
    moved = await policy.reroute(notifier, "KF-SILENT", "red_cross_rfl", admin="ada")
    assert moved is not None and moved.status == "sent" and moved.partner_chat_id == OTHER_CHAT
    # The first partner's card is stale: its buttons no longer move the case.
    late = await policy.move(
        referral_id=silent.id, status_to="received", chat_id=PARTNER_CHAT, partner=PARTNER
    )
    assert late is None


async def test_a_console_move_follows_the_same_rule_within_the_accounts_services(
    policy: ReferralPolicy, notifier: InMemoryNotifier, database: Database
) -> None:
    referral = await delivered(policy, database)
    other = await policy.move_from_console(
        referral_id=referral.id, status_to="received", services=("red_cross_rfl",), account="x"
    )
    assert other is None
    moved = await policy.move_from_console(
        referral_id=referral.id, status_to="in_progress", services=(SERVICE,), account="paula"
    )
    assert moved is not None and moved.moved and moved.after.status == "in_progress"
    back = await policy.move_from_console(
        referral_id=referral.id, status_to="received", services=(SERVICE,), account="paula"
    )
    assert back is not None and not back.moved
    # The partner chat's card follows: a press there may only go on from in_progress.
    pressed = await policy.move(
        referral_id=referral.id, status_to="received", chat_id=PARTNER_CHAT, partner=PARTNER
    )
    assert pressed is not None and not pressed.moved
    await policy.redraw(notifier, moved)
    assert notifier.redrawn == [("KF-AAAAAA", "in_progress", "Awa")]
    async with database.transaction() as session:
        changes = await referral_repo.history(session, referral_id=referral.id)
    assert changes[-1].actor == "console:paula"


async def test_sixty_dead_referrals_do_not_hold_up_a_good_one(
    policy: ReferralPolicy, notifier: InMemoryNotifier, database: Database
) -> None:
    """Retries once took the oldest 50 for ever: 50 dead referrals starved every other."""
    dead = [await new_referral(database, f"KF-DEAD{n:02d}") for n in range(60)]
    notifier.failing.add("deliver_card")
    now = datetime.now(UTC)
    for referral in dead:
        assert not await policy.deliver(notifier, referral.id, now=now)
    notifier.failing.clear()
    good = await new_referral(database, "KF-GOOD01", "red_cross_rfl")
    # The good one was never tried: it comes first, before any dead one is due again.
    assert await policy.check(notifier, now=now + timedelta(seconds=1)) == (1, 0)
    assert notifier.cards == [(OTHER_CHAT, "KF-GOOD01", 101)]
    assert (await reload(database, good)).status == "sent"


# -- intake -----------------------------------------------------------------------------------


async def test_a_new_referral_is_sent_by_its_user_under_a_fresh_reference(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken = await new_referral(database, "KF-TAKEN2")
    drawn = iter(["KF-TAKEN2", "KF-TAKEN2", "KF-FRESH3"])
    monkeypatch.setattr(intake, "new_reference", lambda: next(drawn))
    async with database.transaction() as session:
        opened = await intake.open_referral(
            session,
            user_id=taken.user_id,
            service_id=SERVICE,
            need="return_help",
            language="bm",
            first_name=None,
            phone=None,
            location="kayes",
            description=None,
        )
        changes = await referral_repo.history(session, referral_id=opened.id)
    assert (opened.reference, opened.status, opened.language) == ("KF-FRESH3", "pending", "bm")
    assert type(opened.status) is str
    assert [(c.status_from, c.status_to, c.actor) for c in changes] == [(None, "pending", "user")]


async def test_endless_reference_collisions_are_a_bug_not_a_loop(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken = await new_referral(database, "KF-TAKEN2")
    drawn: list[str] = []

    def same() -> str:
        drawn.append("KF-TAKEN2")
        return "KF-TAKEN2"

    monkeypatch.setattr(intake, "new_reference", same)
    with pytest.raises(RuntimeError):
        async with database.transaction() as session:
            await intake.open_referral(
                session,
                user_id=taken.user_id,
                service_id=SERVICE,
                need="return_help",
                language="fr",
                first_name=None,
                phone=None,
                location=None,
                description=None,
            )
    assert len(drawn) == intake.ATTEMPTS


def test_references_are_short_and_unambiguous() -> None:
    for _ in range(200):
        reference = new_reference()
        assert len(reference) == 9 and reference.startswith("KF-")
        assert not set(reference[3:]) & set("01OILUV")


async def test_only_the_listed_staff_of_the_right_chat_move_a_referral(
    policy: ReferralPolicy, database: Database
) -> None:
    """Any member of a partner group could move a case from sent to closed: now only the
    staff the deployment lists for that group."""
    referral = await delivered(policy, database)
    stranger = await policy.move(
        referral_id=referral.id, status_to="closed", chat_id=PARTNER_CHAT, partner=PARTNER + 1
    )
    assert stranger is None
    assert (await reload(database, referral)).status == "sent"
    staff = await policy.move(
        referral_id=referral.id, status_to="closed", chat_id=PARTNER_CHAT, partner=PARTNER
    )
    assert staff is not None and staff.moved
