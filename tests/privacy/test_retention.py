"""Retention: each kind of data goes when its period is over, not before, on both databases.

Rows are written with dates in the past (time travel by the stored dates), then the purge
runs at a chosen "now"; small batches make it loop.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from bot.config import Settings
from bot.privacy.retention import Periods, Retention
from bot.store.db import Database, upgrade_database
from bot.store.models import (
    BroadcastRun,
    Conversation,
    Event,
    NluReviewItem,
    OutboxMessage,
    ProcessedUpdate,
    QuizAnswer,
    ReceivedUpdate,
    Referral,
    ReferralNote,
    User,
)

NOW = datetime(2027, 6, 1, 12, 0, tzinfo=UTC)
PERIODS = Periods.from_settings(Settings())


def ago(**delta: float) -> datetime:
    return NOW - timedelta(**delta)


async def seed(database: Database) -> dict[str, Any]:
    """Two of everything: one just past its period, one just inside it."""
    async with database.transaction() as session:
        users = [
            User(channel="telegram", external_id=str(900000 + i), consent=True) for i in range(2)
        ]
        session.add_all(users)
        await session.flush()
        old, fresh = users
        form = {
            "referral": {
                "service": "s",
                "need": "n",
                "step": "phone",
                "fields": {"first_name": "Awa"},
            }
        }
        session.add_all(
            [
                Conversation(
                    user_id=old.id,
                    state="referral",
                    data={**form, "lang": {}},
                    updated_at=ago(hours=25),
                ),
                Conversation(
                    user_id=fresh.id, state="referral", data=dict(form), updated_at=ago(hours=23)
                ),
            ]
        )
        for i in range(3):  # three old events: more than one batch of two
            session.add(
                Event(user_id=old.id, kind="inbound", name="text", created_at=ago(days=366 + i))
            )
        session.add(Event(user_id=fresh.id, kind="inbound", name="text", created_at=ago(days=364)))
        session.add_all(
            [
                QuizAnswer(
                    user_id=old.id,
                    topic="t",
                    question="q",
                    answer=1,
                    correct=True,
                    answered_at=ago(days=400),
                ),
                QuizAnswer(
                    user_id=fresh.id,
                    topic="t",
                    question="q",
                    answer=1,
                    correct=True,
                    answered_at=ago(days=10),
                ),
            ]
        )
        details = {
            "first_name": "Awa",
            "phone": "+22376123456",
            "location": "kayes",
            "description": "aide",
        }
        session.add_all(
            [
                Referral(
                    reference="KF-AAAAA1",
                    user_id=old.id,
                    service_id="s",
                    need="n",
                    status="closed",
                    language="fr",
                    updated_at=ago(days=91),
                    **details,
                ),
                Referral(
                    reference="KF-AAAAA2",
                    user_id=old.id,
                    service_id="s",
                    need="n",
                    status="closed",
                    language="fr",
                    updated_at=ago(days=89),
                    **details,
                ),
                # Still open, however old: the partner is working on it.
                Referral(
                    reference="KF-AAAAA3",
                    user_id=old.id,
                    service_id="s",
                    need="n",
                    status="in_progress",
                    language="fr",
                    updated_at=ago(days=400),
                    **details,
                ),
            ]
        )
        run = BroadcastRun(name="b", kind="oneoff", status="done")
        session.add(run)
        await session.flush()

        def message(
            step: int, status: str, sent_at: datetime | None, not_before: datetime
        ) -> OutboxMessage:
            return OutboxMessage(
                run_id=run.id,
                user_id=fresh.id,
                step=step,
                message_key="k",
                language="fr",
                chat_id="900001",
                status=status,
                sent_at=sent_at,
                not_before=not_before,
            )

        session.add_all(
            [
                message(0, "sent", ago(days=8), ago(days=9)),
                message(1, "sent", ago(days=6), ago(days=9)),
                message(2, "cancelled", None, ago(days=8)),
                message(3, "pending", None, ago(days=30)),  # never settled: stays
            ]
        )
        session.add_all(
            [
                ProcessedUpdate(channel="telegram", update_id=1, processed_at=ago(days=3)),
                ProcessedUpdate(channel="telegram", update_id=2, processed_at=ago(days=3)),
                ProcessedUpdate(channel="telegram", update_id=3, processed_at=ago(days=1)),
            ]
        )
        session.add_all(
            [
                NluReviewItem(
                    person_key="a" * 32,
                    text=f"c koi ce truc {days}",
                    reason="fallback",
                    confidence=0.0,
                    entities=[],
                    created_at=ago(days=days),
                )
                for days in (31, 29)
            ]
        )
    return {"old": old.id, "fresh": fresh.id}


async def rows(database: Database, query: Any) -> list[Any]:
    async with database.transaction() as session:
        return list((await session.execute(query)).all())


async def test_each_kind_of_data_goes_when_its_period_is_over(database: Database) -> None:
    ids = await seed(database)
    retention = Retention(database, PERIODS, batch=2)
    expected = {
        "abandoned_forms": 1,
        "linked_events": 3,
        "linked_quiz_answers": 1,
        "referral_details": 1,
        "outbox": 2,
        "processed_updates": 2,
        "review_queue": 1,
    }

    dry = await retention.run(apply=False, now=NOW)
    assert {p.rule: p.rows for p in dry} == expected
    assert len(await rows(database, select(ProcessedUpdate.update_id))) == 3  # nothing went

    done = await retention.run(now=NOW)
    assert {p.rule: p.rows for p in done} == expected
    again = await retention.run(now=NOW)
    assert {p.rule: p.rows for p in again} == dict.fromkeys(expected, 0)  # idempotent

    conversations = dict(await rows(database, select(Conversation.user_id, Conversation.data)))
    assert conversations[ids["old"]] == {"lang": {}}  # the form went, the rest stayed
    assert "referral" in conversations[ids["fresh"]]
    linked = await rows(database, select(Event.user_id).where(Event.user_id.is_not(None)))
    assert linked == [(ids["fresh"],)]
    assert len(await rows(database, select(Event.id))) == 4  # still counted
    quiz = await rows(database, select(QuizAnswer.user_id).order_by(QuizAnswer.id))
    assert quiz == [(None,), (ids["fresh"],)]
    referrals = await rows(
        database,
        select(Referral.reference, Referral.first_name, Referral.status).order_by(Referral.id),
    )
    assert referrals == [
        ("KF-AAAAA1", None, "closed"),
        ("KF-AAAAA2", "Awa", "closed"),
        ("KF-AAAAA3", "Awa", "in_progress"),
    ]
    outbox = await rows(database, select(OutboxMessage.status).order_by(OutboxMessage.id))
    assert outbox == [("sent",), ("pending",)]
    assert await rows(database, select(ProcessedUpdate.update_id)) == [(3,)]
    assert await rows(database, select(NluReviewItem.text)) == [("c koi ce truc 29",)]


async def test_nothing_goes_inside_its_period(database: Database) -> None:
    await seed(database)
    done = await Retention(database, PERIODS).run(now=NOW - timedelta(days=500))
    assert all(p.rows == 0 for p in done)
    async with database.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(ProcessedUpdate)) == 3


def test_the_command_shows_what_would_go_then_purges(tmp_path: Path) -> None:
    import asyncio

    url = f"sqlite+aiosqlite:///{tmp_path / 'k.db'}"
    asyncio.run(upgrade_database(url))

    async def seeded() -> None:
        database = Database(url)
        try:
            async with database.transaction() as session:
                session.add(
                    ProcessedUpdate(channel="telegram", update_id=7, processed_at=ago(days=9999))
                )
        finally:
            await database.dispose()

    asyncio.run(seeded())

    def purge(*extra: str) -> dict[str, Any]:
        out = subprocess.run(
            [sys.executable, "-m", "bot", "privacy", "purge", "--db", url, "--json", *extra],
            capture_output=True,
            text=True,
            check=True,
        )
        return dict(json.loads(out.stdout))

    assert purge("--dry-run") == {"dry_run": True, "rows": {**purge_zero(), "processed_updates": 1}}
    assert purge()["rows"]["processed_updates"] == 1
    assert purge()["rows"]["processed_updates"] == 0


def purge_zero() -> dict[str, int]:
    rules = (
        "abandoned_forms",
        "linked_events",
        "linked_quiz_answers",
        "referral_details",
        "outbox",
        "review_queue",
    )
    return dict.fromkeys(rules, 0)


async def test_a_question_typed_before_choosing_a_language_goes_with_abandoned_forms(
    database: Database,
) -> None:
    """Someone who typed a question, then never chose a language nor wrote again: their
    words wait in the conversation; they go after the same silence as a form's answers."""
    waiting = {"text": "je veux partir en libye, mon numero 76123456", "intent": None}
    async with database.transaction() as session:
        gone, stays = (User(channel="telegram", external_id=str(910000 + i)) for i in range(2))
        session.add_all([gone, stays])
        await session.flush()
        session.add_all(
            [
                Conversation(
                    user_id=gone.id,
                    state="choosing_language",
                    data={"waiting": waiting},
                    updated_at=ago(hours=25),
                ),
                Conversation(
                    user_id=stays.id,
                    state="choosing_language",
                    data={"waiting": waiting},
                    updated_at=ago(hours=23),
                ),
            ]
        )
    done = await Retention(database, PERIODS).run(now=NOW)
    assert {p.rule: p.rows for p in done}["abandoned_forms"] == 1
    kept = dict(await rows(database, select(Conversation.user_id, Conversation.data)))
    assert kept[gone.id] == {} and kept[stays.id] == {"waiting": waiting}


async def test_the_partners_notes_go_with_a_finished_referrals_details(
    database: Database,
) -> None:
    """Notes written in the console may name the person: once a finished referral's period
    is over they go, even when its fields were already wiped; an open one keeps them."""
    async with database.transaction() as session:

        def referral(reference: str, status: str, days: int, **fields: Any) -> Referral:
            return Referral(
                reference=reference,
                service_id="s",
                need="n",
                status=status,
                language="fr",
                updated_at=ago(days=days),
                **fields,
            )

        rows_made = [
            referral("KF-NOTE01", "closed", 91, first_name="Awa"),
            referral("KF-NOTE02", "withdrawn", 91),  # wiped already, a note left
            referral("KF-NOTE03", "in_progress", 400, first_name="Awa"),
            referral("KF-NOTE04", "closed", 10, first_name="Awa"),
        ]
        session.add_all(rows_made)
        await session.flush()
        for made in rows_made:
            session.add(ReferralNote(referral_id=made.id, author="paula", text="Called Awa"))
    done = {p.rule: p.rows for p in await Retention(database, PERIODS, batch=1).run(now=NOW)}
    assert done["referral_details"] == 2
    left = await rows(
        database,
        select(Referral.reference)
        .join(ReferralNote, ReferralNote.referral_id == Referral.id)
        .order_by(Referral.reference),
    )
    assert left == [("KF-NOTE03",), ("KF-NOTE04",)]


async def test_an_old_received_update_goes_with_its_body_even_if_never_handled(
    database: Database,
) -> None:
    """A replica that stopped between recording an update and handling it leaves its body
    (personal data) behind: the purge of update ids takes the row and the body with it."""
    body = json.dumps({"update_id": 11, "message": {"text": "Awa"}})
    async with database.transaction() as session:
        session.add_all(
            [
                ReceivedUpdate(
                    channel="telegram", update_id=11, chat_id=5, body=body, received_at=ago(days=3)
                ),
                ReceivedUpdate(
                    channel="telegram", update_id=12, chat_id=5, body=body, received_at=ago(days=1)
                ),
            ]
        )
    done = {p.rule: p.rows for p in await Retention(database, PERIODS).run(now=NOW)}
    assert done["processed_updates"] == 1
    left = await rows(database, select(ReceivedUpdate.update_id, ReceivedUpdate.body))
    assert left == [(12, body)]  # inside its period, still waiting for its chat's drain
