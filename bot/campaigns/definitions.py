"""Campaign definitions (``content/broadcasts/<name>.yml``) and when each message is due.

Campaigns are part of the content catalog: ``kunnafoni content check`` validates them
with the rest, and a running bot picks up an edited campaign like any other content.
Times are Mali time (Africa/Bamako: UTC+0 all year, no daylight saving).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime, time, timedelta, timezone, tzinfo
from pathlib import Path
from typing import NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.content.catalog import Catalog
from bot.content.loader import load_catalog
from bot.content.models import Campaign, CampaignKind, QuietHours
from bot.store.audience import Recipient

__all__ = [
    "MALI_TIME",
    "Campaign",
    "DueMessage",
    "after_quiet_hours",
    "due_messages",
    "in_quiet_hours",
    "language_for",
    "load_campaigns",
]

logger = logging.getLogger(__name__)


def _mali_time() -> tzinfo:
    try:
        return ZoneInfo("Africa/Bamako")
    except ZoneInfoNotFoundError:  # no time zone database: Bamako is UTC+0, no DST
        return timezone(timedelta(0), "GMT")


MALI_TIME = _mali_time()


class DueMessage(NamedTuple):
    recipient: Recipient
    #: The drip step's day (0 for a one-off): with the run and the user, the outbox key.
    step: int
    message_key: str
    #: Not before this moment (UTC): the scheduled time, moved out of quiet hours.
    not_before: datetime


def load_campaigns(content_dir: Path | str) -> dict[str, Campaign]:
    """The validated campaigns of a content folder; :class:`ContentError` when invalid."""
    return dict(load_catalog(content_dir).campaigns)


def in_quiet_hours(moment: datetime, quiet: QuietHours) -> bool:
    local = moment.astimezone(MALI_TIME).time()
    if quiet.start < quiet.end:
        return quiet.start <= local < quiet.end
    return local >= quiet.start or local < quiet.end


def after_quiet_hours(moment: datetime, quiet: QuietHours) -> datetime:
    """``moment`` if it is outside quiet hours, else the end of them; in UTC."""
    if not in_quiet_hours(moment, quiet):
        return moment.astimezone(UTC)
    local = moment.astimezone(MALI_TIME)
    end = datetime.combine(local.date(), quiet.end, tzinfo=MALI_TIME)
    if end <= local:
        end += timedelta(days=1)
    return end.astimezone(UTC)


def language_for(catalog: Catalog, key: str, language: str | None) -> str:
    """The language the user will read ``key`` in: the first of their chain that has it."""
    for code in catalog.chain(language):
        if key in catalog.messages.get(code, {}):
            return code
    raise KeyError(f"message '{key}' has no text in any language")


def _step_keys(campaign: Campaign) -> list[tuple[int, str]]:
    if campaign.kind is CampaignKind.ONEOFF:
        assert campaign.message is not None
        return [(0, campaign.message)]
    return [(step.day, step.message) for step in campaign.steps]


def due_messages(
    catalog: Catalog,
    campaign: Campaign,
    recipients: Iterable[Recipient],
    *,
    now: datetime,
) -> list[DueMessage]:
    """What to enqueue for ``recipients`` at ``now``.

    One-off: every recipient, not before ``when`` (or now, if later). Drip: for each
    recipient, every step whose day after their ``subscribed_at`` has come, unless it
    is more than ``catch_up_days`` late; recipients who never subscribed get none. In
    both, a time inside quiet hours moves to their end (Mali time).
    """
    for _step, key in _step_keys(campaign):
        if key not in catalog.messages[catalog.default_language]:
            raise KeyError(f"campaign '{campaign.name}': unknown message '{key}'")
    now = now.astimezone(UTC)
    quiet = campaign.quiet_hours
    out: list[DueMessage] = []
    if campaign.kind is CampaignKind.ONEOFF:
        assert campaign.when is not None and campaign.message is not None
        at = after_quiet_hours(max(campaign.when.astimezone(UTC), now), quiet)
        return [DueMessage(r, 0, campaign.message, at) for r in recipients]
    late = timedelta(days=campaign.catch_up_days)
    at = after_quiet_hours(now, quiet)
    for recipient in recipients:
        if recipient.subscribed_at is None:
            continue
        start = recipient.subscribed_at.astimezone(UTC)
        for step in campaign.steps:
            due = start + timedelta(days=step.day)
            if due <= now and now - due <= late:
                out.append(DueMessage(recipient, step.day, step.message, at))
    return out


def quiet_label(quiet: QuietHours) -> str:
    return f"{_hm(quiet.start)}-{_hm(quiet.end)}"


def _hm(value: time) -> str:
    return f"{value.hour:02d}:{value.minute:02d}"
