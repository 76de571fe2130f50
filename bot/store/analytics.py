"""What reaches people: counts over events, users and quiz answers, never a person's data.

Every figure is an aggregate. Events of users who declined consent carry no user id,
so they are counted here like the others but can never be traced back to anyone.
:func:`build_report` counts exactly; what leaves the program (:meth:`Report.as_json`,
:func:`render`) shows every count through :mod:`bot.disclosure`: no count from 1 to 4,
the others rounded to 5, so no small cell comes back by subtraction.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.disclosure import HIDDEN, MIN_CELL, OTHER, Shown, shown, shown_counts, shown_share
from bot.store.consent import acquisition_counts
from bot.store.models import ContentVersion, Event, QuizAnswer, User, to_the_hour


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
    #: Service cards shown, by service id, most shown first.
    services_shown: dict[str, int] = field(default_factory=dict)
    quiz: list[QuizCount] = field(default_factory=list)
    versions: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """The report to publish: every count as :mod:`bot.disclosure` allows."""
        data = asdict(self)
        data["since"] = self.since.isoformat()
        data["users_new"] = shown(self.users_new)
        for name in (
            "users_by_language",
            "users_by_source",
            "links_by_source",
            "inbound_by_kind",
            "intents",
            "served_by_version",
            "services_shown",
        ):
            data[name] = shown_counts(getattr(self, name))
        data["served"] = _served_rows(self.served)
        data["quiz"] = [
            {
                **row,
                "answers": shown(row["answers"]),
                "correct": shown(row["correct"]),
                "share": shown_share(row["correct"], row["answers"]),
            }
            for row in data["quiz"]
        ]
        return data


async def build_report(session: AsyncSession, *, since: datetime, top: int = 30) -> Report:
    # Events and users carry the hour only: an hour is counted whole or not at all.
    since = to_the_hour(since)
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

    rows = await session.execute(
        select(Event.name, func.count())
        .where(recent, Event.kind == "service")
        .group_by(Event.name)
        .order_by(func.count().desc(), Event.name)
        .limit(top)
    )
    report.services_shown = {str(name): int(n) for name, n in rows}

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
    """The report as plain text for a terminal, counts as :mod:`bot.disclosure` allows."""
    data = report.as_json()
    lines = [f"Since {report.since:%Y-%m-%d %H:%M} UTC", ""]
    lines.append(f"New users: {data['users_new']}")
    lines.append("Active users by language: " + _pairs(report.users_by_language))
    lines.append("New users by source (with consent): " + _pairs(report.users_by_source))
    lines.append("Deep links opened by source: " + _pairs(report.links_by_source))
    lines.append("Messages received by kind: " + _pairs(report.inbound_by_kind))
    lines.append("Intents understood: " + _pairs(report.intents))
    lines += ["", f"{'message key':<40} {'lang':<5} {'served':>7} {'fallback':>9}"]
    for row in data["served"]:
        lines.append(
            f"{row['key']:<40} {row['language'] or '-':<5} {row['count']!s:>7}"
            f" {row['fallbacks']!s:>9}"
        )
    lines += ["", "Served by content version: " + _pairs(report.served_by_version)]
    lines += ["", "Service cards shown: " + _pairs(report.services_shown)]
    if data["quiz"]:
        lines += ["", f"{'quiz question':<40} {'answers':>8} {'correct':>8}"]
        for q in data["quiz"]:
            label = f"{q['topic']} {q['question']}"
            lines.append(f"{label:<40} {q['answers']!s:>8} {q['share']:>8}")
    lines += ["", "Published content versions (newest first):"]
    for v in report.versions:
        lines.append(f"  {v['version']}  {v['published_at'][:19]}  {v['published_by']}")
    return "\n".join(lines)


def _pairs(counts: dict[str, int]) -> str:
    """``key count, ...``, largest first by the count shown (the exact order would rank
    the hidden ones), then by key."""
    if not counts:
        return "none"
    ordered = sorted(shown_counts(counts).items(), key=lambda kv: (-_rank(kv[1]), kv[0]))
    return ", ".join(f"{key} {value}" for key, value in ordered)


def _served_rows(served: list[ServedCount]) -> list[dict[str, Any]]:
    """The served table to publish: rows of 1 to 4 left out and counted in one
    :data:`~bot.disclosure.OTHER` row; ordered by the counts shown (the exact order would
    rank rows that look the same)."""
    kept = sorted(
        (row for row in served if row.count >= MIN_CELL),
        key=lambda r: (-_rank(shown(r.count)), r.key, r.language or ""),
    )
    rows: list[dict[str, Any]] = [
        {
            "key": row.key,
            "language": row.language,
            "count": shown(row.count),
            "fallbacks": shown(row.fallbacks),
        }
        for row in kept
    ]
    small = [row for row in served if 0 < row.count < MIN_CELL]
    if small:
        rows.append(
            {
                "key": OTHER,
                "language": None,
                "count": shown(sum(row.count for row in small)),
                "fallbacks": shown(sum(row.fallbacks for row in small)),
            }
        )
    return rows


def _rank(value: Shown) -> float:
    """A shown count's place in an order: hidden ones between 0 and 5."""
    return 1.0 if value == HIDDEN else float(value)
