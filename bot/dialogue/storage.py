"""What a step writes after deciding: a confirmed referral, the user and conversation,
the modules seen, and the analytics events (linked to the person only with consent)."""

from __future__ import annotations

import logging
import re
from typing import Any

from bot.content.models import is_minor
from bot.dialogue.flows.modules import menu_button
from bot.dialogue.turn import Turn
from bot.dialogue.types import Inbound
from bot.nlu.types import NluResult
from bot.pseudonyms import pseudonym
from bot.referrals.intake import open_referral
from bot.referrals.status import OPEN_STATUSES, ReferralStatus
from bot.store import Session
from bot.store import consent as consent_repo
from bot.store import repositories as repo
from bot.store.erasure import clear_optional_data, erase_user
from bot.store.models import (
    PROGRESS_ASKED_FOR_HELP,
    PROGRESS_FINISHED_MODULE,
    PROGRESS_OPENED_MODULE,
    this_hour,
    utcnow,
)

logger = logging.getLogger(__name__)

#: A module's first card (the events' ``LIKE 'topic.%.card1'``) and a module's end.
_FIRST_CARD = re.compile(r"topic\..*\.card1", re.DOTALL)
_MODULE_END = "topic.end"


async def store_referral(session: Session, turn: Turn) -> None:
    """Store the referral confirmed in this step under a new reference, and say so."""
    details = turn.new_referral
    assert details is not None
    service = turn.catalog.services[details["service_id"]]
    age = turn.user_changes.get("age_bracket", turn.user.age_bracket)
    stored = await open_referral(
        session, user_id=turn.user.id, language=turn.language, minor=is_minor(age), **details
    )
    turn.delivered.append(stored.id)
    logger.info("Referral %s for %s to %s", stored.reference, pseudonym(turn.user.id), service.id)
    turn.say(
        "referral.sent",
        [menu_button(turn)],
        fields={"reference": stored.reference, "organisation": service.organisation},
    )


async def erase(session: Session, turn: Turn) -> None:
    """The person confirmed: erase them (``bot/store/erasure``) and count it, unlinked."""
    erasure = await erase_user(
        session,
        user_id=turn.user.id,
        open_statuses=OPEN_STATUSES,
        withdrawn_status=ReferralStatus.WITHDRAWN.value,
    )
    turn.withdrawn = [w.reference for w in erasure.withdrawn if w.partner_chat_id is not None]
    await repo.record_event(
        session,
        kind="privacy",
        name="erased",
        user_id=None,
        language=turn.language,
        content_version=turn.catalog.version,
        data={"referrals_withdrawn": len(erasure.withdrawn)},
    )
    logger.info("A user was erased; %d open referral(s) withdrawn", len(erasure.withdrawn))


async def save(session: Session, turn: Turn) -> None:
    """The user's changes, the funnel's steps newly reached, the modules seen and the
    conversation, as decided."""
    user_id = turn.user.id
    if turn.drop_optional:
        await repo.drop_optional_data(session, user_id=user_id)
    for topic_id in dict.fromkeys(turn.topics_seen):
        await repo.record_topic_seen(session, user_id=user_id, topic=topic_id)
    if turn.user.blocked_at is not None:
        # They write again, so they unblocked the bot: campaigns may reach them again once
        # they subscribe (blocking unsubscribed them; subscribing again is their choice).
        turn.user_changes["blocked_at"] = None
    # To the hour, like the step's events: see ``bot.store.models.this_hour``.
    # Written only when the hour changed: most steps then leave the user's row alone.
    hour = this_hour()
    if turn.user.last_seen_at != hour:
        turn.user_changes["last_seen_at"] = hour
    # Only the steps not reached before: most steps reach none, or none that is new.
    new = reached(turn) & ~turn.user.progress
    await repo.update_user(session, user_id=user_id, reached=new, **turn.user_changes)
    await repo.save_conversation(session, user_id=user_id, conversation=turn.remembered())


def reached(turn: Turn) -> int:
    """The funnel's steps (``users.progress`` bits) this step's events reach, tested as
    the dashboard tested the events: a module's first card served, a module's end served,
    a service card shown. 0 without consent: kept only when the events are linked
    (:func:`record`); a refusal or a withdrawal clears them with the rest."""
    if not turn.consent:
        return 0
    bits = PROGRESS_ASKED_FOR_HELP if turn.meta.services else 0
    for key, _language, _fell_back in turn.served:
        if key == _MODULE_END:
            bits |= PROGRESS_FINISHED_MODULE
        elif _FIRST_CARD.fullmatch(key):
            bits |= PROGRESS_OPENED_MODULE
    return bits


async def record_consent(session: Session, turn: Turn) -> None:
    """The step's consent events in the person's ledger; optional data cleared after a
    refusal or a withdrawal; a deep link opened, counted without the person."""
    if turn.clear_optional:
        await clear_optional_data(session, user_id=turn.user.id)
    for note in turn.consent_log:
        await consent_repo.record_consent_event(
            session,
            user_id=turn.user.id,
            kind=note.kind,
            language=note.language,
            text_hash=note.text_hash,
        )
    if turn.link_opened is not None:
        await consent_repo.count_acquisition(session, source=turn.link_opened, day=utcnow().date())


async def record(
    session: Session, turn: Turn, inbound: Inbound, understood: NluResult | None
) -> None:
    """Analytics: the inbound event, every message served, every quiz answer."""
    # Without consent, events stay countable but are not linked to the person.
    user_id = turn.user.id if turn.consent else None
    kind = (
        "command"
        if inbound.command is not None
        else "button"
        if inbound.button
        else "text"
        if understood is not None
        else "other"
    )
    version = turn.catalog.version
    data: dict[str, Any] = {}
    if understood is not None:
        data.update(
            intent=understood.intent,
            confidence=round(understood.confidence, 4),
            nlu=understood.source.value,
        )
    events = [
        repo.NewEvent(
            kind="inbound",
            name=kind,
            user_id=user_id,
            language=turn.language,
            content_version=version,
            data=data,
        )
    ]
    for key, language, fell_back in turn.served:
        events.append(
            repo.NewEvent(
                kind="served",
                name=key,
                user_id=user_id,
                language=language,
                content_version=version,
                data={"fallback": fell_back},
            )
        )
    for shown_service in turn.meta.services:
        # Which service cards people see, so the team re-checks the busiest entries
        # first. The card only: never where the person is, nor why it was chosen.
        events.append(
            repo.NewEvent(
                kind="service",
                name=str(shown_service["id"])[:64],
                user_id=user_id,
                language=turn.language,
                content_version=version,
            )
        )
    # One statement for all of them (they were one ORM object each, flushed together).
    await repo.record_events(session, events)
    for topic, question, answer, correct in turn.quiz_answers:
        await repo.record_quiz_answer(
            session,
            user_id=user_id,
            topic=topic,
            question=question,
            answer=answer,
            correct=correct,
            language=turn.language,
            content_version=version,
        )
