"""``kunnafoni broadcast plan``: who a campaign would reach, before anything is sent.

:func:`plan` counts exactly; its outputs (:meth:`Plan.as_json`, :func:`render`) show
every count of people through :mod:`bot.disclosure` (none from 1 to 4, the rest rounded
to 5), like ``kunnafoni report``: a segment narrow enough to count one person would
otherwise say who is in it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bot.campaigns.definitions import (
    MALI_TIME,
    after_quiet_hours,
    due_messages,
    language_for,
    quiet_label,
)
from bot.campaigns.segments import criteria
from bot.content.catalog import Catalog
from bot.content.models import Campaign, CampaignKind, Minors, Segment
from bot.disclosure import shown, shown_counts
from bot.store import Session
from bot.store.audience import audience_pages, count


@dataclass
class MessagePlan:
    #: The drip step's day (0 for a one-off).
    day: int
    message_key: str
    #: Recipients per language they will read this message in (after the fallback chain).
    languages: Counter[str] = field(default_factory=Counter)
    #: Drip: recipients for whom this step is due now.
    due_now: int = 0


@dataclass
class Plan:
    name: str
    kind: str
    quiet_hours: str
    now: datetime
    #: Subscribers who can receive campaigns at all (subscribed, not blocked, Telegram).
    subscribers: int
    audience: int
    #: (criterion, subscribers matching it alone).
    criteria: list[tuple[str, int]]
    messages: list[MessagePlan]
    #: Subscribers the segment matches but who said they are 15-17 (left out, see
    #: ``minors`` in the segment).
    minors_left_out: int = 0
    #: One-off: the first moment it may go out (``when``, out of quiet hours).
    not_before: datetime | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "quiet_hours": self.quiet_hours,
            "now": self.now.isoformat(),
            "subscribers": shown(self.subscribers),
            "audience": shown(self.audience),
            "criteria": [{"criterion": c, "count": shown(n)} for c, n in self.criteria],
            "minors_left_out": shown(self.minors_left_out),
            "not_before": self.not_before.isoformat() if self.not_before else None,
            "messages": [
                {
                    "day": m.day,
                    "message": m.message_key,
                    "languages": shown_counts(dict(sorted(m.languages.items()))),
                    "due_now": shown(m.due_now),
                }
                for m in self.messages
            ],
        }


async def plan(session: Session, catalog: Catalog, campaign: Campaign, *, now: datetime) -> Plan:
    """Counts only: nothing is sent, enqueued or written."""
    now = now.astimezone(UTC)
    by_criterion = [
        (label, await count(session, part, now=now)) for label, part in criteria(campaign.segment)
    ]
    result = Plan(
        name=campaign.name,
        kind=campaign.kind.value,
        quiet_hours=quiet_label(campaign.quiet_hours),
        now=now,
        subscribers=await count(session, Segment(minors=Minors.ALLOWED), now=now),
        audience=0,
        criteria=by_criterion,
        messages=[],
    )
    # A page of the audience at a time: the counts only, never everyone at once.
    due: Counter[int] = Counter()
    spoken: Counter[str | None] = Counter()
    async for page in audience_pages(session, campaign.segment, now=now):
        result.audience += len(page)
        due.update(d.step for d in due_messages(catalog, campaign, page, now=now))
        spoken.update(r.language for r in page)
    if campaign.segment.minors is not Minors.ALLOWED:
        with_minors = campaign.segment.model_copy(update={"minors": Minors.ALLOWED})
        result.minors_left_out = await count(session, with_minors, now=now) - result.audience
    if campaign.kind is CampaignKind.ONEOFF:
        assert campaign.when is not None and campaign.message is not None
        result.not_before = after_quiet_hours(max(campaign.when, now), campaign.quiet_hours)
        steps = [(0, campaign.message)]
    else:
        steps = [(step.day, step.message) for step in campaign.steps]
    for day, key in steps:
        languages: Counter[str] = Counter()
        for language, n in spoken.items():
            languages[language_for(catalog, key, language)] += n
        result.messages.append(MessagePlan(day, key, languages, due.get(day, 0)))
    return result


def render(result: Plan) -> str:
    local = result.now.astimezone(MALI_TIME)
    lines = [
        f"campaign {result.name} ({result.kind}), planned at {local:%Y-%m-%d %H:%M} Mali time;"
        f" quiet hours {result.quiet_hours} Mali time",
        f"audience: {shown(result.audience)} of {shown(result.subscribers)} subscribers"
        " (subscribed, not blocked)",
    ]
    if result.criteria:
        lines.append("subscribers matching each criterion alone:")
        width = max(len(label) for label, _ in result.criteria)
        lines += [f"  {label:<{width}}  {shown(n)!s:>7}" for label, n in result.criteria]
    else:
        lines.append("segment: every subscriber")
    if result.minors_left_out:
        lines.append(
            f"left out as minors (said 15-17; the segment does not say minors: allowed):"
            f" {shown(result.minors_left_out)}"
        )
    if result.not_before is not None:
        at = result.not_before.astimezone(MALI_TIME)
        lines.append(f"sends from {at:%Y-%m-%d %H:%M} Mali time")
    for message in result.messages:
        head = (
            f"day {message.day}: {message.message_key}, due now for {shown(message.due_now)}"
            if result.kind == CampaignKind.DRIP.value
            else f"message {message.message_key}"
        )
        lines.append(head)
        langs = ", ".join(
            f"{code} {n}"
            for code, n in shown_counts(dict(sorted(message.languages.items()))).items()
        )
        lines.append(f"  read in: {langs or 'nobody'}")
    lines.append("nothing was sent or enqueued")
    return "\n".join(lines)
