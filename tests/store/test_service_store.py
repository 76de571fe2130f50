"""What the running service asks of the database: received update ids, the /metrics
aggregates (on SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.store import handovers, service
from bot.store import referrals as referral_repo
from bot.store import repositories as repo
from bot.store.db import Database
from bot.store.models import ReceivedUpdate, utcnow


async def test_an_update_id_is_received_once(database: Database) -> None:
    async with database.transaction() as session:
        assert await service.record_received_update(session, channel="telegram", update_id=7)
        assert not await service.record_received_update(session, channel="telegram", update_id=7)
        assert await service.record_received_update(session, channel="telegram", update_id=8)
    async with database.transaction() as session:
        await service.ping(session)


async def test_gauges_count_without_naming_anyone(database: Database) -> None:
    async with database.transaction() as session:
        empty = await service.service_gauges(session, unacknowledged=("pending", "sent"))
    assert empty == service.ServiceGauges(0, {}, None, 0)
    async with database.transaction() as session:
        user, _ = await repo.get_or_create_user(session, channel="telegram", external_id="1")
        for n, status in enumerate(("sent", "sent", "closed")):
            await referral_repo.create_referral(
                session,
                reference=f"KF-AAAA{n}",
                user_id=user.id,
                service_id="s",
                need="legal",
                status=status,
                language="fr",
                first_name=None,
                phone=None,
                location=None,
                description=None,
            )
        await handovers.open_handover(
            session, user_id=user.id, agent_chat_id=-100, thread_id=1, forum=True
        )
    async with database.transaction() as session:
        later = utcnow() + timedelta(minutes=5)
        gauges = await service.service_gauges(
            session, unacknowledged=("pending", "sent"), now=later
        )
    assert gauges.referrals_by_status == {"sent": 2, "closed": 1}
    assert gauges.handovers_open == 1
    assert gauges.outbox_open == 0
    assert gauges.oldest_unacknowledged_seconds is not None
    assert 290 < gauges.oldest_unacknowledged_seconds < 400


async def test_a_chats_pending_updates_come_by_id_and_lose_their_body_once_handled(
    database: Database,
) -> None:
    async with database.transaction() as session:
        for update_id, chat in ((31, 1), (33, 1), (30, 2), (32, 1)):
            assert await service.record_received_update(
                session, channel="telegram", update_id=update_id, chat_id=chat, body=f"b{update_id}"
            )
        # Recorded without a body (one process): never pending.
        await service.record_received_update(session, channel="telegram", update_id=29)
    async with database.transaction() as session:
        pending = await service.pending_updates(session, channel="telegram", chat_id=1)
        assert [(p.update_id, p.body) for p in pending] == [(31, "b31"), (32, "b32"), (33, "b33")]
        assert await service.latest_handled_update(session, channel="telegram", chat_id=1) is None
        await service.mark_update_handled(session, channel="telegram", update_id=32)
    async with database.transaction() as session:
        pending = await service.pending_updates(session, channel="telegram", chat_id=1)
        assert [p.update_id for p in pending] == [31, 33]
        assert await service.latest_handled_update(session, channel="telegram", chat_id=1) == 32
        # Still recorded: a redelivery of a handled update is not taken again.
        assert not await service.record_received_update(
            session, channel="telegram", update_id=32, chat_id=1, body="again"
        )
        body = await session.scalar(
            select(ReceivedUpdate.body).where(ReceivedUpdate.update_id == 32)
        )
        assert body is None
