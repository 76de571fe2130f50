"""What reaches people: counts over events, users and quiz answers, never a person's data.

Every figure is an aggregate. Events of users who declined consent carry no user id,
so they are counted here like the others but can never be traced back to anyone.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.consent import acquisition_counts
from bot.store.models import ContentVersion, Event, QuizAnswer, User


@dataclass(frozen=True)
class ServedCount:
    key: str
    language: str | None
    count: int
    #: How many of those were served by a fallback language (a translation gap).
    fallbacks: int


@dataclass(frozen=True)
class QuizCount:
    topic: str
    question: str
    answers: int
    correct: int


@dataclass
class Report:
    since: datetime
    users_new: int = 0
    users_by_language: dict[str, int] = field(default_factory=dict)
    #: New users who consented, by the deep-link source stored with them.
    users_by_source: dict[str, int] = field(default_factory=dict)
    #: Deep links opened, by source: counted before any consent, linked to nobody.
    links_by_source: dict[str, int] = field(default_factory=dict)
    inbound_by_kind: dict[str, int] = field(default_factory=dict)
    intents: dict[str, int] = field(default_factory=dict)
    served: list[ServedCount] = field(default_factory=list)
    served_by_version: dict[str, int] = field(default_factory=dict)
    quiz: list[QuizCount] = field(default_factory=list)
    versions: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["since"] = self.since.isoformat()
        return data


async def build_report(session: AsyncSession, *, since: datetime, top: int = 30) -> Report:
    report = Report(since=since)
    report.users_new = int(
        await session.scalar(select(func.count()).select_from(User).where(User.created_at >= since))
        or 0
    )
    rows = await session.execute(
        select(User.language, func.count())
        .where(User.last_seen_at >= since)
        .group_by(User.language)
    )
    report.users_by_language = {(lang or "-"): int(n) for lang, n in rows}
    rows = await session.execute(
        select(User.acquisition_source, func.count())
        .where(User.created_at >= since)
        .group_by(User.acquisition_source)
    )
    report.users_by_source = {(source or "-"): int(n) for source, n in rows}
    report.links_by_source = await acquisition_counts(session, since=since.date())

    recent = Event.created_at >= since
    rows = await session.execute(
        select(Event.name, func.count()).where(recent, Event.kind == "inbound").group_by(Event.name)
    )
    report.inbound_by_kind = {(name or "-"): int(n) for name, n in rows}

    intent = Event.data["intent"].as_string()
    rows = await session.execute(
        select(intent, func.count())
        .where(recent, Event.kind == "inbound", intent.is_not(None))
        .group_by(intent)
    )
    report.intents = dict(sorted(((str(k), int(n)) for k, n in rows), key=lambda kv: -kv[1]))

    fell_back = cast(Event.data["fallback"].as_boolean(), Integer)
    served_rows = await session.execute(
        select(Event.name, Event.language, func.count(), func.coalesce(func.sum(fell_back), 0))
        .where(recent, Event.kind == "served")
        .group_by(Event.name, Event.language)
        .order_by(func.count().desc(), Event.name, Event.language)
        .limit(top)
    )
    report.served = [
        ServedCount(str(name), language, int(count), int(fallbacks))
        for name, language, count, fallbacks in served_rows
    ]
    rows = await session.execute(
        select(Event.content_version, func.count())
        .where(recent, Event.kind == "served")
        .group_by(Event.content_version)
    )
    report.served_by_version = {(version or "-"): int(n) for version, n in rows}

    quiz_rows = await session.execute(
        select(
            QuizAnswer.topic,
            QuizAnswer.question,
            func.count(),
            func.coalesce(func.sum(cast(QuizAnswer.correct, Integer)), 0),
        )
        .where(QuizAnswer.answered_at >= since)
        .group_by(QuizAnswer.topic, QuizAnswer.question)
        .order_by(QuizAnswer.topic, QuizAnswer.question)
    )
    report.quiz = [QuizCount(str(t), str(q), int(n), int(c)) for t, q, n, c in quiz_rows]

    versions = await session.scalars(
        select(ContentVersion).order_by(ContentVersion.published_at.desc()).limit(10)
    )
    report.versions = [
        {
            "version": v.version,
            "published_at": v.published_at.isoformat(),
            "published_by": v.published_by,
        }
        for v in versions
    ]
    return report


def render(report: Report) -> str:
    """The report as plain text for a terminal."""
    lines = [f"Since {report.since:%Y-%m-%d %H:%M} UTC", ""]
    lines.append(f"New users: {report.users_new}")
    lines.append("Active users by language: " + _pairs(report.users_by_language))
    lines.append("New users by source (with consent): " + _pairs(report.users_by_source))
    lines.append("Deep links opened by source: " + _pairs(report.links_by_source))
    lines.append("Messages received by kind: " + _pairs(report.inbound_by_kind))
    lines.append("Intents understood: " + _pairs(report.intents))
    lines += ["", f"{'message key':<40} {'lang':<5} {'served':>7} {'fallback':>9}"]
    for row in report.served:
        lines.append(f"{row.key:<40} {row.language or '-':<5} {row.count:>7} {row.fallbacks:>9}")
    lines += ["", "Served by content version: " + _pairs(report.served_by_version)]
    if report.quiz:
        lines += ["", f"{'quiz question':<40} {'answers':>8} {'correct':>8}"]
        for q in report.quiz:
            share = f"{100 * q.correct / q.answers:.0f}%" if q.answers else "-"
            lines.append(f"{q.topic + ' ' + q.question:<40} {q.answers:>8} {share:>8}")
    lines += ["", "Published content versions (newest first):"]
    for v in report.versions:
        lines.append(f"  {v['version']}  {v['published_at'][:19]}  {v['published_by']}")
    return "\n".join(lines)


def _pairs(counts: dict[str, int]) -> str:
    if not counts:
        return "none"
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
