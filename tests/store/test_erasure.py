"""Erasing a person leaves no trace of them in any table, on SQLite and PostgreSQL.

The check walks the SQLAlchemy metadata, so a table or a column added later is inspected
too: every text and JSON column of every row is searched for the person's Telegram id,
name, phone and words, and every integer column for their Telegram id.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import JSON, BigInteger, Integer, String, Text, func, select

from bot.content.store import ContentStore
from bot.dialogue.decision import Thresholds
from bot.dialogue.engine import Engine
from bot.nlu.service import NluService
from bot.referrals.status import OPEN_STATUSES, ReferralStatus
from bot.store import cases as case_store
from bot.store import handovers as handover_repo
from bot.store import referrals as referral_repo
from bot.store.db import Database
from bot.store.erasure import erase_user
from bot.store.models import (
    Base,
    BroadcastRun,
    ConsentEvent,
    Event,
    NluReviewItem,
    OutboxMessage,
    QuizAnswer,
    Referral,
    User,
)
from tests.support.conversation import onboard, press, text
from tests.support.nlu import StubParser
from tests.support.referrals import SERVICE, enable_referrals

TELEGRAM_ID = "583920174"
OTHER_ID = "771234009"
NAME = "Mariam Keïta"
PHONE = "+22366123456"
WORDS = "Mon mari me bat depuis mon retour de Libye"
#: A message the bot does not understand: it waits in the NLU review queue.
UNCLEAR = "c koi le zorglub de la frontiere"


@pytest.fixture
def helper(content_copy: Path, database: Database, stub_parser: StubParser) -> Engine:
    partners = enable_referrals(content_copy)
    content = ContentStore(content_copy)
    return Engine(
        database=database,
        content=content.current,
        nlu=NluService(stub_parser, content.matcher),
        thresholds=Thresholds(),
        partners=partners,
        review=True,
    )


async def live_a_little(
    engine: Engine,
    user: str,
    name: str = NAME,
    phone: str = "66 12 34 56",
    words: str = WORDS,
    unclear: str = UNCLEAR,
) -> int:
    """Everything a person leaves behind: consent, place, topics, a quiz answer, a
    referral with their name, phone and words, a message in the NLU review queue, a
    handover and a pending broadcast."""
    await onboard(engine, user)
    await engine.handle(text(user, unclear))
    await engine.handle(press(user, "intent:return_help"))
    await engine.handle(press(user, "where:ml"))
    await engine.handle(press(user, "where:r:kayes"))
    await engine.handle(press(user, f"refer:{SERVICE}:return_help"))
    await engine.handle(press(user, "ref:yes"))
    await engine.handle(text(user, name))
    await engine.handle(text(user, phone))
    await engine.handle(press(user, "ref:here"))
    await engine.handle(text(user, words))
    sent = await engine.handle(press(user, "ref:send"))
    assert len(sent.referrals) == 1
    await engine.handle(press(user, "topic:sahara"))
    assert sent.user is not None
    return sent.user


async def text_columns_hold(database: Database, needles: list[str]) -> list[str]:
    """``table.column = value`` for every stored value that contains one of ``needles``."""
    found: list[str] = []
    async with database.transaction() as session:
        for table in Base.metadata.sorted_tables:
            rows = (await session.execute(select(table))).mappings().all()
            for row in rows:
                for column in table.columns:
                    value: Any = row[column.name]
                    if value is None:
                        continue
                    if isinstance(column.type, (String, Text, JSON)):
                        shown = value if isinstance(value, str) else json.dumps(value)
                        hits = [n for n in needles if n.lower() in shown.lower()]
                    elif isinstance(column.type, (Integer, BigInteger)):
                        hits = [n for n in needles if n.isdigit() and int(n) == value]
                    else:
                        continue
                    found += [f"{table.name}.{column.name} = {value!r}" for _ in hits]
    return found


async def test_erasing_a_person_leaves_no_trace_in_any_table(
    helper: Engine, database: Database
) -> None:
    user_id = await live_a_little(helper, TELEGRAM_ID)
    # Someone else, who stays.
    other_id = await live_a_little(
        helper, OTHER_ID, "Fanta", "76 00 11 22", "Je cherche du travail", "et le bidule alors"
    )
    async with database.transaction() as session:
        run = BroadcastRun(name="welcome", kind="oneoff", status="sending", total=1)
        session.add(run)
        await session.flush()
        session.add(
            OutboxMessage(
                run_id=run.id,
                user_id=user_id,
                message_key="welcome.1",
                language="fr",
                chat_id=TELEGRAM_ID,
                status="pending",
            )
        )
        await handover_repo.open_handover(
            session, user_id=user_id, agent_chat_id=-100777, thread_id=42, forum=True
        )
        # The partner's notes in the console may name the person: they go with them.
        for person, note in ((user_id, f"Called {NAME} at {PHONE}"), (other_id, "Fanta called")):
            mine = (await referral_repo.user_referrals(session, user_id=person))[0]
            await case_store.add_note(session, referral_id=mine.id, author="paula", text=note)
    needles = [TELEGRAM_ID, NAME, "Keïta", PHONE, "66123456", WORDS, "mari me bat", UNCLEAR]
    assert await text_columns_hold(database, needles)  # the check can find them
    events_before = await count(database, Event)
    quiz_before = await count(database, QuizAnswer)

    async with database.transaction() as session:
        erasure = await erase_user(
            session,
            user_id=user_id,
            open_statuses=OPEN_STATUSES,
            withdrawn_status=ReferralStatus.WITHDRAWN.value,
        )

    assert await text_columns_hold(database, needles) == []
    assert [w.status_before for w in erasure.withdrawn] == ["pending"]  # never delivered
    assert erasure.rows["users"] == 1 and erasure.rows["outbox"] == 1
    assert erasure.rows["nlu_review_items"] == 1
    async with database.transaction() as session:
        kept = (await session.scalars(select(NluReviewItem.text))).all()
    assert "et le bidule alors" in kept  # the other person's message waits still
    # The consent ledger (asked, given) goes with the person; the other keeps theirs.
    assert erasure.rows["consent_events"] == 2
    async with database.transaction() as session:
        ledger = (await session.scalars(select(ConsentEvent.user_id))).all()
    assert set(ledger) == {other_id}
    # What the campaign counts is still counted, unlinked from anyone.
    assert await count(database, Event) == events_before
    assert await count(database, QuizAnswer) == quiz_before
    async with database.transaction() as session:
        referrals = (await session.scalars(select(Referral).order_by(Referral.id))).all()
        assert [r.user_id for r in referrals] == [None, other_id]
        gone = referrals[0]
        assert gone.status == "withdrawn"
        assert (gone.first_name, gone.phone, gone.location, gone.description) == (None,) * 4
        changes = await referral_repo.history(session, referral_id=gone.id)
        assert [(c.status_from, c.status_to, c.actor) for c in changes] == [
            (None, "pending", "user"),
            ("pending", "withdrawn", "user"),
        ]
        assert await session.scalar(select(func.count()).select_from(User)) == 1
        # The other person keeps everything.
        kept = await referral_repo.get_referral(session, referrals[1].id)
        assert kept is not None and kept.first_name == "Fanta" and kept.status == "pending"
        assert [n.text for n in await case_store.notes(session, referral_id=kept.id)] == [
            "Fanta called"
        ]
    assert erasure.rows["referral_notes"] == 1

    # Writing again, the person is new: the welcome and the language picker.
    again = await helper.handle(text(TELEGRAM_ID, "bonjour"))
    assert again.meta.state == "choosing_language"


async def test_erasing_someone_already_gone_erases_nothing(database: Database) -> None:
    async with database.transaction() as session:
        erasure = await erase_user(
            session, user_id=424242, open_statuses=OPEN_STATUSES, withdrawn_status="withdrawn"
        )
    assert erasure.withdrawn == [] and erasure.rows["users"] == 0


async def count(database: Database, model: type[Base]) -> int:
    async with database.transaction() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)
