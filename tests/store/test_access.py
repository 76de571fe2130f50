"""What is kept about one person, read for them: only theirs, on SQLite and PostgreSQL."""

from __future__ import annotations

import secrets

from bot.store import referrals as referral_repo
from bot.store import repositories as repo
from bot.store import review as review_store
from bot.store.access import kept_about
from bot.store.db import Database
from bot.store.models import Conversation, this_hour


async def _user(database: Database, external_id: str) -> int:
    async with database.transaction() as s:
        user, _ = await repo.get_or_create_user(s, channel="telegram", external_id=external_id)
    return user.id


async def test_only_the_person_s_own_rows(database: Database) -> None:
    mine, theirs = await _user(database, "111"), await _user(database, "222")
    async with database.transaction() as s:
        for user_id, topics, reference in (
            (mine, ["sea", "libya"], "K-MINE"),
            (theirs, ["sahara"], "K-THEIRS"),
        ):
            for topic in topics:
                await repo.record_topic_seen(s, user_id=user_id, topic=topic)
            await referral_repo.create_referral(
                s,
                reference=reference,
                user_id=user_id,
                service_id="iom_mali",
                need="return_help",
                status="sent",
                language="fr",
                first_name=None,
                phone=None,
                location=None,
                description=None,
            )
        await repo.record_event(s, kind="inbound", user_id=mine)
        await repo.record_event(s, kind="inbound", user_id=mine)
        await repo.record_event(s, kind="inbound", user_id=theirs)
        await repo.record_event(s, kind="inbound", user_id=None)
        await repo.record_quiz_answer(
            s,
            user_id=mine,
            topic="sea",
            question="q1",
            answer=0,
            correct=True,
            language="fr",
            content_version=None,
        )
    async with database.transaction() as s:
        kept = await kept_about(s, user_id=mine)
    assert sorted(t.topic for t in kept.topics) == ["libya", "sea"]
    assert all(t.first_seen_at.tzinfo is not None for t in kept.topics)
    assert [r.reference for r in kept.referrals] == ["K-MINE"]
    assert (kept.linked_events, kept.quiz_answers) == (2, 1)


async def test_a_person_with_nothing_kept(database: Database) -> None:
    user_id = await _user(database, "333")
    async with database.transaction() as s:
        kept = await kept_about(s, user_id=user_id)
    assert (kept.topics, kept.referrals, kept.linked_events, kept.quiz_answers) == ((), (), 0, 0)


async def test_queued_texts_are_the_person_s_own_found_by_their_review_key(
    database: Database,
) -> None:

    mine, theirs = await _user(database, "444"), await _user(database, "555")
    async with database.transaction() as s:
        for user_id, key, texts in (
            (mine, secrets.token_hex(16), ["c koi [name]", "deuxieme truc"]),
            (theirs, secrets.token_hex(16), ["pas a moi"]),
        ):
            s.add(
                Conversation(
                    user_id=user_id,
                    state="menu",
                    data={review_store.REVIEW_KEY: key},
                    updated_at=this_hour(),
                )
            )
            for queued in texts:
                await review_store.add_item(
                    s,
                    person_key=key,
                    text=queued,
                    reason="fallback",
                    intent=None,
                    confidence=0.0,
                    entities=[],
                    language="fr",
                )
    async with database.transaction() as s:
        kept = await kept_about(s, user_id=mine)
    assert [q.text for q in kept.unclear] == ["c koi [name]", "deuxieme truc"]
    assert all(q.created_at.tzinfo is not None for q in kept.unclear)
    async with database.transaction() as s:
        assert (await kept_about(s, user_id=await _user(database, "666"))).unclear == ()
