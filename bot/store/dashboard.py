"""The console's dashboard: aggregate SQL over users, events, quiz answers, referrals,
handovers and broadcast runs, for a period and filters, on SQLite and PostgreSQL.

Every function returns exact counts in :class:`Table` rows; what leaves the program goes
through :mod:`bot.disclosure` (``bot/web/console/tables.py``). No query returns a row
about one person: every select is grouped. The definitions of each table are in
docs/console.md.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    and_,
    case,
    cast,
    distinct,
    false,
    func,
    insert,
    literal,
    or_,
    select,
    true,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.models import (
    PROGRESS_ASKED_FOR_HELP,
    PROGRESS_FINISHED_MODULE,
    PROGRESS_OPENED_MODULE,
    BroadcastRun,
    Event,
    EventDay,
    EventDayRolled,
    Handover,
    OutboxMessage,
    QuizAnswer,
    Referral,
    ReferralEvent,
    User,
)

#: The message served when the bot sees an emergency: the emergency contacts.
EMERGENCY_KEY = "intent.emergency"
#: Statuses that say a partner has the referral in hand (acknowledged).
ACKNOWLEDGED = ("received", "in_progress", "closed")


@dataclass(frozen=True)
class Filters:
    """Who a dashboard counts: people with these attributes (None: anyone)."""

    language: str | None = None
    #: A Malian place (region) or a country.
    place: str | None = None
    age: str | None = None
    situation: str | None = None
    source: str | None = None

    @property
    def active(self) -> bool:
        return any((self.language, self.place, self.age, self.situation, self.source))


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime

    @property
    def previous(self) -> Period:
        return Period(self.start - (self.end - self.start), self.start)


@dataclass
class Table:
    """One chart's numbers. The first ``labels`` columns name a row, the rest are counts.

    ``kind``: ``series`` (a row per day), ``breakdown`` (a row per category: small lines
    are folded into one), ``figures`` (headline counts, now and in the previous period),
    ``funnel`` (steps, in order).
    """

    name: str
    columns: tuple[str, ...]
    labels: int
    kind: str
    rows: list[tuple[Any, ...]] = field(default_factory=list)


def _user_conditions(filters: Filters) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if filters.language:
        conditions.append(User.language == filters.language)
    if filters.place:
        conditions.append(or_(User.region == filters.place, User.country == filters.place))
    if filters.age:
        conditions.append(User.age_bracket == filters.age)
    if filters.situation:
        conditions.append(User.situation == filters.situation)
    if filters.source:
        conditions.append(User.acquisition_source == filters.source)
    return conditions


def _people(column: Any, filters: Filters) -> list[ColumnElement[bool]]:
    """``column`` (a user id) belongs to someone the filters keep. Rows linked to nobody
    (no consent, erased) are counted only when no filter is set."""
    if not filters.active:
        return []
    return [column.in_(select(User.id).where(*_user_conditions(filters)))]


def _within(column: Any, period: Period) -> ColumnElement[bool]:
    return and_(column >= period.start, column < period.end)


def _day(column: Any) -> Any:
    return func.date(column)


async def _count(session: AsyncSession, query: Any) -> int:
    return int(await session.scalar(query) or 0)


async def _series(
    session: AsyncSession, column: Any, *conditions: ColumnElement[bool]
) -> dict[str, int]:
    day = _day(column)
    rows = await session.execute(
        select(day, func.count()).where(*conditions).group_by(day).order_by(day)
    )
    return {str(d): int(n) for d, n in rows}


async def _breakdown(
    session: AsyncSession, column: Any, *conditions: ColumnElement[bool], count: Any = None
) -> dict[str, int]:
    rows = await session.execute(
        select(column, count if count is not None else func.count())
        .where(*conditions)
        .group_by(column)
        .order_by(column)
    )
    return {("-" if k is None else str(k)): int(n) for k, n in rows}


def _days(period: Period) -> list[str]:
    """Each day (UTC) the period touches, in order."""
    days = []
    moment = period.start.replace(hour=0, minute=0, second=0, microsecond=0)
    while moment < period.end:
        days.append(moment.date().isoformat())
        moment += timedelta(days=1)
    return days


def _merge_series(period: Period, series: Mapping[str, Mapping[str, int]]) -> list[tuple[Any, ...]]:
    return [(day, *(s.get(day, 0) for s in series.values())) for day in _days(period)]


async def _figures(
    session: AsyncSession,
    period: Period,
    measures: Sequence[tuple[str, Any]],
) -> Table:
    """Headline figures, each a function of a period giving a count query."""
    table = Table("headline", ("figure", "current", "previous"), 1, "figures")
    for name, query_for in measures:
        now = await _count(session, query_for(period))
        before = await _count(session, query_for(period.previous))
        table.rows.append((name, now, before))
    return table


# --- Events per day: the roll-up -------------------------------------------------------
#
# Counting a month of events row by row takes seconds at a national campaign's size. The
# days that are over are counted once into ``event_days`` (day, kind, name, language,
# understood: no person in it) by the worker's elected copy (``bot/telegram/worker.py``,
# :func:`roll_up`), never by a web request; a section reads those days there and counts
# from ``events`` only the period's days not counted yet (the day in progress, and any
# day the worker has not reached). Events are never deleted (the erasure and the
# retention only unlink them from the person), so a day's counts, once taken, stay equal
# to its raw count. A filter on people (language, place, ...) needs each event's person:
# filtered views count the raw events.


def _understood() -> ColumnElement[bool]:
    """A typed message the NLU gave an intent."""
    return and_(
        Event.kind == "inbound",
        Event.name == "text",
        Event.data["intent"].as_string().is_not(None),
    )


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


async def roll_up_events(session: AsyncSession, *, today: date, days: int | None = None) -> int:
    """Count the days before ``today`` (UTC) not counted yet into ``event_days``, the
    oldest first and at most ``days`` of them (None: all); the number of days counted.
    Two processes doing it at once: one wins, the other's transaction fails on the days'
    keys and is dropped (:func:`roll_up`)."""
    last = await session.scalar(select(func.max(EventDayRolled.day)))
    if last is not None:
        first = (last if isinstance(last, date) else date.fromisoformat(str(last))) + timedelta(
            days=1
        )
    else:
        oldest = await session.scalar(select(func.min(Event.created_at)))
        if oldest is None:
            return 0
        first = oldest.astimezone(UTC).date()
    if days is not None:
        today = min(today, first + timedelta(days=days))
    if first >= today:
        return 0
    day = _day(Event.created_at)
    understood = case((_understood(), true()), else_=false())
    name, language = func.coalesce(Event.name, ""), func.coalesce(Event.language, "")
    await session.execute(
        insert(EventDay).from_select(
            ["day", "kind", "name", "language", "understood", "events"],
            select(day, Event.kind, name, language, understood, func.count())
            .where(Event.created_at >= _midnight(first), Event.created_at < _midnight(today))
            .group_by(day, Event.kind, name, language, understood),
        )
    )
    counted = [first + timedelta(days=n) for n in range((today - first).days)]
    await session.execute(insert(EventDayRolled), [{"day": d} for d in counted])
    return len(counted)


#: Days counted per transaction by :func:`roll_up`: a day of a national campaign is
#: counted in a fraction of a second, so SQLite's write lock is never held for long.
DAYS_AT_ONCE = 1


async def roll_up(database: Any, *, today: date, days_at_once: int = DAYS_AT_ONCE) -> int:
    """Every day before ``today`` not counted yet, ``days_at_once`` per transaction; the
    number of days counted (0 when another process did them first). The worker's elected
    copy calls it; a web request never does (a first count of 90 days takes most of a
    minute). Most calls find nothing to do: that is read first, without taking SQLite's
    write lock (a write transaction there would make the bot's own writes wait)."""
    total = 0
    while True:
        async with database.reading() as session:
            last = await session.scalar(select(func.max(EventDayRolled.day)))
        if last is not None:
            last = last if isinstance(last, date) else date.fromisoformat(str(last))
            if last + timedelta(days=1) >= today:
                return total
        try:
            async with database.transaction() as session:
                counted = await roll_up_events(session, today=today, days=days_at_once)
        except IntegrityError:
            return total
        if not counted:
            return total
        total += counted


@dataclass(frozen=True)
class EventCount:
    day: str
    name: str
    language: str
    understood: bool
    events: int


def _named(column: Any, names: Sequence[str], patterns: Sequence[str]) -> list[Any]:
    keys = [column.in_(list(names))] if names else []
    keys += [column.like(p) for p in patterns]
    return [or_(*keys)] if keys else []


async def event_counts(
    session: AsyncSession,
    period: Period,
    filters: Filters,
    *,
    kind: str,
    names: Sequence[str] = (),
    patterns: Sequence[str] = (),
) -> list[EventCount]:
    """Events of ``kind`` (named ``names`` or like ``patterns``; none given: any name) in
    the period, per day, name, language and understood: the counted days from
    ``event_days``, the rest from ``events``."""
    raw: list[Period] = [period]
    counted: list[EventCount] = []
    if not filters.active:
        last = await session.scalar(select(func.max(EventDayRolled.day)))
        if last is not None:
            last = last if isinstance(last, date) else date.fromisoformat(str(last))
            first_full = period.start.astimezone(UTC).date()
            if _midnight(first_full) < period.start:
                first_full += timedelta(days=1)
            end_full = min(period.end.astimezone(UTC).date(), last + timedelta(days=1))
            if first_full < end_full:
                rows = await session.execute(
                    select(
                        EventDay.day,
                        EventDay.name,
                        EventDay.language,
                        EventDay.understood,
                        func.sum(EventDay.events),
                    )
                    .where(
                        EventDay.kind == kind,
                        EventDay.day >= first_full,
                        EventDay.day < end_full,
                        *_named(EventDay.name, names, patterns),
                    )
                    .group_by(EventDay.day, EventDay.name, EventDay.language, EventDay.understood)
                )
                counted = [
                    EventCount(str(d), str(n), str(lang), bool(u), int(c))
                    for d, n, lang, u, c in rows
                ]
                raw = [
                    p
                    for p in (
                        Period(period.start, _midnight(first_full)),
                        Period(_midnight(end_full), period.end),
                    )
                    if p.start < p.end
                ]
    # Only a typed message can be understood: other kinds never read the row's data, so
    # their counts come from the index alone.
    understood = case((_understood(), 1), else_=0) if kind == "inbound" else literal(0)
    day = _day(Event.created_at)
    name, language = func.coalesce(Event.name, ""), func.coalesce(Event.language, "")
    for part in raw:
        rows = await session.execute(
            select(day, name, language, understood, func.count())
            .where(
                Event.kind == kind,
                _within(Event.created_at, part),
                *_named(Event.name, names, patterns),
                *_people(Event.user_id, filters),
            )
            .group_by(day, name, language, understood)
        )
        counted += [
            EventCount(str(d), str(n), str(lang), bool(u), int(c)) for d, n, lang, u, c in rows
        ]
    return counted


async def reach(session: AsyncSession, period: Period, filters: Filters) -> list[Table]:
    """New, active, subscribed, unsubscribed and blocked people; by language and source.
    Each moment (started, subscribed, left, blocked) is read once for this period and the
    one before, per day."""
    who = _user_conditions(filters)
    both = Period(period.previous.start, period.end)
    start = period.start

    # New people: per day over both periods at once (a day can hold both: a period may
    # start at any hour), then by language, source and place over this period.
    day = _day(User.created_at)
    current = case((User.created_at >= start, 1), else_=0)
    rows = await session.execute(
        select(current, day, func.count())
        .where(_within(User.created_at, both), *who)
        .group_by(current, day)
    )
    new_now = new_before = 0
    new_per_day: dict[str, int] = defaultdict(int)
    for now, d, n in rows:
        if now:
            new_now += int(n)
            new_per_day[str(d)] += int(n)
        else:
            new_before += int(n)
    # The three breakdowns from one pass over this period's new people (a few hundred
    # combinations at most: languages x sources x places).
    columns = (User.language, User.acquisition_source, func.coalesce(User.region, User.country))
    breakdowns: dict[str, dict[str, int]] = {
        name: defaultdict(int)
        for name in ("new_users_by_language", "new_users_by_source", "new_users_by_place")
    }
    grouped = await session.execute(
        select(*columns, func.count())
        .where(_within(User.created_at, period), *who)
        .group_by(*columns)
    )
    for *values, n in grouped:
        for name, value in zip(breakdowns, values, strict=True):
            breakdowns[name]["-" if value is None else str(value)] += int(n)

    # Subscribed, unsubscribed, blocked: per day over both periods, one read each.
    moments: dict[str, tuple[int, int, dict[str, int]]] = {}
    for name, column in (
        ("subscribed", User.subscribed_at),
        ("unsubscribed", User.unsubscribed_at),
        ("blocked", User.blocked_at),
    ):
        moment = _day(column)
        found = await session.execute(
            select(
                moment,
                func.sum(case((column >= start, 1), else_=0)),
                func.sum(case((column < start, 1), else_=0)),
            )
            .where(_within(column, both), *who)
            .group_by(moment)
        )
        per_day: dict[str, int] = {}
        now = before = 0
        for d, current, previous in found:
            now, before = now + int(current or 0), before + int(previous or 0)
            if current:
                per_day[str(d)] = int(current)
        moments[name] = (now, before, per_day)

    # Active people: the people (kept by the filters) with an event in the period, a
    # probe of the (user_id, created_at) index per person, instead of a distinct count
    # over a month of events. (Both periods in one pass costs more on PostgreSQL: the
    # probes become a subplan per row instead of a semi-join.)
    def active_in(p: Period) -> Any:
        found = select(Event.user_id).where(Event.user_id == User.id, _within(Event.created_at, p))
        return select(func.count()).select_from(User).where(found.exists(), *who)

    active_now, active_before = [
        await _count(session, active_in(p)) for p in (period, period.previous)
    ]

    headline = Table("headline", ("figure", "current", "previous"), 1, "figures")
    headline.rows = [
        ("new_users", new_now, new_before),
        ("active_users", int(active_now or 0), int(active_before or 0)),
        *((name, now, before) for name, (now, before, _) in moments.items()),
    ]
    new_series = Table("new_users_per_day", ("day", "new_users"), 1, "series")
    new_series.rows = _merge_series(period, {"new": new_per_day})
    subscriptions = Table(
        "subscriptions_per_day", ("day", "subscribed", "unsubscribed", "blocked"), 1, "series"
    )
    subscriptions.rows = _merge_series(
        period, {name: per_day for name, (_, _, per_day) in moments.items()}
    )
    tables = [headline, new_series, subscriptions]
    for name, counts in breakdowns.items():
        table = Table(name, ("category", "new_users"), 1, "breakdown")
        table.rows = sorted(counts.items())
        tables.append(table)
    return tables


async def funnel(session: AsyncSession, period: Period, filters: Filters) -> list[Table]:
    """People who started in the period, and how far they went (see docs/console.md)."""
    in_cohort = and_(_within(User.created_at, period), *_user_conditions(filters))
    cohort = select(User.id).where(in_cohort)

    def people_with(bit: int) -> Any:
        return func.sum(case((User.progress.op("&")(bit) != 0, 1), else_=0))

    # Every step but the quiz and the referral from the cohort's own rows, in one read
    # of the people's index: opened, finished and asked are the flags the bot keeps on
    # each person with consent (``users.progress``), set the first time it happened.
    started, chose, consented, opened, finished, asked = (
        int(n or 0)
        for n in (
            await session.execute(
                select(
                    func.count(),
                    func.count(User.language),
                    func.sum(case((User.consent.is_(True), 1), else_=0)),
                    people_with(PROGRESS_OPENED_MODULE),
                    people_with(PROGRESS_FINISHED_MODULE),
                    people_with(PROGRESS_ASKED_FOR_HELP),
                ).where(in_cohort)
            )
        ).one()
    )

    steps: list[tuple[str, Any]] = [
        ("started", started),
        ("chose_language", chose),
        ("consented", consented),
        ("opened_module", opened),
        ("finished_module", finished),
        (
            "answered_quiz",
            select(func.count(distinct(QuizAnswer.user_id))).where(QuizAnswer.user_id.in_(cohort)),
        ),
        ("asked_for_help", asked),
        # Joined to the cohort's rows (a lookup by id per referral) rather than tested
        # against a list of the cohort, which costs more to build than the few referrals.
        (
            "referred",
            select(func.count(distinct(Referral.user_id)))
            .join(User, User.id == Referral.user_id)
            .where(Referral.created_at >= period.start, in_cohort),
        ),
    ]
    table = Table("awareness_funnel", ("step", "people"), 1, "funnel")
    for name, query in steps:
        count = query if isinstance(query, int) else await _count(session, query)
        table.rows.append((name, count))
    return [table]


async def modules(
    session: AsyncSession,
    period: Period,
    filters: Filters,
    *,
    last_cards: Mapping[str, str] | None = None,
) -> list[Table]:
    """Module opens (first card served) and completions (last card served) per module and
    language; quiz answers and the share of right ones per question and language."""
    last = dict(last_cards or {})
    served = await event_counts(
        session,
        period,
        filters,
        kind="served",
        names=sorted(set(last.values())),
        patterns=["topic.%.card1"],
    )
    by_card = {card: topic for topic, card in last.items()}
    counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for row in served:
        key, language, n = row.name, row.language, row.events
        if key in by_card:
            counts[(by_card[key], language or "-")][1] += int(n)
        if key.endswith(".card1") and key.startswith("topic."):
            counts[(key.split(".")[1], language or "-")][0] += int(n)
    opens = Table("module_opens", ("module", "language", "opens", "completions"), 2, "breakdown")
    opens.rows = [(m, lang, o, c) for (m, lang), (o, c) in sorted(counts.items())]

    # The quiz: one read per question, language, place and age bracket; the three tables
    # are sums of it. Answers kept without a person (no consent, erased) count under "-".
    quiz_people = _people(QuizAnswer.user_id, filters)
    place = func.coalesce(User.region, User.country)
    keys = (QuizAnswer.topic, QuizAnswer.question, QuizAnswer.language, place, User.age_bracket)
    quiz_rows = await session.execute(
        select(*keys, func.count(), func.coalesce(func.sum(cast(QuizAnswer.correct, Integer)), 0))
        .join(User, User.id == QuizAnswer.user_id, isouter=True)
        .where(_within(QuizAnswer.answered_at, period), *quiz_people)
        .group_by(*keys)
    )
    shares: dict[str, dict[tuple[str, str, str], list[int]]] = {
        name: defaultdict(lambda: [0, 0])
        for name in ("quiz_answers", "quiz_answers_by_place", "quiz_answers_by_age")
    }
    for topic, question, said_in, where, age, n, right in quiz_rows:
        for name, value in (
            ("quiz_answers", said_in),
            ("quiz_answers_by_place", where),
            ("quiz_answers_by_age", age),
        ):
            cell = shares[name][(str(topic), str(question), "-" if not value else str(value))]
            cell[0] += int(n)
            cell[1] += int(right)
    tables: list[Table] = [opens]
    for name, header in (
        ("quiz_answers", "language"),
        ("quiz_answers_by_place", "place"),
        ("quiz_answers_by_age", "age"),
    ):
        table = Table(name, ("module", "question", header, "answers", "correct"), 3, "share")
        table.rows = [(*key, n, right) for key, (n, right) in sorted(shares[name].items())]
        tables.append(table)
    return tables


async def understanding(session: AsyncSession, period: Period, filters: Filters) -> list[Table]:
    """Typed messages per day: understood (an intent), clarified (asked to choose), fell
    back (not understood); emergencies (emergency contacts shown)."""
    typed = await event_counts(session, period, filters, kind="inbound", names=["text"])
    served = await event_counts(
        session,
        period,
        filters,
        kind="served",
        names=["clarify.choose", EMERGENCY_KEY],
        patterns=["fallback.%"],
    )
    columns = ("understood", "clarified", "fallback", "emergencies")
    by_day: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    by_language: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for row in [*typed, *served]:
        if row.name == "text":
            if not row.understood:
                continue
            which = 0
        elif row.name == "clarify.choose":
            which = 1
        elif row.name == EMERGENCY_KEY:
            which = 3
        else:
            which = 2
        by_day[row.day][which] += row.events
        by_language[row.language or "-"][which] += row.events
    per_day = Table("understanding_per_day", ("day", *columns), 1, "series")
    per_day.rows = [(d, *by_day.get(d, (0, 0, 0, 0))) for d in _days(period)]
    per_language = Table("understanding_by_language", ("language", *columns), 1, "breakdown")
    per_language.rows = sorted((lang, *counts) for lang, counts in by_language.items())
    return [per_day, per_language]


async def help_desk(
    session: AsyncSession,
    period: Period,
    filters: Filters,
    *,
    services: Sequence[str] | None = None,
) -> list[Table]:
    """Referrals by need, service and status; hours to acknowledgement and to closure per
    service (medians); handovers opened; service cards shown. ``services`` limits the
    referrals and cards to those services (a partner's own)."""
    where = [_within(Referral.created_at, period), *_people(Referral.user_id, filters)]
    if services is not None:
        where.append(Referral.service_id.in_(list(services)))
    tables: list[Table] = []
    for name, column in (
        ("referrals_by_need", Referral.need),
        ("referrals_by_service", Referral.service_id),
        ("referrals_by_status", Referral.status),
    ):
        table = Table(name, ("category", "referrals"), 1, "breakdown")
        table.rows = list((await _breakdown(session, column, *where)).items())
        tables.append(table)

    # The first moment each referral reached an acknowledged status, and closure.
    acknowledged = (
        select(ReferralEvent.referral_id, func.min(ReferralEvent.created_at).label("at"))
        .where(ReferralEvent.status_to.in_(ACKNOWLEDGED))
        .group_by(ReferralEvent.referral_id)
        .subquery()
    )
    closed = (
        select(ReferralEvent.referral_id, func.min(ReferralEvent.created_at).label("at"))
        .where(ReferralEvent.status_to == "closed")
        .group_by(ReferralEvent.referral_id)
        .subquery()
    )
    delays: dict[str, tuple[list[float], list[float]]] = defaultdict(lambda: ([], []))
    for index, moments in enumerate((acknowledged, closed)):
        rows = await session.execute(
            select(Referral.service_id, Referral.created_at, moments.c.at)
            .join(moments, moments.c.referral_id == Referral.id)
            .where(*where)
        )
        for service, created, at in rows:
            hours = (at - created).total_seconds() / 3600
            delays[str(service)][index].append(hours)
    timing = Table(
        "hours_to_acknowledgement_and_closure",
        (
            "service",
            "acknowledged",
            "median_hours_to_acknowledge",
            "closed",
            "median_hours_to_close",
        ),
        1,
        "delays",
    )
    for service, (acks, closes) in sorted(delays.items()):
        timing.rows.append(
            (
                service,
                len(acks),
                round(statistics.median(acks), 1) if acks else None,
                len(closes),
                round(statistics.median(closes), 1) if closes else None,
            )
        )
    tables.append(timing)

    if services is None:
        handovers = Table("handovers_opened", ("figure", "current", "previous"), 1, "figures")
        for_period = [
            await _count(
                session,
                select(func.count())
                .select_from(Handover)
                .where(_within(Handover.opened_at, p), *_people(Handover.user_id, filters)),
            )
            for p in (period, period.previous)
        ]
        handovers.rows = [("handovers_opened", *for_period)]
        tables.append(handovers)
        per_day = Table("handovers_per_day", ("day", "handovers_opened"), 1, "series")
        per_day.rows = _merge_series(
            period,
            {
                "opened": await _series(
                    session,
                    Handover.opened_at,
                    _within(Handover.opened_at, period),
                    *_people(Handover.user_id, filters),
                )
            },
        )
        tables.append(per_day)
    shown = Table("service_cards_shown", ("service", "shown"), 1, "breakdown")
    per_card: dict[str, int] = defaultdict(int)
    # A partner sees the cards of its own services only (none: nothing).
    if services is None or services:
        for row in await event_counts(
            session, period, filters, kind="service", names=list(services or ())
        ):
            per_card[row.name] += row.events
    shown.rows = sorted(per_card.items(), key=lambda item: (-item[1], item[0]))
    tables.append(shown)
    return tables


async def broadcasts(session: AsyncSession, period: Period, filters: Filters) -> list[Table]:
    """Runs created in the period with their audience and what became of each message."""
    status = OutboxMessage.status
    # The person blocked the bot: the sender or the claim wrote "blocked" as the error.
    blocked = OutboxMessage.error == "blocked"
    sums = [
        func.count(OutboxMessage.id),
        func.sum(case((status == "sent", 1), else_=0)),
        func.sum(
            case(
                (and_(status == "failed", func.coalesce(OutboxMessage.error, "") != "blocked"), 1),
                else_=0,
            )
        ),
        func.sum(case((blocked, 1), else_=0)),
    ]
    rows = await session.execute(
        select(BroadcastRun.id, BroadcastRun.name, BroadcastRun.status, *sums)
        .join(OutboxMessage, OutboxMessage.run_id == BroadcastRun.id, isouter=True)
        .where(_within(BroadcastRun.created_at, period), *_people(OutboxMessage.user_id, filters))
        .group_by(BroadcastRun.id, BroadcastRun.name, BroadcastRun.status)
        .order_by(BroadcastRun.id)
    )
    table = Table(
        "broadcast_runs",
        ("run", "campaign", "status", "audience", "delivered", "failed", "blocked"),
        3,
        "runs",
    )
    table.rows = [
        (int(i), str(n), str(s), int(a or 0), int(d or 0), int(f or 0), int(b or 0))
        for i, n, s, a, d, f, b in rows
    ]
    return [table]


#: The dashboard's sections, in the menu's order.
SECTIONS = ("reach", "funnel", "modules", "understanding", "help", "broadcasts")


async def choices(session: AsyncSession) -> dict[str, list[str]]:
    """The values each filter offers: those present in the users table, none of them rare
    enough to point at someone (a value held by fewer than 5 people is not offered).
    One pass over the ``ix_users_profile`` index, grouped by the attributes at once."""
    columns = (
        User.language,
        User.region,
        User.country,
        User.age_bracket,
        User.situation,
        User.acquisition_source,
    )
    held: dict[str, dict[str, int]] = {
        name: defaultdict(int) for name in ("language", "place", "age", "situation", "source")
    }
    rows = await session.execute(select(*columns, func.count()).group_by(*columns))
    for language, region, country, age, situation, source, n in rows:
        place = region if region is not None else country
        for name, value in (
            ("language", language),
            ("place", place),
            ("age", age),
            ("situation", situation),
            ("source", source),
        ):
            if value is not None:
                held[name][str(value)] += int(n)
    return {
        name: sorted(value for value, n in counts.items() if n >= 5)
        for name, counts in held.items()
    }
