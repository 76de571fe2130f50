"""The durable outbox: idempotent enqueue, claims, leases and take-over, outcomes, status."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select

from bot.store import audience, outbox, runs
from bot.store.db import Database
from bot.store.models import OutboxMessage, User, utcnow
from tests.support.broadcasts import KEY, Person, add_people, committed, new_run

__all__ = ["committed"]  # the fixture, used by name


async def _statuses(database: Database, run_id: int) -> dict[int, str]:
    async with database.transaction() as session:
        rows = await session.execute(
            select(OutboxMessage.user_id, OutboxMessage.status).where(
                OutboxMessage.run_id == run_id
            )
        )
        return {user_id: status for user_id, status in rows.all()}


async def test_enqueue_is_idempotent(committed: Database) -> None:
    people = await add_people(committed, 5)
    run_id = await new_run(committed, people)
    async with committed.transaction() as session:
        again = await outbox.enqueue(session, run_id, [(p, 0, KEY, None) for p in people])
        more = await outbox.enqueue(session, run_id, [(p, 1, KEY, None) for p in people[:2]])
        run = await runs.get_run(session, run_id)
    assert (again, more) == (0, 2)
    assert run is not None and run.total == 7 and run.status == "planned"


async def test_unknown_language_is_stored_empty_and_served_by_default(committed: Database) -> None:
    [person] = await add_people(committed, 1, language=None)
    run_id = await new_run(committed, [person])
    async with committed.transaction() as session:
        [row] = await outbox.claim(session, sender_id="a", batch=10, run_id=run_id)
    assert row.language == ""


async def test_claim_takes_due_rows_once_in_order(committed: Database) -> None:
    people = await add_people(committed, 6)
    run_id = await new_run(committed, people)
    later = utcnow() + timedelta(hours=1)
    async with committed.transaction() as session:
        extra = await add_later(session, run_id, people[0], later)
    async with committed.transaction() as session:
        first = await outbox.claim(session, sender_id="a", batch=4, run_id=run_id)
    async with committed.transaction() as session:
        second = await outbox.claim(session, sender_id="b", batch=4, run_id=run_id)
        third = await outbox.claim(session, sender_id="c", batch=4, run_id=run_id)
    assert [r.user_id for r in first] == [p.user_id for p in people[:4]]
    assert [r.user_id for r in second] == [p.user_id for p in people[4:]]
    assert third == []  # the step due in an hour is not claimed
    assert all(r.attempts == 1 for r in first + second)
    assert extra not in {r.id for r in first + second}
    async with committed.transaction() as session:
        run = await runs.get_run(session, run_id)
    assert run is not None and run.status == "sending" and run.started_at is not None


async def add_later(session, run_id, person, when):  # type: ignore[no-untyped-def]
    await outbox.enqueue(session, run_id, [(person, 3, KEY, when)])
    return await session.scalar(
        select(OutboxMessage.id).where(OutboxMessage.run_id == run_id, OutboxMessage.step == 3)
    )


async def test_expired_lease_is_taken_over_and_renewal_keeps_it(committed: Database) -> None:
    people = await add_people(committed, 3)
    await new_run(committed, people)
    start = utcnow()
    async with committed.transaction() as session:
        held = await outbox.claim(session, sender_id="dead", batch=3, now=start, lease=30)
    assert len(held) == 3
    async with committed.transaction() as session:
        early = await outbox.claim(
            session, sender_id="b", batch=3, now=start + timedelta(seconds=29), lease=30
        )
    assert early == []
    # "dead" renews at +20 s: still held at +40 s, taken over at +51 s.
    async with committed.transaction() as session:
        await outbox.renew_leases(session, sender_id="dead", now=start + timedelta(seconds=20))
    async with committed.transaction() as session:
        still = await outbox.claim(
            session, sender_id="b", batch=3, now=start + timedelta(seconds=40), lease=30
        )
        taken = await outbox.claim(
            session, sender_id="b", batch=3, now=start + timedelta(seconds=51), lease=30
        )
    assert still == []
    assert [r.id for r in taken] == [r.id for r in held]
    assert all(r.attempts == 2 for r in taken)


async def test_outcomes_and_status(committed: Database) -> None:
    people = await add_people(committed, 6)
    run_id = await new_run(committed, people)
    async with committed.transaction() as session:
        rows = await outbox.claim(session, sender_id="a", batch=6, run_id=run_id)
        await outbox.mark_sent(session, [rows[0].id, rows[1].id])
        await outbox.mark_failed(session, rows[2].id, error="gave_up", permanent=True)
        await outbox.mark_failed(session, rows[3].id, error="BadRequest: x", permanent=False)
        await outbox.retry_later(
            session, rows[4].id, not_before=utcnow() + timedelta(minutes=5), error="NetworkError"
        )
        status = await runs.run_status(session, run_id)
    assert status is not None
    assert status.counts == {"sent": 2, "failed": 1, "skipped": 1, "pending": 1, "claimed": 1}
    assert (status.delivered, status.remaining, status.finished) == (2, 2, False)
    assert status.rate is not None and status.rate > 0
    assert status.eta_seconds is not None
    assert status.as_json()["counts"]["cancelled"] == 0
    async with committed.transaction() as session:
        cancelled = await runs.cancel_run(session, run_id)
        status = await runs.run_status(session, run_id)
        after = await outbox.claim(session, sender_id="a", batch=6, run_id=run_id)
    assert cancelled == 2 and after == []
    assert status is not None and status.run.status == "cancelled" and status.finished


async def test_claim_skips_users_who_opted_out_or_blocked(committed: Database) -> None:
    people = await add_people(committed, 3)
    run_id = await new_run(committed, people)
    async with committed.transaction() as session:
        await audience.mark_user_blocked(session, people[0].user_id)
        user = await session.get(User, people[1].user_id)
        assert user is not None
        user.subscribed = False
    async with committed.transaction() as session:
        rows = await outbox.claim(session, sender_id="a", batch=3, run_id=run_id)
        blocked = await session.get(User, people[0].user_id)
    assert [r.user_id for r in rows] == [people[2].user_id]
    assert blocked is not None and blocked.blocked_at is not None and not blocked.subscribed
    statuses = await _statuses(committed, run_id)
    assert statuses == {
        people[0].user_id: "skipped",
        people[1].user_id: "skipped",
        people[2].user_id: "claimed",
    }


async def test_finish_run_when_nothing_is_left(committed: Database) -> None:
    people = await add_people(committed, 2)
    run_id = await new_run(committed, people)
    async with committed.transaction() as session:
        rows = await outbox.claim(session, sender_id="a", batch=5, run_id=run_id)
        assert not await runs.finish_run_if_done(session, run_id)
        await outbox.mark_sent(session, [r.id for r in rows])
        assert await runs.finish_run_if_done(session, run_id)
        run = await runs.get_run(session, run_id)
        listed = await runs.list_runs(session)
    assert run is not None and run.status == "done" and run.finished_at is not None
    assert [r.id for r in listed] == [run_id]


async def test_concurrent_claims_never_overlap(committed: Database) -> None:
    """Eight claimers racing over 400 rows: every row claimed exactly once."""
    people = await add_people(committed, 400)
    run_id = await new_run(committed, people)

    async def claimer(name: str) -> list[int]:
        got: list[int] = []
        while True:
            async with committed.transaction() as session:
                rows = await outbox.claim(session, sender_id=name, batch=7, run_id=run_id)
            if not rows:
                return got
            got += [r.id for r in rows]
            await asyncio.sleep(0)

    results = await asyncio.gather(*(claimer(f"s{i}") for i in range(8)))
    claimed = [row for rows in results for row in rows]
    assert len(claimed) == len(set(claimed)) == 400
    assert sum(1 for rows in results if rows) > 1  # they really shared the work


def test_person_fits_the_recipient_protocol() -> None:
    person: outbox.RecipientLike = Person(1, "2", "fr")
    assert person.chat_id == "2"
