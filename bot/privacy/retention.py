"""Retention: each kind of data goes when its period (``RETENTION_*`` settings) is over.

| rule | what goes | default |
|---|---|---|
| ``abandoned_forms`` | referral-form answers of a conversation silent that long | 24 hours |
| ``linked_events`` / ``linked_quiz_answers`` | the link between analytics and a person | 365 days |
| ``referral_details`` | name, phone, place, words of a closed or withdrawn referral | 90 days |
| ``outbox`` | broadcast messages settled (sent, skipped, failed, cancelled) | 7 days |
| ``processed_updates`` | ids of Telegram updates already handled | 2 days |
| ``review_queue`` | messages of the NLU review queue never labelled | 30 days |

Free texts are kept for NLU improvement only in the review queue, masked, linked to
nobody, and only with ``NLU_REVIEW_CAPTURE`` on (``docs/privacy.md``).
``Retention.run()`` is what the bot's scheduled purge and ``kunnafoni privacy purge`` call.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.config import Settings
from bot.dialogue.memory import TYPED_KEYS
from bot.referrals.status import ReferralStatus
from bot.store import outbox
from bot.store import retention as store
from bot.store.db import Database
from bot.store.models import utcnow

logger = logging.getLogger(__name__)

FINAL_REFERRALS = (ReferralStatus.CLOSED.value, ReferralStatus.WITHDRAWN.value)
SETTLED_OUTBOX = (outbox.SENT, outbox.SKIPPED, outbox.FAILED, outbox.CANCELLED)


@dataclass(frozen=True)
class Periods:
    forms: timedelta
    event_links: timedelta
    referral_details: timedelta
    outbox: timedelta
    processed_updates: timedelta
    review_queue: timedelta = timedelta(days=30)

    @classmethod
    def from_settings(cls, settings: Settings) -> Periods:
        return cls(
            forms=timedelta(hours=settings.retention_form_hours),
            event_links=timedelta(days=settings.retention_event_link_days),
            referral_details=timedelta(days=settings.retention_referral_days),
            outbox=timedelta(days=settings.retention_outbox_days),
            processed_updates=timedelta(days=settings.retention_update_ids_days),
            review_queue=timedelta(days=settings.retention_review_days),
        )


class Retention:
    def __init__(self, database: Database, periods: Periods, *, batch: int = 500) -> None:
        self.database = database
        self.periods = periods
        self.batch = batch

    async def run(self, *, apply: bool = True, now: datetime | None = None) -> list[store.Purged]:
        """Every rule once; with ``apply=False`` only counts (a dry run)."""
        at = now or utcnow()
        p, batch = self.periods, self.batch
        done = [
            await store.forget_abandoned_forms(
                self.database, keys=TYPED_KEYS, before=at - p.forms, apply=apply, batch=batch
            ),
            *await store.unlink_old_events(
                self.database, before=at - p.event_links, apply=apply, batch=batch
            ),
            await store.wipe_finished_referrals(
                self.database,
                final_statuses=FINAL_REFERRALS,
                before=at - p.referral_details,
                apply=apply,
                batch=batch,
            ),
            await store.delete_finished_outbox(
                self.database,
                final_statuses=SETTLED_OUTBOX,
                before=at - p.outbox,
                apply=apply,
                batch=batch,
            ),
            await store.delete_processed_updates(
                self.database, before=at - p.processed_updates, apply=apply, batch=batch
            ),
            await store.delete_old_review_items(
                self.database, before=at - p.review_queue, apply=apply, batch=batch
            ),
        ]
        if apply and any(purged.rows for purged in done):
            logger.info(
                "Retention purge: %s",
                ", ".join(f"{purged.rule}={purged.rows}" for purged in done),
            )
        return done

    async def every(self, seconds: float) -> None:
        """Purge now, then every ``seconds``, until cancelled; a failure waits for the next."""
        while True:
            try:
                await self.run()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("Retention purge failed; trying again in %.0f s", seconds)
            await asyncio.sleep(seconds)
