"""Segments over stored facts: each criterion, and who is never a recipient, on both
databases (the same SQLAlchemy expressions on SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from bot.campaigns.segments import Segment, criteria
from bot.store.audience import Recipient, audience, audience_pages, count, languages
from bot.store.db import Database
from bot.store.models import User, UserTopic

NOW = datetime(2026, 12, 10, 12, 0, tzinfo=UTC)

#: external id -> (user fields, topics seen). Only t1..t4 and t8 can receive campaigns.
PEOPLE: dict[str, tuple[dict[str, Any], list[str]]] = {
    "t1": (
        dict(
            language="fr",
            region="kita",
            country="mali",
            age_bracket="15-17",
            situation="resident",
            acquisition_source="radio_kayes",
            last_days=1,
        ),
        ["sahara"],
    ),
    "t2": (
        dict(
            language="bm",
            region="kayes",
            country="mali",
            age_bracket="18-24",
            situation="returnee",
            acquisition_source="poster_gao",
            last_days=10,
        ),
        ["sea", "legal_paths"],
    ),
    "t3": (
        dict(
            language="bm",
            country="france",
            age_bracket="25-34",
            situation="diaspora",
            acquisition_source="radio_bamako",
            last_days=40,
        ),
        [],
    ),
    "t4": (dict(language="snk", region="gao", country="mali", age_bracket="35+", last_days=2), []),
    # "_" must not act as LIKE's wildcard: a prefix radio_ does not match radioz...
    "t8": (dict(language="fr", acquisition_source="radiozkayes", last_days=0), []),
    # Never recipients: not subscribed, blocked, another channel.
    "t5": (dict(language="fr", subscribed=False, last_days=1), ["sahara"]),
    "t6": (dict(language="fr", blocked=True, last_days=1), ["sahara"]),
    "c7": (dict(language="fr", channel="console", last_days=1), ["sahara"]),
}
EVERYONE = {"t1", "t2", "t3", "t4", "t8"}


@pytest.fixture
async def people(database: Database) -> dict[int, str]:
    """The users above; returns internal id -> external id."""
    ids: dict[int, str] = {}
    async with database.transaction() as session:
        for external, (fields, topics) in PEOPLE.items():
            fields = dict(fields)
            seen = NOW - timedelta(days=fields.pop("last_days"), hours=1)
            row = User(
                channel=fields.pop("channel", "telegram"),
                external_id=external,
                subscribed=fields.pop("subscribed", True),
                subscribed_at=NOW - timedelta(days=3),
                blocked_at=NOW if fields.pop("blocked", False) else None,
                consent=True,
                last_seen_at=seen,
                **fields,
            )
            session.add(row)
            await session.flush()
            ids[row.id] = external
            for topic in topics:
                session.add(UserTopic(user_id=row.id, topic=topic))
    return ids


async def who(database: Database, people: dict[int, str], **criteria: Any) -> set[str]:
    """Who a segment reaches; minors allowed unless said (each criterion is tested alone)."""
    segment = Segment.model_validate({"minors": "allowed", **criteria})
    async with database.transaction() as session:
        found = await audience(session, segment, now=NOW)
        assert await count(session, segment, now=NOW) == len(found)
    return {people[r.user_id] for r in found}


async def test_no_criterion_is_every_subscriber_who_can_be_reached(
    database: Database, people: dict[int, str]
) -> None:
    assert await who(database, people) == EVERYONE


async def test_recipients_carry_chat_language_and_aware_subscription_time(
    database: Database, people: dict[int, str]
) -> None:
    async with database.transaction() as session:
        found = await audience(session, Segment(languages=["bm"]), now=NOW)
    assert [r.chat_id for r in found] == ["t2", "t3"]  # ordered by user id
    first = found[0]
    assert isinstance(first, Recipient) and first.language == "bm"
    assert first.subscribed_at == NOW - timedelta(days=3)
    assert first.subscribed_at is not None and first.subscribed_at.tzinfo is not None


async def test_a_whole_audience_is_read_a_page_at_a_time(
    database: Database, people: dict[int, str]
) -> None:
    """Pages of 2: every recipient once, in user id order, whatever the page size; the
    counts per language without reading anyone."""
    everyone = Segment.model_validate({"minors": "allowed"})
    async with database.transaction() as session:
        pages = [page async for page in audience_pages(session, everyone, now=NOW, size=2)]
        whole = await audience(session, everyone, now=NOW)
        spoken = await languages(session, everyone, now=NOW)
    assert [len(page) for page in pages] == [2, 2, 1]
    assert [r for page in pages for r in page] == whole
    assert {people[r.user_id] for r in whole} == EVERYONE
    assert spoken == {"fr": 2, "bm": 2, "snk": 1}


async def test_language(database: Database, people: dict[int, str]) -> None:
    assert await who(database, people, languages=["bm"]) == {"t2", "t3"}
    assert await who(database, people, languages=["fr", "snk"]) == {"t1", "t4", "t8"}


async def test_region_matches_its_towns_and_country_lists_combine(
    database: Database, people: dict[int, str]
) -> None:
    assert await who(database, people, regions=["kayes"]) == {"t1", "t2"}  # kita is in kayes
    assert await who(database, people, regions=["kita"]) == {"t1"}
    assert await who(database, people, countries=["france"]) == {"t3"}
    assert await who(database, people, countries=["mali"]) == {"t1", "t2", "t4"}
    assert await who(database, people, regions=["gao"], countries=["france"]) == {"t3", "t4"}


async def test_age_bracket_and_situation(database: Database, people: dict[int, str]) -> None:
    assert await who(database, people, age_brackets=["15-17", "35+"]) == {"t1", "t4"}
    assert await who(database, people, situations=["returnee", "diaspora"]) == {"t2", "t3"}
    assert await who(database, people, situations=["resident"]) == {"t1"}


async def test_acquisition_source_exact_or_prefix(
    database: Database, people: dict[int, str]
) -> None:
    assert await who(database, people, sources=["poster_gao"]) == {"t2"}
    assert await who(database, people, source_prefixes=["radio_"]) == {"t1", "t3"}
    assert await who(database, people, sources=["poster_gao"], source_prefixes=["radio_"]) == {
        "t1",
        "t2",
        "t3",
    }


async def test_topics_seen_any_of_and_none_of(database: Database, people: dict[int, str]) -> None:
    assert await who(database, people, topics_seen=["sea"]) == {"t2"}
    assert await who(database, people, topics_seen=["sahara", "legal_paths"]) == {"t1", "t2"}
    assert await who(database, people, topics_not_seen=["legal_paths"]) == {"t1", "t3", "t4", "t8"}
    assert await who(database, people, topics_not_seen=["sahara", "sea"]) == {"t3", "t4", "t8"}


async def test_last_activity(database: Database, people: dict[int, str]) -> None:
    assert await who(database, people, active_within_days=7) == {"t1", "t4", "t8"}
    assert await who(database, people, inactive_for_days=30) == {"t3"}
    assert await who(database, people, active_within_days=30, inactive_for_days=5) == {"t2"}


async def test_criteria_combine_with_and(database: Database, people: dict[int, str]) -> None:
    assert await who(database, people, languages=["bm"], situations=["returnee"]) == {"t2"}
    assert await who(database, people, languages=["fr"], regions=["gao"]) == set()


async def test_people_who_said_15_17_are_left_out_unless_minors_are_allowed(
    database: Database, people: dict[int, str]
) -> None:
    everyone_but_t1 = EVERYONE - {"t1"}  # t1 said 15-17
    assert await who(database, people, minors="excluded") == everyone_but_t1
    async with database.transaction() as session:
        default = await audience(session, Segment(), now=NOW)
        by_language = await count(session, Segment(languages=["fr"]), now=NOW)
    assert {people[r.user_id] for r in default} == everyone_but_t1  # the default excludes
    assert by_language == 1  # t8 only; t1 is French too
    # Unknown ages (t8 never said) stay in; allowing minors adds t1 back.
    assert await who(database, people, languages=["fr"]) == {"t1", "t8"}


def test_a_segment_selecting_15_17_must_allow_minors() -> None:
    with pytest.raises(ValidationError, match="minors: allowed"):
        Segment.model_validate({"age_brackets": ["18-24", "15-17"]})
    with pytest.raises(ValidationError, match="minors: allowed"):
        Segment.model_validate({"age_brackets": ["15-17"], "minors": "excluded"})
    allowed = Segment.model_validate({"age_brackets": ["15-17"], "minors": "allowed"})
    assert allowed.excluded_age_brackets == []
    assert Segment(age_brackets=["18-24"]).excluded_age_brackets == ["15-17"]
    with pytest.raises(ValidationError):
        Segment.model_validate({"minors": "sometimes"})


def test_the_plan_criteria_keep_the_minors_rule() -> None:
    segment = Segment.model_validate(
        {"languages": ["fr"], "age_brackets": ["15-17"], "minors": "allowed"}
    )
    parts = criteria(segment)
    assert [label for label, _ in parts] == ["languages: fr", "age_brackets: 15-17"]
    assert all(part.excluded_age_brackets == [] for _, part in parts)
    assert all(
        part.excluded_age_brackets == ["15-17"] for _, part in criteria(Segment(languages=["fr"]))
    )


def test_bad_segment_values_are_refused() -> None:
    for bad in (
        {"regions": ["atlantis"]},
        {"countries": ["narnia"]},
        {"age_brackets": ["12-14"]},
        {"situations": ["tourist"]},
        {"sources": ["has space"]},
        {"languages": ["fr", "fr"]},
        {"active_within_days": 5, "inactive_for_days": 10},
        {"colour": "red"},
    ):
        with pytest.raises(ValidationError):
            Segment.model_validate(bad)


def test_criteria_are_listed_one_by_one_for_the_plan() -> None:
    segment = Segment(
        languages=["fr"], regions=["kayes"], countries=["france"], topics_not_seen=["sea"]
    )
    labels = [label for label, _ in criteria(segment)]
    assert labels == [
        "languages: fr",
        "regions: kayes; countries: france",
        "topics_not_seen: sea",
    ]
    assert criteria(Segment()) == []
