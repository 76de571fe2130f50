"""Turn a campaign of ``content/broadcasts/`` into outbox rows, idempotently.

Each campaign has one run (``broadcast_runs``), found again by name on every call: a
one-off is enqueued once per recipient, a drip gets each step once per recipient (the
outbox's unique (run, user, step) index), so ``kunnafoni broadcast send NAME`` can be
run again after a crash, or every hour for a drip, without anyone getting a message twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.campaigns.definitions import due_messages
from bot.content.catalog import Catalog
from bot.store import Session, outbox, runs
from bot.store.audience import audience_pages


@dataclass(frozen=True)
class Enqueued:
    run_id: int
    #: Recipients the segment matches now.
    audience: int
    #: Messages due now for them (before de-duplication).
    due: int
    #: New outbox rows (the rest were already there).
    added: int


async def enqueue_campaign(
    session: Session, catalog: Catalog, name: str, *, now: datetime
) -> Enqueued:
    """Enqueue what campaign ``name`` owes its audience at ``now``; KeyError if unknown."""
    campaign = catalog.campaigns[name]
    # The campaign's messages are checked before anything is written.
    due_messages(catalog, campaign, [], now=now)
    run_id = await runs.campaign_run(
        session, name=name, kind=campaign.kind.value, version=catalog.version
    )
    # A page of the audience at a time: a campaign to everyone never holds everyone.
    recipients = due = added = 0
    async for page in audience_pages(session, campaign.segment, now=now):
        owed = due_messages(catalog, campaign, page, now=now)
        added += await outbox.enqueue(session, run_id, owed)
        recipients, due = recipients + len(page), due + len(owed)
    return Enqueued(run_id, recipients, due, added)
