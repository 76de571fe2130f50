"""What leaves the bot (issue 18, point 7): the referral form's answers never go to the
NLU server, and phone numbers are masked in whatever does, and in analytics events."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.content.store import ContentStore
from bot.dialogue.decision import Thresholds
from bot.dialogue.engine import Engine
from bot.nlu.service import NluService
from bot.phones import PHONE_MASK
from bot.store import repositories as repo
from bot.store.db import Database
from bot.store.models import Conversation, Event, QuizAnswer, Referral, User, UserTopic
from tests.support.conversation import USER, command, onboard, press, stored_user, text
from tests.support.nlu import StubParser
from tests.support.referrals import SERVICE, enable_referrals

NAME, PHONE, PLACE = "Awa Traoré", "76 12 34 56", "Kati, pres du marche"
WORDS = "je suis bloque a Agadez depuis 2 semaines, appelez le 66 12 34 56"


@pytest.fixture
def helper(content_copy: Path, database: Database, stub_parser: StubParser) -> Engine:
    partners = enable_referrals(content_copy)
    store = ContentStore(content_copy)
    return Engine(
        database=database,
        content=store.current,
        nlu=NluService(stub_parser, store.matcher),
        thresholds=Thresholds(),
        partners=partners,
        language_identifier=store.language_identifier,
    )


async def to_the_form(engine: Engine, user: str = USER) -> None:
    await onboard(engine, user)
    await engine.handle(press(user, "intent:return_help"))
    await engine.handle(press(user, "where:skip"))
    await engine.handle(press(user, f"refer:{SERVICE}:return_help"))
    await engine.handle(press(user, "ref:yes"))


async def test_the_forms_answers_never_reach_the_nlu_server(
    helper: Engine, database: Database, stub_parser: StubParser
) -> None:
    await to_the_form(helper)
    stub_parser.calls.clear()
    for answer in (NAME, PHONE, PLACE, WORDS):
        await helper.handle(text(USER, answer))
    await helper.handle(press(USER, "ref:send"))
    assert stub_parser.calls == []
    async with database.transaction() as session:
        referral = (await session.scalars(select(Referral))).one()
    # The form got the words as typed: the phone is whole, in the description too.
    assert (referral.first_name, referral.phone, referral.location) == (
        NAME,
        "+22376123456",
        PLACE,
    )
    assert referral.description == WORDS
    # After the form, text goes to the NLU again.
    await helper.handle(text(USER, "merci"))
    assert stub_parser.calls == ["merci"]


async def test_an_emergency_typed_into_the_form_still_comes_first(
    helper: Engine, stub_parser: StubParser
) -> None:
    """The NLU server is up and never asked: the local tripwire finds the emergency."""
    catalog = helper.catalog()
    await to_the_form(helper)
    stub_parser.calls.clear()
    outcome = await helper.handle(text(USER, "au secours ils me frappent"))
    assert stub_parser.calls == []
    assert outcome.replies[0].text == catalog.text("intent.emergency", "fr").text
    assert outcome.meta.intent == "emergency" and outcome.meta.nlu_source == "keywords"
    assert outcome.replies[-1].text == catalog.text("referral.ask_phone", "fr").text


async def test_text_at_the_forms_buttons_still_goes_to_the_nlu(
    helper: Engine, stub_parser: StubParser
) -> None:
    """At the consent screen the form waits for a press, not for an answer to keep."""
    await onboard(helper)
    await helper.handle(press(USER, "intent:return_help"))
    await helper.handle(press(USER, "where:skip"))
    await helper.handle(press(USER, f"refer:{SERVICE}:return_help"))
    stub_parser.calls.clear()
    await helper.handle(text(USER, "c quoi"))
    assert stub_parser.calls == ["c quoi"]


@pytest.mark.parametrize(
    ("typed", "sent"),
    [
        ("appelle moi au 76 12 34 56", f"appelle moi au {PHONE_MASK}"),
        ("+223 76123456", PHONE_MASK),
        ("0033 6 12 34 56 78", PHONE_MASK),
        ("le passeur veut 500 000 FCFA", "le passeur veut 500 000 FCFA"),
        ("en 2019 j'avais 18-24 ans", "en 2019 j'avais 18-24 ans"),
    ],
)
async def test_phone_numbers_are_masked_before_the_nlu_server(
    engine: Engine, stub_parser: StubParser, typed: str, sent: str
) -> None:
    await onboard(engine)
    stub_parser.calls.clear()
    outcome = await engine.handle(text(USER, typed))
    assert stub_parser.calls == [sent]
    assert outcome.meta.intent is not None


async def test_a_masked_phone_is_understood_and_nothing_stored_holds_it(
    engine: Engine, database: Database, stub_parser: StubParser
) -> None:
    await onboard(engine)
    stub_parser.table[f"appelez moi au {PHONE_MASK}"] = ("ask_human", 0.95)
    outcome = await engine.handle(text(USER, "appelez moi au 76 12 34 56"))
    assert outcome.meta.intent == "ask_human"
    async with database.transaction() as session:
        events = (await session.scalars(select(Event))).all()
    assert {e.data.get("intent") for e in events if e.kind == "inbound"} >= {"ask_human"}
    assert not re.search(r"76\D?12", " ".join(f"{e.name} {e.data}" for e in events))


async def test_an_event_never_stores_a_phone_number(database: Database) -> None:
    """Events hold names and counts; a number that slipped into one is masked."""
    async with database.transaction() as session:
        await repo.record_event(
            session,
            kind="inbound",
            name="text 76123456",
            data={"said": "appelle le +223 76 12 34 56", "more": ["0033 6 12 34 56 78"], "n": 2},
        )
    async with database.transaction() as session:
        event = (await session.scalars(select(Event))).one()
    assert event.name == f"text {PHONE_MASK}"
    assert event.data == {
        "said": f"appelle le {PHONE_MASK}",
        "more": [PHONE_MASK],
        "n": 2,
    }


async def test_a_typed_age_bracket_reaches_the_nlu_and_answers_unchanged(
    engine: Engine, database: Database, stub_parser: StubParser
) -> None:
    await onboard(engine)  # not subscribed: /subscribe asks the age next
    await engine.handle(command(USER, "subscribe"))
    stub_parser.calls.clear()
    await engine.handle(text(USER, "18-24"))
    assert "18-24" in stub_parser.calls
    assert (await stored_user(database)).age_bracket == "18-24"


async def test_no_stored_time_can_tie_an_unlinked_event_to_its_person(
    engine: Engine, database: Database, stub_parser: StubParser
) -> None:
    """Events, quiz answers and what a step writes about its person carry the hour only:
    an event is never within a minute of the person's last message unless both are on
    the hour, where everyone who wrote in that hour looks the same."""
    await onboard(engine, "1")  # consents: linked events
    await engine.handle(command("2", "start"))
    await engine.handle(press("2", "lang:fr"))
    await engine.handle(press("2", "consent:no"))  # declines: unlinked events
    for user in ("1", "2"):
        await engine.handle(press(user, "topic:sahara"))
        await engine.handle(text(user, "c quoi la libye"))
    catalog = engine.catalog()
    topic = next(t for t in catalog.topics.values() if t.quiz)
    question = topic.quiz[0]
    await engine.handle(press("2", f"quiz:{topic.id}:{question.id}:0"))

    async with database.transaction() as session:
        people = (await session.scalars(select(User))).all()
        person_times = [t for u in people for t in (u.created_at, u.last_seen_at)]
        person_times += (await session.scalars(select(Conversation.updated_at))).all()
        person_times += (await session.scalars(select(UserTopic.first_seen_at))).all()
        event_times = list((await session.scalars(select(Event.created_at))).all())
        event_times += (await session.scalars(select(QuizAnswer.answered_at))).all()
    assert len(people) == 2 and event_times and len(person_times) >= 6

    def on_the_hour(moment: datetime) -> bool:
        return (moment.minute, moment.second, moment.microsecond) == (0, 0, 0)

    for seen in person_times:
        for event in event_times:
            close = abs(seen - event) <= timedelta(minutes=1)
            assert not close or (on_the_hour(seen) and on_the_hour(event)), (seen, event)
    assert all(on_the_hour(moment) for moment in person_times + event_times)
