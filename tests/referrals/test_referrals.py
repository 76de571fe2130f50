"""Help: location asked once, services matched, referrals with consent, /mycases, emergency."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.content.catalog import Catalog
from bot.content.store import ContentStore
from bot.dialogue.decision import Thresholds
from bot.dialogue.engine import Engine
from bot.dialogue.types import Inbound, Outcome, State
from bot.nlu.service import NluService
from bot.partners import Partners, load_partners
from bot.referrals import ReferralLimits, new_reference, normalise_phone
from bot.store import referrals as referral_repo
from bot.store.db import Database
from bot.store.models import Referral
from tests.support.conversation import command, onboard, payloads, press, stored_user, text
from tests.support.nlu import StubParser
from tests.support.referrals import SERVICE, enable_referrals, partners_file


@pytest.fixture
def referral_content(content_copy: Path) -> ContentStore:
    enable_referrals(content_copy)
    return ContentStore(content_copy)


@pytest.fixture
def partners(referral_content: ContentStore, content_copy: Path) -> Partners:
    return load_partners(partners_file(content_copy))


@pytest.fixture
def helper(
    referral_content: ContentStore, database: Database, stub_parser: StubParser, partners: Partners
) -> Engine:
    return Engine(
        database=database,
        content=referral_content.current,
        nlu=NluService(stub_parser, referral_content.matcher),
        thresholds=Thresholds(),
        partners=partners,
    )


async def count_referrals(database: Database) -> int:
    async with database.transaction() as session:
        return int(await session.scalar(select(func.count()).select_from(Referral)) or 0)


def texts(outcome: Outcome) -> list[str]:
    return [reply.text for reply in outcome.replies]


async def ask_for_help_in_kayes(engine: Engine, user: str = "7") -> Outcome:
    asked = await engine.handle(press(user, "intent:return_help"))
    catalog = engine.catalog()
    assert asked.replies[0].text == catalog.text("where.ask", "fr").text
    assert asked.meta.state == State.LOCATION
    regions = await engine.handle(press(user, "where:ml"))
    assert "where:r:kayes" in payloads(regions)
    return await engine.handle(press(user, "where:r:kayes"))


def test_phone_numbers_are_validated_and_normalised() -> None:
    assert normalise_phone("76 12 34 56") == "+22376123456"
    assert normalise_phone("+223 76.12.34.56") == "+22376123456"
    assert normalise_phone("0033 6 12 34 56 78") == "+33612345678"
    for bad in ("12", "1234 5678", "call me", "+0 123", "7612345678901234567"):
        assert normalise_phone(bad) is None, bad


async def test_location_is_asked_once_then_services_with_their_reasons(
    helper: Engine, database: Database
) -> None:
    await onboard(helper, "7")
    catalog = helper.catalog()
    outcome = await ask_for_help_in_kayes(helper)
    assert outcome.replies[0].text == catalog.text("intent.return_help", "fr").text
    services = outcome.meta.services
    assert 1 <= len(services) <= 3
    assert all(s["reasons"] and isinstance(s["id"], str) for s in services)
    assert len(outcome.replies) == 1 + len(services)
    assert f"refer:{SERVICE}:return_help" in payloads(outcome)
    assert outcome.as_json()["meta"]["services"] == services
    assert (await stored_user(database, "7")).region == "kayes"

    # Remembered: the next need goes straight to the services.
    again = await helper.handle(press("7", "intent:psychosocial"))
    assert again.replies[0].text == catalog.text("intent.psychosocial", "fr").text
    assert again.meta.services


async def test_without_consent_the_place_serves_once_and_is_not_kept(
    helper: Engine, database: Database
) -> None:
    await helper.handle(command("8", "start"))
    await helper.handle(press("8", "lang:fr"))
    await helper.handle(press("8", "consent:no"))
    outcome = await ask_for_help_in_kayes(helper, "8")
    assert outcome.meta.services
    user = await stored_user(database, "8")
    assert (user.region, user.country) == (None, None)


async def test_skipping_the_location_still_answers(helper: Engine) -> None:
    await onboard(helper, "9")
    await helper.handle(press("9", "intent:missing_person"))
    outcome = await helper.handle(press("9", "where:skip"))
    assert outcome.meta.services  # a national service: never a dead end


async def test_a_referral_with_consent_from_start_to_reference(
    helper: Engine, database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    catalog: Catalog = helper.catalog()
    organisation = catalog.services[SERVICE].organisation
    await onboard(helper, "7")
    await ask_for_help_in_kayes(helper)

    consent = await helper.handle(press("7", f"refer:{SERVICE}:return_help"))
    assert organisation in consent.replies[0].text
    assert payloads(consent) == ["ref:yes", "ref:no"]
    assert await count_referrals(database) == 0  # nothing stored before yes

    declined = await helper.handle(press("7", "ref:no"))
    assert declined.replies[0].text == catalog.text("referral.cancelled", "fr").text
    assert await count_referrals(database) == 0

    await helper.handle(press("7", f"refer:{SERVICE}:return_help"))
    name = await helper.handle(press("7", "ref:yes"))
    assert name.replies[0].text == catalog.text("referral.ask_name", "fr").text
    assert payloads(name) == ["ref:skip", "ref:cancel"]
    phone = await helper.handle(text("7", "  Awa\x00 "))
    assert phone.replies[0].text == catalog.text("referral.ask_phone", "fr").text
    invalid = await helper.handle(text("7", "12"))
    assert texts(invalid) == [
        catalog.text("referral.phone_invalid", "fr").text,
        catalog.text("referral.ask_phone", "fr").text,
    ]
    where = await helper.handle(text("7", "76 12 34 56"))
    assert where.replies[0].text == catalog.text("referral.ask_location", "fr").text
    assert payloads(where)[0] == "ref:here"  # Kayes, as said before
    need = await helper.handle(press("7", "ref:here"))
    assert need.replies[0].text == catalog.text("referral.ask_description", "fr").text
    summary = await helper.handle(text("7", "Je suis rentre de Libye, je cherche du travail <b>"))
    assert "Awa" in summary.replies[0].text and "+22376123456" in summary.replies[0].text
    assert "Kayes" in summary.replies[0].text
    assert payloads(summary) == ["ref:send", "ref:cancel"]

    with caplog.at_level(logging.DEBUG, logger="bot"):
        sent = await helper.handle(press("7", "ref:send"))
    assert len(sent.referrals) == 1
    async with database.transaction() as session:
        stored = await referral_repo.get_referral(session, sent.referrals[0])
        changes = await referral_repo.history(session, referral_id=sent.referrals[0])
    assert stored is not None
    assert stored.reference in sent.replies[0].text and organisation in sent.replies[0].text
    assert (stored.first_name, stored.phone, stored.location) == ("Awa", "+22376123456", "kayes")
    assert stored.description == "Je suis rentre de Libye, je cherche du travail <b>"
    # Pending until the channel delivered it to the partner's chat.
    assert (stored.status, stored.need, stored.service_id, stored.language) == (
        "pending",
        "return_help",
        SERVICE,
        "fr",
    )
    assert [(c.status_from, c.status_to, c.actor) for c in changes] == [(None, "pending", "user")]
    # Sensitive fields never reach the logs.
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert stored.reference in logged
    for secret in ("Awa", "22376123456", "travail"):
        assert secret not in logged
    assert "Awa" not in repr(stored)

    cases = await helper.handle(command("7", "mycases"))
    assert stored.reference in cases.replies[0].text
    assert catalog.text("referral.status.pending", "fr").text in cases.replies[0].text


async def test_every_step_can_be_skipped_and_the_form_cancelled(
    helper: Engine, database: Database
) -> None:
    catalog = helper.catalog()
    await onboard(helper, "7")
    await helper.handle(press("7", "intent:return_help"))
    await helper.handle(press("7", "where:skip"))
    await helper.handle(press("7", f"refer:{SERVICE}:return_help"))
    await helper.handle(press("7", "ref:yes"))
    for _ in range(4):
        outcome = await helper.handle(press("7", "ref:skip"))
    missing = catalog.text("referral.not_given", "fr").text
    assert outcome.replies[0].text.count(missing) == 4
    await helper.handle(press("7", "ref:send"))
    assert await count_referrals(database) == 1

    await helper.handle(press("7", f"refer:{SERVICE}:return_help"))
    await helper.handle(press("7", "ref:yes"))
    await helper.handle(text("7", "Moussa"))
    cancelled = await helper.handle(press("7", "ref:cancel"))
    assert cancelled.replies[0].text == catalog.text("referral.cancelled", "fr").text
    assert cancelled.meta.state == State.MENU
    assert await count_referrals(database) == 1
    # Old form buttons after the end do nothing harmful.
    stale = await helper.handle(press("7", "ref:send"))
    assert stale.replies[0].text == catalog.text("fallback.stale_button", "fr").text
    for forged in ("refer:nowhere:return_help", f"refer:{SERVICE}:risks_sea", "refer:x"):
        outcome = await helper.handle(press("7", forged))
        assert outcome.replies[0].text == catalog.text("fallback.stale_button", "fr").text


async def test_an_emergency_in_the_middle_of_the_form_comes_first(
    helper: Engine, stub_parser: StubParser
) -> None:
    catalog = helper.catalog()
    await onboard(helper, "7")
    await helper.handle(press("7", "intent:return_help"))
    await helper.handle(press("7", "where:skip"))
    await helper.handle(press("7", f"refer:{SERVICE}:return_help"))
    await helper.handle(press("7", "ref:yes"))
    stub_parser.down = True
    outcome = await helper.handle(text("7", "au secours"))
    assert outcome.replies[0].text == catalog.text("intent.emergency", "fr").text
    # ...then the form goes on: the words were taken as the answer to the step.
    assert outcome.replies[-1].text == catalog.text("referral.ask_phone", "fr").text


async def test_emergency_with_the_nlu_down_gives_contacts_then_a_person(
    helper: Engine, stub_parser: StubParser
) -> None:
    catalog = helper.catalog()
    stub_parser.down = True
    outcome = await helper.handle(Inbound(user_id="5", text="aidez moi svp"))
    assert outcome.replies[0].text == catalog.text("intent.emergency", "fr").text
    assert outcome.meta.services and all(
        "category:emergency" in s["reasons"] for s in outcome.meta.services
    )
    assert "intent:ask_human" in payloads(outcome)
    # No question about where the person is before the contacts.
    assert catalog.text("where.ask", "fr").text not in texts(outcome)


async def test_no_referral_button_where_no_partner_receives_them(engine: Engine) -> None:
    await onboard(engine, "7")
    await engine.handle(press("7", "intent:return_help"))
    outcome = await engine.handle(press("7", "where:skip"))
    assert outcome.meta.services
    assert not [p for p in payloads(outcome) if p.startswith("refer:")]
    forged = await engine.handle(press("7", f"refer:{SERVICE}:return_help"))
    assert forged.replies[0].text == engine.catalog().text("fallback.stale_button", "fr").text


async def test_mycases_without_any(engine: Engine) -> None:
    await onboard(engine, "7")
    outcome = await engine.handle(command("7", "mycases"))
    assert outcome.replies[0].text == engine.catalog().text("referral.mycases_none", "fr").text


async def test_mycases_pages_a_long_list_under_telegrams_limit(
    helper: Engine, database: Database
) -> None:
    """60 referrals once built a 7,035-character message Telegram refused: now a page of
    at most ten, the most recent first, with buttons to the older and newer ones."""
    catalog = helper.catalog()
    await onboard(helper, "7")
    await add_referrals(database, "7", ["sent"] * 60, [f"KF-{n:04d}" for n in range(60)])
    seen: list[str] = []
    outcome = await helper.handle(command("7", "mycases"))
    older = catalog.text("referral.mycases_older", "fr").text
    newer = catalog.text("referral.mycases_newer", "fr").text
    for page in range(1, 7):
        [reply] = outcome.replies
        assert len(reply.text) <= 4096
        assert f"(page {page} sur 6)" in reply.text
        lines = [line for line in reply.text.splitlines() if line.startswith("KF-")]
        assert len(lines) == 10
        seen += [line.split(" ")[0] for line in lines]
        labels = [b.label for b in reply.buttons]
        assert (newer in labels) == (page > 1) and (older in labels) == (page < 6)
        if page < 6:
            outcome = await helper.handle(press("7", f"cases:{page + 1}"))
    assert sorted(seen) == [f"KF-{n:04d}" for n in range(60)] and len(set(seen)) == 60
    back = await helper.handle(press("7", "cases:5"))
    assert "(page 5 sur 6)" in back.replies[0].text
    for forged in ("cases:7", "cases:0", "cases:-1", "cases:\u00b2"):
        stale = await helper.handle(press("7", forged))
        assert stale.replies[0].text == catalog.text("fallback.stale_button", "fr").text


async def test_a_short_list_of_cases_has_no_page_buttons(
    helper: Engine, database: Database
) -> None:
    catalog = helper.catalog()
    await onboard(helper, "7")
    await add_referrals(database, "7", ["sent"], ["KF-0001"])
    [reply] = (await helper.handle(command("7", "mycases"))).replies
    assert "KF-0001" in reply.text and "page" not in reply.text
    assert [b.payload for b in reply.buttons] == ["action:show_menu"]
    assert catalog.text("referral.mycases_older", "fr").text not in reply.text


async def add_referrals(
    database: Database, user: str, statuses: list[str], references: list[str] | None = None
) -> None:
    """Referrals of ``user`` in these statuses, stored directly (fresh references unless
    given), with no personal field."""
    record = await stored_user(database, user)
    async with database.transaction() as session:
        for n, status in enumerate(statuses):
            stored = await referral_repo.create_referral(
                session,
                reference=references[n] if references else new_reference(),
                user_id=record.id,
                service_id=SERVICE,
                need="return_help",
                status=status,
                language="fr",
                first_name=None,
                phone=None,
                location=None,
                description=None,
            )
            assert stored is not None


def limited(
    referral_content: ContentStore, database: Database, parser: StubParser, partners: Partners
) -> Engine:
    return Engine(
        database=database,
        content=referral_content.current,
        nlu=NluService(parser, referral_content.matcher),
        referral_limits=ReferralLimits(open=2, per_day=3),
        partners=partners,
    )


async def test_no_form_is_offered_above_the_open_referrals_limit(
    referral_content: ContentStore,
    database: Database,
    stub_parser: StubParser,
    partners: Partners,
) -> None:
    """60 empty referrals, each posted to the partner chat, were accepted: now a person
    with as many referrals open as allowed is told so, with the emergency button."""
    engine = limited(referral_content, database, stub_parser, partners)
    catalog = engine.catalog()
    await onboard(engine, "7")
    await add_referrals(database, "7", ["sent", "received"])
    outcome = await engine.handle(press("7", f"refer:{SERVICE}:return_help"))
    expected = catalog.text("referral.limit_open", "fr").text.replace("{limit}", "2")
    assert outcome.replies[0].text == expected
    assert "intent:emergency" in payloads(outcome)
    assert outcome.meta.state == State.MENU
    assert await count_referrals(database) == 2


async def test_closed_referrals_do_not_count_as_open_but_count_for_the_day(
    referral_content: ContentStore,
    database: Database,
    stub_parser: StubParser,
    partners: Partners,
) -> None:
    engine = limited(referral_content, database, stub_parser, partners)
    catalog = engine.catalog()
    await onboard(engine, "7")
    await add_referrals(database, "7", ["closed", "closed"])
    offered = await engine.handle(press("7", f"refer:{SERVICE}:return_help"))
    assert offered.meta.state == State.REFERRAL  # two closed: the form is offered
    await add_referrals(database, "7", ["closed"])  # a third today
    refused = await engine.handle(press("7", f"refer:{SERVICE}:return_help"))
    expected = catalog.text("referral.limit_day", "fr").text.replace("{limit}", "3")
    assert refused.replies[0].text == expected


async def test_the_limit_holds_at_sending_too(
    referral_content: ContentStore,
    database: Database,
    stub_parser: StubParser,
    partners: Partners,
) -> None:
    """A form opened before the limit was reached (another form sent meanwhile) is not
    sent: nothing is stored or posted."""
    engine = limited(referral_content, database, stub_parser, partners)
    catalog = engine.catalog()
    await onboard(engine, "7")
    await engine.handle(press("7", f"refer:{SERVICE}:return_help"))
    await engine.handle(press("7", "ref:yes"))
    for _ in range(4):
        await engine.handle(press("7", "ref:skip"))
    await add_referrals(database, "7", ["sent", "sent"])
    outcome = await engine.handle(press("7", "ref:send"))
    assert outcome.referrals == []
    expected = catalog.text("referral.limit_open", "fr").text.replace("{limit}", "2")
    assert outcome.replies[0].text == expected
    assert await count_referrals(database) == 2
    # Still refused on a second press of the old "send" button: the form is gone.
    again = await engine.handle(press("7", "ref:send"))
    assert again.referrals == [] and await count_referrals(database) == 2


@pytest.mark.parametrize(("age", "minor"), [("15-17", True), ("18-24", False), ("skip", False)])
async def test_a_referral_carries_whether_the_person_said_they_are_a_minor(
    helper: Engine, database: Database, age: str, minor: bool
) -> None:
    await onboard(helper, "7")  # consent yes, subscription no
    await helper.handle(command("7", "subscribe"))
    await helper.handle(press("7", f"age:{age}"))
    await ask_for_help_in_kayes(helper)
    await helper.handle(press("7", f"refer:{SERVICE}:return_help"))
    await helper.handle(press("7", "ref:yes"))
    for _field in range(4):  # name, phone, place, words: all skipped
        await helper.handle(press("7", "ref:skip"))
    sent = await helper.handle(press("7", "ref:send"))
    assert len(sent.referrals) == 1
    async with database.transaction() as session:
        stored = await referral_repo.get_referral(session, sent.referrals[0])
    assert stored is not None and stored.minor is minor
