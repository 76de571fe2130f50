"""Broadcasts from the console: a campaign kept as a draft, then published to content/ and
seen by the CLI, the live audience of the segment builder (small counts hidden), the plan,
a send that needs a published campaign and its confirmation, the run's progress, cancel,
the history, and the audit log."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import func, insert, select

from bot.campaigns.definitions import load_campaigns
from bot.content.loader import check_content
from bot.content.store import ContentStore
from bot.store import accounts as account_store
from bot.store import drafts as draft_store
from bot.store import runs
from bot.store.db import Database
from bot.store.models import OutboxMessage, User
from bot.web.console.app import PREFIX
from tests.web.console_support import (
    add_accounts,
    client,
    console_app,
    content_desk,
    sign_in,
    token_in,
)
from tests.web.test_console_voice import publish_all


def source() -> str:
    """A deep-link source of this test only: its segment counts only the people it made
    (other tests' processes share the PostgreSQL schema)."""
    return f"bctest_{uuid.uuid4().hex[:12]}"


async def people(database: Database, languages: list[str], *, source: str) -> None:
    base = 5_000_000 + int(uuid.uuid4().int % 1_000_000) * 100
    rows = [
        {
            "channel": "telegram",
            "external_id": str(base + i),
            "language": language,
            "consent": True,
            "subscribed": True,
            "subscribed_at": datetime.now(UTC) - timedelta(days=3),
            "acquisition_source": source,
        }
        for i, language in enumerate(languages)
    ]
    async with database.transaction() as session:
        await session.execute(insert(User), rows)


def oneoff(name: str, src: str, **extra: str) -> dict[str, object]:
    return {
        "name": name,
        "kind": "oneoff",
        "when": "2030-01-07T10:00",
        "message": "broadcast.legal_paths_reminder",
        "sources": src,
        **extra,
    }


async def signed_in(c: httpx.AsyncClient, name: str = "eddie") -> str:
    await sign_in(c, name)
    return token_in((await c.get(f"{PREFIX}/broadcasts/new")).text)


async def audit_actions(database: Database) -> list[tuple[str, str, str]]:
    async with database.reading() as session:
        log = await account_store.audit_log(session)
    return [(e.actor, e.action, e.detail) for e in log if e.actor == "eddie"]


async def test_a_campaign_made_in_the_console_is_a_content_file_the_cli_sees(
    database: Database, content_copy: Path
) -> None:
    await add_accounts(database)
    desk = content_desk(database, content_copy)
    store = desk.publisher.store
    src = source()
    async with client(console_app(database, store, writable=True, desk=desk)) as c:
        token = await signed_in(c)
        made = await c.post(
            f"{PREFIX}/broadcasts/new", data={"csrf": token, **oneoff("spring_call", src)}
        )
        assert made.status_code == 303
        assert made.headers["location"] == f"{PREFIX}/broadcasts?saved=spring_call"
        listed = await c.get(made.headers["location"])
        assert 'id="campaign-saved"' in listed.text and 'id="campaign-drafts"' in listed.text
        # A draft: neither the CLI nor the worker sees it, and it cannot be sent.
        assert not (content_copy / "broadcasts" / "spring_call.yml").exists()
        assert "spring_call" not in load_campaigns(content_copy)
        assert "spring_call" not in store.current().campaigns
        assert (await c.get(f"{PREFIX}/broadcasts/spring_call")).status_code == 404
        assert (await c.get(f"{PREFIX}/broadcasts/spring_call/send")).status_code == 404
        # Its form shows the draft, to change it again before publishing.
        again = await c.get(f"{PREFIX}/broadcasts/spring_call/edit")
        assert again.status_code == 200 and 'id="campaign-draft"' in again.text
        publishing = await c.get(f"{PREFIX}/publish")
        assert "nouvelle campagne" in publishing.text
        assert "+kind: oneoff" in publishing.text  # the file's YAML diff
        assert (await publish_all(c)).status_code == 303
        shown = await c.get(f"{PREFIX}/broadcasts/spring_call")
    assert shown.status_code == 200 and "broadcast.legal_paths_reminder" in shown.text
    written = (content_copy / "broadcasts" / "spring_call.yml").read_text()
    assert "kind: oneoff" in written and "when: '2030-01-07T10:00:00+00:00'" in written
    assert check_content(content_copy) == []
    # What `kunnafoni broadcast plan|send NAME` reads.
    campaign = load_campaigns(content_copy)["spring_call"]
    assert campaign.segment.sources == [src]
    assert campaign.when == datetime(2030, 1, 7, 10, tzinfo=UTC)
    assert store.current().campaigns["spring_call"] == campaign
    actions = await audit_actions(database)
    assert ("eddie", "broadcast.create", "spring_call (draft)") in actions
    assert any(a == "content.publish" for _, a, _ in actions)


async def test_an_edit_keeps_the_files_comments_and_a_drip_gets_its_steps(
    database: Database, content_copy: Path
) -> None:
    await add_accounts(database)
    desk = content_desk(database, content_copy)
    store = desk.publisher.store
    path = content_copy / "broadcasts" / "weekly_quiz.yml"
    first_comment = path.read_text().splitlines()[0]
    published = store.current().campaigns["weekly_quiz"]
    async with client(console_app(database, store, writable=True, desk=desk)) as c:
        token = await signed_in(c)
        form = await c.get(f"{PREFIX}/broadcasts/weekly_quiz/edit")
        assert 'value="broadcast.weekly_quiz.sea"' in form.text
        saved = await c.post(
            f"{PREFIX}/broadcasts/weekly_quiz/edit",
            data={
                "csrf": token,
                "kind": "drip",
                "step_count": "3",
                "step_day_0": "2",
                "step_message_0": "broadcast.weekly_quiz.sahara",
                "step_day_1": "9",
                "step_message_1": "broadcast.weekly_quiz.sea",
                "step_day_2": "",
                "step_message_2": "",
                "minors": "allowed",
                "languages": ["fr", "bm"],
                "quiet_start": "21:00",
                "quiet_end": "08:00",
                "catch_up_days": "3",
            },
        )
        assert saved.status_code == 303
        # Still the published campaign until the draft is published.
        assert store.current().campaigns["weekly_quiz"] == published
        assert "campagne modifiée" in (await c.get(f"{PREFIX}/publish")).text
        assert (await publish_all(c)).status_code == 303
    text = path.read_text()
    assert text.splitlines()[0] == first_comment
    drip = store.current().campaigns["weekly_quiz"]
    assert [(s.day, s.message) for s in drip.steps] == [
        (2, "broadcast.weekly_quiz.sahara"),
        (9, "broadcast.weekly_quiz.sea"),
    ]
    assert drip.catch_up_days == 3 and drip.segment.languages == ["fr", "bm"]
    assert check_content(content_copy) == []


async def test_a_save_over_a_change_made_meanwhile_is_refused_not_lost(
    database: Database, content_copy: Path
) -> None:
    await add_accounts(database)
    desk = content_desk(database, content_copy)
    store = desk.publisher.store
    path = content_copy / "broadcasts" / "returnee_support.yml"
    src = source()
    async with client(console_app(database, store, writable=True, desk=desk)) as c:
        token = await signed_in(c)
        form = await c.get(f"{PREFIX}/broadcasts/returnee_support/edit")
        base = re.search(r'name="base" value="([0-9a-f]+)"', form.text)
        assert base is not None
        # Someone else saves first (by hand, or another console).
        path.write_text(path.read_text().replace("10:00:00", "11:00:00"))
        store.reload()
        mine = {**oneoff("returnee_support", src), "csrf": token, "base": base.group(1)}
        refused = await c.post(f"{PREFIX}/broadcasts/returnee_support/edit", data=mine)
        assert refused.status_code == 409 and "Quelqu&#39;un a modifié" in refused.text
        assert src in refused.text  # what was typed is kept
        assert "11:00:00" in path.read_text() and src not in path.read_text()
        # Once compared, saving again goes over the version now live.
        fresh = re.search(r'name="base" value="([0-9a-f]+)"', refused.text)
        assert fresh is not None and fresh.group(1) != base.group(1)
        again = await c.post(
            f"{PREFIX}/broadcasts/returnee_support/edit", data={**mine, "base": fresh.group(1)}
        )
        assert again.status_code == 303 and src not in path.read_text()  # a draft
        # A second form opened before that draft: refused too, the draft kept.
        late = await c.post(
            f"{PREFIX}/broadcasts/returnee_support/edit",
            data={**mine, "base": fresh.group(1), "when": "2030-02-01T09:00"},
        )
        assert late.status_code == 409
        assert (await publish_all(c)).status_code == 303
    assert src in path.read_text() and "2030-02-01" not in path.read_text()


async def test_bad_campaigns_are_refused_on_their_field_and_nothing_is_written(
    database: Database, content_copy: Path
) -> None:
    await add_accounts(database)
    desk = content_desk(database, content_copy)
    store = desk.publisher.store
    before = {p: p.read_bytes() for p in content_copy.rglob("*") if p.is_file()}
    version = store.current().version
    src = source()
    cases = [
        (oneoff("no_message", src, message=""), "message"),
        (oneoff("bad_when", src, when="tomorrow"), "when"),
        (oneoff("Bad Name", src), "name"),
        (oneoff("audience", src), "name"),  # a page's own path
        (oneoff("legal_paths_reminder", src), "name"),  # taken
        (oneoff("minors", src, age_brackets="15-17") | {"age_brackets": "15-17"}, "age_brackets"),
    ]
    async with client(console_app(database, store, writable=True, desk=desk)) as c:
        token = await signed_in(c)
        for data, field in cases:
            response = await c.post(f"{PREFIX}/broadcasts/new", data={"csrf": token, **data})
            assert response.status_code == 400, data
            assert f'data-field="{field}"' in response.text, (field, response.text[-2000:])
            # What was typed is shown again.
            assert src in response.text
        # A key the loader does not know: refused by the same check as `content check`.
        unknown = await c.post(
            f"{PREFIX}/broadcasts/new",
            data={"csrf": token, **oneoff("ghost", src, message="no.such.key")},
        )
        assert unknown.status_code == 400 and "no.such.key" in unknown.text
        repeated = await c.post(
            f"{PREFIX}/broadcasts/new",
            data={
                "csrf": token,
                "name": "twice",
                "kind": "drip",
                "sources": src,
                "step_count": "2",
                "step_day_0": "3",
                "step_message_0": "broadcast.weekly_quiz.sea",
                "step_day_1": "3",
                "step_message_1": "broadcast.weekly_quiz.sahara",
            },
        )
        assert repeated.status_code == 400 and "day 3 is repeated" in repeated.text
    after = {p: p.read_bytes() for p in content_copy.rglob("*") if p.is_file()}
    assert after == before and store.current().version == version
    async with database.reading() as session:
        assert await draft_store.open_drafts(session) == []


async def test_a_read_only_console_says_so_and_changes_nothing(
    database: Database, content_copy: Path
) -> None:
    await add_accounts(database)
    store = ContentStore(content_copy)
    async with client(console_app(database, store)) as c:
        token = await signed_in(c)
        refused = await c.post(
            f"{PREFIX}/broadcasts/new", data={"csrf": token, **oneoff("x_call", source())}
        )
    assert refused.status_code == 409
    assert not (content_copy / "broadcasts" / "x_call.yml").exists()


async def test_the_live_audience_per_language_hides_small_counts(
    database: Database, content_store: ContentStore
) -> None:
    await add_accounts(database)
    src = source()
    await people(database, ["fr"] * 7 + ["bm"] * 3, source=src)
    async with client(console_app(database, content_store)) as c:
        await signed_in(c)
        found = await c.get(f"{PREFIX}/broadcasts/audience", params={"sources": src})
        narrowed = await c.get(
            f"{PREFIX}/broadcasts/audience", params={"sources": src, "languages": "bm"}
        )
        invalid = await c.get(
            f"{PREFIX}/broadcasts/audience",
            params={"sources": src, "active_within_days": "3", "inactive_for_days": "5"},
        )
    assert found.status_code == 200
    assert 'id="audience-total">10 personnes' in found.text
    # fr 7 -> 5 (rounded), bm 3 -> folded into the "(other)" line, never shown alone.
    assert "<th>fr</th><td>5</td>" in found.text and "<th>bm</th>" not in found.text
    assert "&lt;5 personnes" in narrowed.text
    assert "inactive_for_days must be below" in invalid.text


async def test_plan_confirm_send_progress_cancel_and_history(
    database: Database, content_copy: Path
) -> None:
    await add_accounts(database)
    desk = content_desk(database, content_copy)
    store = desk.publisher.store
    src = source()
    await people(database, ["fr"] * 6 + ["bm"] * 6, source=src)
    async with client(console_app(database, store, writable=True, desk=desk)) as c:
        token = await signed_in(c)
        await c.post(f"{PREFIX}/broadcasts/new", data={"csrf": token, **oneoff("call", src)})
        # Sending needs a published campaign.
        unpublished = await c.post(
            f"{PREFIX}/broadcasts/call/send", data={"csrf": token, "confirm": "yes"}
        )
        assert unpublished.status_code == 404
        assert (await publish_all(c)).status_code == 303
        planned = await c.get(f"{PREFIX}/broadcasts/call")
        assert "Audience : 10 sur" in planned.text
        assert "Jamais envoyée" in planned.text
        # Without the second confirmation nothing is queued: back to the confirmation.
        hasty = await c.post(f"{PREFIX}/broadcasts/call/send", data={"csrf": token})
        assert hasty.status_code == 303
        assert hasty.headers["location"] == f"{PREFIX}/broadcasts/call/send"
        confirm = await c.get(hasty.headers["location"])
        assert "envoyée à 10 personnes" in confirm.text
        assert 'name="confirm" value="yes"' in confirm.text
        async with database.reading() as session:
            assert [r for r in await runs.list_runs(session) if r.name == "call"] == []

        sent = await c.post(
            f"{PREFIX}/broadcasts/call/send", data={"csrf": token, "confirm": "yes"}
        )
        assert sent.status_code == 303
        run_id = int(sent.headers["location"].rsplit("/", 1)[1])
        async with database.reading() as session:
            queued = await session.scalar(
                select(func.count()).where(OutboxMessage.run_id == run_id)
            )
        assert queued == 12
        run_page = await c.get(sent.headers["location"])
        assert 'id="run-total">10<' in run_page.text
        assert "Programmé : envoi à partir du 2030-01-07 10:00" in run_page.text
        progress = await c.get(f"{PREFIX}/broadcasts/runs/{run_id}/progress")
        assert 'hx-trigger="every 1s"' in progress.text  # still polled: not finished
        # Sending again queues nobody twice.
        await c.post(f"{PREFIX}/broadcasts/call/send", data={"csrf": token, "confirm": "yes"})
        async with database.reading() as session:
            again = await session.scalar(select(func.count()).where(OutboxMessage.run_id == run_id))
        assert again == 12

        cancelled = await c.post(f"{PREFIX}/broadcasts/runs/{run_id}/cancel", data={"csrf": token})
        assert cancelled.status_code == 303
        after = await c.get(f"{PREFIX}/broadcasts/runs/{run_id}/progress")
        assert "annulé" in after.text and "every 1s" not in after.text
        history = await c.get(f"{PREFIX}/broadcasts/call")
        assert f"/broadcasts/runs/{run_id}" in history.text and "annulé" in history.text
    actions = [a for _, a, _ in await audit_actions(database)]
    assert actions.count("broadcast.send") == 2
    assert "broadcast.cancel" in actions and "broadcast.create" in actions


async def test_unknown_campaigns_and_runs_are_not_found(
    database: Database, content_store: ContentStore
) -> None:
    await add_accounts(database)
    async with client(console_app(database, content_store)) as c:
        token = await signed_in(c)
        for path in (
            "/broadcasts/nope",
            "/broadcasts/nope/edit",
            "/broadcasts/runs/x",
            "/broadcasts/runs/999999999",
        ):
            assert (await c.get(f"{PREFIX}{path}")).status_code == 404, path
        gone = await c.post(
            f"{PREFIX}/broadcasts/nope/send", data={"csrf": token, "confirm": "yes"}
        )
        assert gone.status_code == 404
