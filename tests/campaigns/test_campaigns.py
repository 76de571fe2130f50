"""Campaign files (content/broadcasts/), quiet hours in Mali time, drip days, the
language each recipient reads, and ``kunnafoni broadcast plan``."""

from __future__ import annotations

import json
import shutil
from datetime import datetime, time, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from bot.campaigns.definitions import (
    after_quiet_hours,
    due_messages,
    language_for,
    load_campaigns,
)
from bot.campaigns.plan import plan, render
from bot.cli import main
from bot.content.catalog import Catalog, TranslationState
from bot.content.loader import check_content
from bot.content.models import Campaign, QuietHours
from bot.store.audience import Recipient
from bot.store.db import Database, upgrade_database
from bot.store.models import User, UserTopic
from tests.support.environment import CONTENT_DIR, run_blocking


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


DEFAULT_QUIET = QuietHours()


# --- quiet hours ------------------------------------------------------------------------------


def test_quiet_hours_move_a_time_to_their_end_in_mali_time() -> None:
    assert after_quiet_hours(at("2026-12-10T22:30:00+00:00"), DEFAULT_QUIET) == at(
        "2026-12-11T08:00:00+00:00"
    )
    assert after_quiet_hours(at("2026-12-10T21:00:00+00:00"), DEFAULT_QUIET) == at(
        "2026-12-11T08:00:00+00:00"
    )
    assert after_quiet_hours(at("2026-12-11T07:59:00+00:00"), DEFAULT_QUIET) == at(
        "2026-12-11T08:00:00+00:00"
    )
    for outside in ("2026-12-11T08:00:00+00:00", "2026-12-11T20:59:00+00:00"):
        assert after_quiet_hours(at(outside), DEFAULT_QUIET) == at(outside)
    # Another offset is the same instant: 23:30 in Paris (+01:00) is 22:30 in Bamako.
    assert after_quiet_hours(at("2026-12-10T23:30:00+01:00"), DEFAULT_QUIET) == at(
        "2026-12-11T08:00:00+00:00"
    )
    siesta = QuietHours(start=time(13, 0), end=time(15, 0))
    assert after_quiet_hours(at("2026-12-10T14:00:00+00:00"), siesta) == at(
        "2026-12-10T15:00:00+00:00"
    )
    assert after_quiet_hours(at("2026-12-10T16:00:00+00:00"), siesta) == at(
        "2026-12-10T16:00:00+00:00"
    )


def oneoff(when: str, **extra: object) -> Campaign:
    return Campaign.model_validate(
        {
            "name": "test",
            "kind": "oneoff",
            "when": when,
            "message": "broadcast.legal_paths_reminder",
            **extra,
        }
    )


def drip() -> Campaign:
    return Campaign.model_validate(
        {
            "name": "drip",
            "kind": "drip",
            "steps": [
                {"day": 0, "message": "broadcast.weekly_quiz.sahara"},
                {"day": 3, "message": "broadcast.weekly_quiz.sea"},
                {"day": 10, "message": "broadcast.weekly_quiz.smugglers"},
            ],
        }
    )


ANNA = Recipient(1, "111", "fr", at("2026-12-01T09:00:00+00:00"))
BOUBA = Recipient(2, "222", "bm", at("2026-12-02T09:00:00+00:00"))
NEVER = Recipient(3, "333", "fr", None)


def test_a_oneoff_due_at_22_30_mali_time_goes_at_8(catalog: Catalog) -> None:
    campaign = oneoff("2026-12-18T22:30:00+00:00")
    due = due_messages(catalog, campaign, [ANNA, BOUBA], now=at("2026-12-17T12:00:00+00:00"))
    assert [(d.recipient, d.step, d.message_key) for d in due] == [
        (ANNA, 0, "broadcast.legal_paths_reminder"),
        (BOUBA, 0, "broadcast.legal_paths_reminder"),
    ]
    assert {d.not_before for d in due} == {at("2026-12-19T08:00:00+00:00")}
    # A one-off whose time has passed goes now (out of quiet hours); its own quiet hours rule.
    late = due_messages(catalog, campaign, [ANNA], now=at("2026-12-20T10:00:00+00:00"))
    assert late[0].not_before == at("2026-12-20T10:00:00+00:00")
    custom = oneoff("2026-12-18T22:30:00+00:00", quiet_hours={"start": "23:00", "end": "06:00"})
    assert due_messages(catalog, custom, [ANNA], now=at("2026-12-17T12:00:00+00:00"))[
        0
    ].not_before == at("2026-12-18T22:30:00+00:00")


def test_drip_steps_follow_each_users_subscription_day(catalog: Catalog) -> None:
    campaign = drip()

    def steps(now: str) -> list[tuple[int, int]]:
        return [
            (d.recipient.user_id, d.step)
            for d in due_messages(catalog, campaign, [ANNA, BOUBA, NEVER], now=at(now))
        ]

    assert steps("2026-12-01T10:00:00+00:00") == [(1, 0)]
    assert steps("2026-12-02T10:00:00+00:00") == [(1, 0), (2, 0)]  # within catch-up days
    # Anna's day 0 is 3 days late: past the 2 catch-up days; Bouba's is just within.
    assert steps("2026-12-04T09:00:00+00:00") == [(1, 3), (2, 0)]
    assert steps("2026-12-05T08:59:00+00:00") == [(1, 3)]  # Bouba's day 3 is at 09:00
    assert steps("2026-12-05T09:00:00+00:00") == [(1, 3), (2, 3)]
    assert steps("2026-12-30T10:00:00+00:00") == []  # everything is too late
    # Due in quiet hours: not before their end.
    night = due_messages(catalog, campaign, [ANNA], now=at("2026-12-04T23:00:00+00:00"))
    assert [(d.step, d.not_before) for d in night] == [(3, at("2026-12-05T08:00:00+00:00"))]


def test_each_recipient_reads_the_first_language_of_their_chain_with_the_text(
    catalog: Catalog,
) -> None:
    key = "broadcast.weekly_quiz.sahara"
    assert language_for(catalog, key, "bm") == "bm"
    assert language_for(catalog, key, "fr") == "fr"
    assert language_for(catalog, key, None) == "fr"
    # Soninke has only key messages: its chain is snk, bm, fr.
    assert key not in catalog.messages["snk"]
    assert language_for(catalog, key, "snk") == "bm"
    assert language_for(catalog, "unsubscribe.done", "snk") == "snk"


# --- the real campaigns -----------------------------------------------------------------------


def test_real_campaigns_load_with_french_and_bambara_texts(catalog: Catalog) -> None:
    campaigns = load_campaigns(CONTENT_DIR)
    assert set(campaigns) == {"weekly_quiz", "legal_paths_reminder", "returnee_support"}
    assert campaigns == dict(catalog.campaigns)
    assert campaigns["weekly_quiz"].kind.value == "drip"
    assert [s.day for s in campaigns["weekly_quiz"].steps] == [1, 8, 15, 22]
    assert campaigns["legal_paths_reminder"].segment.topics_not_seen == ["legal_paths"]
    keys = {s.message for c in campaigns.values() for s in c.steps} | {
        c.message for c in campaigns.values() if c.message
    }
    assert len(keys) == 6
    for key in keys:
        assert key in catalog.messages["fr"]
        assert catalog.state("bm", key) is TranslationState.DRAFT


# --- file errors ------------------------------------------------------------------------------


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    target = tmp_path / "content"
    shutil.copytree(CONTENT_DIR, target)
    return target


def problems_in(tree: Path, name: str, body: str) -> list[str]:
    path = tree / "broadcasts" / f"{name}.yml"
    path.write_text(body, encoding="utf-8")
    return [str(p) for p in check_content(tree) if p.file == str(path)]


def test_links_to_unknown_messages_languages_and_topics_and_repeated_days(tree: Path) -> None:
    path = tree / "broadcasts" / "bad.yml"
    found = problems_in(
        tree,
        "bad",
        "kind: drip\n"
        "segment:\n"
        "  languages: [fr, xx]\n"
        "  topics_seen: [sahara, atlantis]\n"
        "steps:\n"
        "  - day: 0\n"
        "    message: no.such.key\n"
        "  - day: 0\n"
        "    message: broadcast.weekly_quiz.sea\n",
    )
    assert found == [
        f"{path}:3: segment: language 'xx' is not declared in languages.yml",
        f"{path}:4: segment: unknown topic 'atlantis' (known: family_debt, home_opportunities,"
        " leave_desert, leave_elsewhere, leave_sea, leave_west_africa, legal_paths, libya,"
        " life_abroad, myths, returnee_stories, sahara, sea, smugglers)",
        f"{path}:7: message 'no.such.key' has no fr text",
        f"{path}:8: day 0 is repeated (first at line 6)",
    ]


def test_shape_errors_have_their_line(tree: Path) -> None:
    path = tree / "broadcasts" / "shape.yml"
    found = problems_in(
        tree,
        "shape",
        "kind: oneoff\n"
        "when: 2026-12-18T10:00:00\n"
        "segment:\n"
        "  regions: [atlantis]\n"
        "  age_brackets: [12-14]\n"
        "message: broadcast.legal_paths_reminder\n",
    )
    assert any(p.startswith(f"{path}:2: when:") and "timezone" in p for p in found), found
    place = f"{path}:4: segment.regions.0: unknown place 'atlantis'"
    assert any(p.startswith(place) for p in found), found
    assert any(p.startswith(f"{path}:5: segment.age_brackets.0:") for p in found), found
    found = problems_in(tree, "shape", "kind: oneoff\nmessage: broadcast.legal_paths_reminder\n")
    assert found == [f"{path}:1: a oneoff campaign needs when and message"]
    found = problems_in(tree, "shape", "name: x\nkind: drip\nsteps: []\n")
    assert f"{path}:1: unknown key 'name'" in found
    found = problems_in(
        tree,
        "shape",
        "kind: drip\nsteps:\n  - {day: 1, message: broadcast.weekly_quiz.sea}\n"
        "quiet_hours: {start: '25:00', end: '08:00'}\n",
    )
    assert len(found) == 1 and found[0].startswith(f"{path}:4: quiet_hours.start:")


def test_a_campaign_file_name_must_be_an_identifier(tree: Path) -> None:
    path = tree / "broadcasts" / "Bad-Name.yml"
    found = problems_in(
        tree,
        "Bad-Name",
        "kind: oneoff\nwhen: 2026-12-18T10:00:00+00:00\nmessage: broadcast.legal_paths_reminder\n",
    )
    assert found == [f"{path}:1: campaign file names use lower-case letters, digits and _ only"]


# --- plan -------------------------------------------------------------------------------------

NOW = at("2026-12-10T12:00:00+00:00")

#: external id -> (language, subscribed, topics seen, days since subscribing)
CROWD: dict[str, tuple[str | None, bool, list[str], int]] = {
    "p1": ("fr", True, [], 1),
    "p2": ("bm", True, ["sahara"], 8),
    "p3": ("snk", True, [], 1),
    "p4": ("bm", True, ["legal_paths"], 30),
    "p5": ("fr", False, [], 1),
    "p6": (None, True, [], 3),
}


async def seed(database: Database) -> None:
    async with database.transaction() as session:
        for external, (language, subscribed, topics, days) in CROWD.items():
            row = User(
                channel="telegram",
                external_id=external,
                language=language,
                subscribed=subscribed,
                subscribed_at=NOW - timedelta(days=days, hours=1),
                last_seen_at=NOW,
            )
            session.add(row)
            await session.flush()
            for topic in topics:
                session.add(UserTopic(user_id=row.id, topic=topic))


async def test_plan_counts_languages_after_fallback_and_each_criterion(
    database: Database, catalog: Catalog
) -> None:
    await seed(database)
    async with database.transaction() as session:
        oneoff_plan = await plan(
            session, catalog, catalog.campaigns["legal_paths_reminder"], now=NOW
        )
        drip_plan = await plan(session, catalog, catalog.campaigns["weekly_quiz"], now=NOW)
    assert oneoff_plan.subscribers == 5
    assert oneoff_plan.audience == 2  # p1 (fr) and p2 (bm): p3 is snk, p4 saw the module
    assert oneoff_plan.criteria == [("languages: fr, bm", 3), ("topics_not_seen: legal_paths", 4)]
    assert dict(oneoff_plan.messages[0].languages) == {"fr": 1, "bm": 1}
    assert oneoff_plan.not_before == at("2026-12-18T10:00:00+00:00")

    assert drip_plan.audience == 5 and drip_plan.criteria == []
    by_day = {m.day: m for m in drip_plan.messages}
    # The Soninke reader gets the Bambara text (snk -> bm -> fr); no language: French.
    assert dict(by_day[1].languages) == {"fr": 2, "bm": 3}
    assert by_day[1].due_now == 2  # p1, p3 (subscribed 1 day ago); p6's day 1 is 2 days late
    assert by_day[8].due_now == 1  # p2
    assert by_day[22].due_now == 0
    text = render(drip_plan)
    assert "audience: 5 of 5 subscribers" in text and "nothing was sent or enqueued" in text
    # Counts from 1 to 4 never leave the program (bot/disclosure.py): a segment narrow
    # enough to count one person would say who is in it.
    assert "read in: (other) 5" in text  # fr 2 and bm 3, together
    assert "due now for <5" in text and "due now for 1" not in text
    published = drip_plan.as_json()
    assert published["audience"] == 5 and published["criteria"] == []
    assert {m["day"]: m["due_now"] for m in published["messages"]}[8] == "<5"
    oneoff = render(oneoff_plan)
    assert "audience: <5 of 5 subscribers" in oneoff and "read in: (other) <5" in oneoff
    assert oneoff_plan.as_json()["criteria"] == [
        {"criterion": "languages: fr, bm", "count": "<5"},
        {"criterion": "topics_not_seen: legal_paths", "count": "<5"},
    ]


async def test_plan_says_how_many_minors_a_campaign_leaves_out(
    database: Database, catalog: Catalog
) -> None:
    await seed(database)
    async with database.transaction() as session:
        for external in ("p1", "p2"):  # French and Bambara, neither saw legal_paths
            await session.execute(
                update(User).where(User.external_id == external).values(age_bracket="15-17")
            )
        oneoff_plan = await plan(
            session, catalog, catalog.campaigns["legal_paths_reminder"], now=NOW
        )
        drip_plan = await plan(session, catalog, catalog.campaigns["weekly_quiz"], now=NOW)
    # The legal paths reminder does not say minors: allowed: both are left out.
    assert (oneoff_plan.audience, oneoff_plan.minors_left_out) == (0, 2)
    assert oneoff_plan.subscribers == 5  # minors are still subscribers
    # Published as any count of people: under 5, not the number (bot/disclosure.py).
    assert "left out as minors" in render(oneoff_plan) and "): <5" in render(oneoff_plan)
    assert oneoff_plan.as_json()["minors_left_out"] == "<5"
    # The weekly quiz allows them.
    assert (drip_plan.audience, drip_plan.minors_left_out) == (5, 0)
    assert "left out as minors" not in render(drip_plan)


def test_broadcast_plan_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'plan.db'}"

    async def prepare() -> None:
        await upgrade_database(url)
        database = Database(url)
        try:
            await seed(database)
        finally:
            await database.dispose()

    run_blocking(prepare)
    args = ["broadcast", "plan", "legal_paths_reminder", "--now", NOW.isoformat(), "--db", url]
    assert main([*args, "--dir", str(CONTENT_DIR)]) == 0
    out = capsys.readouterr().out
    assert "campaign legal_paths_reminder (oneoff)" in out
    assert "audience: <5 of 5 subscribers" in out
    assert "languages: fr, bm" in out and "read in: (other) <5" in out
    assert "sends from 2026-12-18 10:00 Mali time" in out
    assert main([*args, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["audience"] == "<5" and data["messages"][0]["languages"] == {"(other)": "<5"}

    # Nothing was enqueued or recorded.
    async def untouched() -> tuple[int, int]:
        from sqlalchemy import func, select

        from bot.store.models import BroadcastRun, OutboxMessage

        database = Database(url)
        try:
            async with database.transaction() as session:
                runs = await session.scalar(select(func.count()).select_from(BroadcastRun))
                rows = await session.scalar(select(func.count()).select_from(OutboxMessage))
        finally:
            await database.dispose()
        return int(runs or 0), int(rows or 0)

    assert run_blocking(untouched) == (0, 0)
    assert main(["broadcast", "plan", "nope", "--db", url]) == 2
    assert "no campaign 'nope'" in capsys.readouterr().err
    assert main([*args[:3], "--now", "2026-12-10T12:00", "--db", url]) == 2


def test_content_check_refuses_a_segment_of_minors_not_declared(tree: Path) -> None:
    path = tree / "broadcasts" / "teens.yml"
    teens = (
        "kind: oneoff\n"
        "when: 2026-12-18T10:00:00+00:00\n"
        "segment:\n"
        "  age_brackets: ['15-17']\n"
        "message: broadcast.legal_paths_reminder\n"
    )
    found = problems_in(tree, "teens", teens)
    assert len(found) == 1 and found[0].startswith(f"{path}:3: segment:"), found
    assert "minors: allowed" in found[0]
    declared = teens.replace("segment:\n", "segment:\n  minors: allowed\n")
    assert problems_in(tree, "teens", declared) == []
