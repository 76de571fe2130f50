"""Erasing a person: everything that identifies them goes, in one transaction.

- Deleted: the user's row, their conversation (referral-form data included), the topics
  they saw, their consent ledger, their outbox rows (pending broadcast messages and the
  chat id they carried) and their handovers.
- Deleted too: their messages waiting in the NLU review queue, found by the review key
  kept in their conversation (the queue holds no user id). Examples already labelled are
  in ``nlu/data/reviewed.yml``, linked to nobody, and stay.
- Unlinked (``user_id`` set to NULL): analytics events and quiz answers, which carry no
  personal data of their own, so that what the campaign counts stays counted.
- Referrals: the personal fields (first name, phone, place, description) are wiped and the
  link to the user removed; the anonymous status history stays for the partners' figures.
  The partner's notes on them (``referral_notes``, which may name the person) are deleted.
  A referral still open is moved to ``withdrawn`` (actor ``user``), so that no partner works
  it any more; the caller tells the partner (:class:`WithdrawnReferral` says where).

:func:`clear_optional_data` is the lesser step of a person who withdraws (or refuses) their
data consent: what was kept only with it goes, the rest of them stays.

The caller decides who may erase whom (the person themself); statuses are passed in, the
rules live in :mod:`bot.referrals`.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.models import (
    ConsentEvent,
    Conversation,
    Event,
    Handover,
    OutboxMessage,
    QuizAnswer,
    Referral,
    ReferralEvent,
    ReferralNote,
    User,
    UserTopic,
    utcnow,
)
from bot.store.records import rows_touched
from bot.store.review import forget_person


@dataclass(frozen=True)
class WithdrawnReferral:
    """Where to tell a partner that the person withdrew (no personal data in it)."""

    reference: str
    service_id: str
    status_before: str
    partner_chat_id: int | None
    partner_message_id: int | None


@dataclass(frozen=True)
class Erasure:
    #: Open referrals moved to ``withdrawn``: their partners are to be told.
    withdrawn: list[WithdrawnReferral] = field(default_factory=list)
    #: Rows deleted or unlinked, per table (for the report and the tests; no person in it).
    rows: dict[str, int] = field(default_factory=dict)


async def erase_user(
    session: AsyncSession,
    *,
    user_id: int,
    open_statuses: Collection[str],
    withdrawn_status: str,
) -> Erasure:
    """Erase ``user_id`` (see the module's docstring); a user already gone erases nothing."""
    rows: dict[str, int] = {}
    withdrawn: list[WithdrawnReferral] = []
    referrals = (
        await session.scalars(select(Referral).where(Referral.user_id == user_id).with_for_update())
    ).all()
    now = utcnow()
    for referral in referrals:
        if referral.status in open_statuses:
            withdrawn.append(
                WithdrawnReferral(
                    reference=referral.reference,
                    service_id=referral.service_id,
                    status_before=referral.status,
                    partner_chat_id=referral.partner_chat_id,
                    partner_message_id=referral.partner_message_id,
                )
            )
            session.add(
                ReferralEvent(
                    referral_id=referral.id,
                    status_from=referral.status,
                    status_to=withdrawn_status,
                    actor="user",
                )
            )
            referral.status = withdrawn_status
        referral.user_id = None
        referral.first_name = None
        referral.phone = None
        referral.location = None
        referral.description = None
        referral.updated_at = now
    rows["referrals"] = len(referrals)
    await session.flush()
    # The partner's notes may name the person: they go with the referral's details.
    result = await session.execute(
        delete(ReferralNote).where(ReferralNote.referral_id.in_([r.id for r in referrals]))
    )
    rows["referral_notes"] = rows_touched(result)

    # Before the conversation goes: it holds the key of their queued messages.
    rows["nlu_review_items"] = await forget_person(session, user_id=user_id)
    for model in (Conversation, UserTopic, ConsentEvent, OutboxMessage, Handover):
        result = await session.execute(delete(model).where(model.user_id == user_id))
        rows[model.__tablename__] = rows_touched(result)
    for linked in (Event, QuizAnswer):
        result = await session.execute(
            update(linked).where(linked.user_id == user_id).values(user_id=None)
        )
        rows[linked.__tablename__] = rows_touched(result)
    result = await session.execute(delete(User).where(User.id == user_id))
    rows["users"] = rows_touched(result)
    return Erasure(withdrawn=withdrawn, rows=rows)


#: The columns of ``users`` kept only with the person's data consent.
OPTIONAL_USER_FIELDS: tuple[str, ...] = (
    "region",
    "country",
    "age_bracket",
    "situation",
    "acquisition_source",
)


async def clear_optional_data(session: AsyncSession, *, user_id: int) -> dict[str, int]:
    """What is kept only with consent, gone at once: the place, the profile answers, the
    source and how far they went (``progress``) on the user's row, the modules seen, and
    the link from their analytics events and quiz answers to them (the counts stay). The
    language, the conversation, the subscription, the consent ledger, referrals and
    handovers stay. Their messages waiting in the NLU review queue go too (kept only with
    consent). Rows touched per table (no person in it)."""
    rows: dict[str, int] = {}
    rows["nlu_review_items"] = await forget_person(session, user_id=user_id)
    result = await session.execute(
        update(User)
        .where(User.id == user_id)
        .values(**dict.fromkeys(OPTIONAL_USER_FIELDS), progress=0)
    )
    rows["users"] = rows_touched(result)
    result = await session.execute(delete(UserTopic).where(UserTopic.user_id == user_id))
    rows["user_topics"] = rows_touched(result)
    for linked in (Event, QuizAnswer):
        result = await session.execute(
            update(linked).where(linked.user_id == user_id).values(user_id=None)
        )
        rows[linked.__tablename__] = rows_touched(result)
    return rows
