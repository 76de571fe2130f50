"""The NLU review queue's pages: the queue grouped and linked to nobody, a label saved to
the reviewed file and audited, bad labels refused without losing the message, discards,
a message gone meanwhile, CSRF."""

from __future__ import annotations

import re
import secrets
from pathlib import Path

import yaml
from sqlalchemy import select

from bot.cli import build_parser
from bot.content.store import ContentStore
from bot.store import review as review_store
from bot.store.db import Database
from bot.store.models import ConsoleAudit, NluReviewItem
from bot.web.console.app import PREFIX
from tests.web.console_support import add_accounts, client, console_app, sign_in, token_in


async def seed(database: Database, text: str, **extra: object) -> tuple[int, str]:
    """One queued message; its id and the person key (only this test's rows are read)."""
    key = secrets.token_hex(16)
    values: dict[str, object] = {
        "reason": "fallback",
        "intent": "risks_sea",
        "confidence": 0.31,
        "entities": [],
        "language": None,
    }
    values.update(extra)
    async with database.transaction() as session:
        await review_store.add_item(session, person_key=key, text=text, **values)  # type: ignore[arg-type]
    async with database.reading() as session:
        item_id = await session.scalar(
            select(NluReviewItem.id).where(NluReviewItem.person_key == key)
        )
    assert item_id is not None
    return int(item_id), key


async def still_queued(database: Database, item_id: int) -> bool:
    async with database.reading() as session:
        return await review_store.get_item(session, item_id) is not None


async def audit_of(database: Database, item_id: int) -> list[tuple[str, str, str]]:
    async with database.reading() as session:
        rows = await session.execute(
            select(ConsoleAudit.actor, ConsoleAudit.action, ConsoleAudit.detail).where(
                ConsoleAudit.detail.like(f"#{item_id} %") | (ConsoleAudit.detail == f"#{item_id}")
            )
        )
        return [tuple(r) for r in rows]  # type: ignore[misc]


async def test_the_queue_groups_alike_messages_and_names_nobody(
    database: Database, content_store: ContentStore
) -> None:
    marker = secrets.token_hex(3)
    first, key = await seed(database, f"jveu partir en espagne cmt faire {marker}")
    second, _ = await seed(database, f"je veux partir en Espagne comment faire {marker}")
    apart, _ = await seed(database, f"quel temps fait il a Bamako aujourdhui {marker}x")
    await add_accounts(database)
    async with client(console_app(database, content_store)) as c:
        await sign_in(c, "anna")
        page = await c.get(f"{PREFIX}/review")
    assert page.status_code == 200
    html = page.text
    assert key not in html
    groups = re.split(r'<section class="card review-group">', html)[1:]
    together = [g for g in groups if f'data-item="{first}"' in g]
    assert len(together) == 1 and f'data-item="{second}"' in together[0]
    assert f'data-item="{apart}"' not in together[0]
    assert "risks_sea (31 %)" in html


async def test_a_label_goes_to_the_reviewed_file_and_the_audit_log(
    database: Database, content_store: ContentStore, tmp_path: Path
) -> None:
    said = "n b'a fɛ ka taa Espanie kurun na, n tɔgɔ ye [name]"
    item_id, _ = await seed(database, said, language="bm")
    await add_accounts(database)
    data = tmp_path / "nlu" / "data"
    async with client(console_app(database, content_store, nlu_data_dir=data)) as c:
        await sign_in(c, "anna")
        form = await c.get(f"{PREFIX}/review/{item_id}")
        assert form.status_code == 200 and "Espanie" in form.text
        saved = await c.post(
            f"{PREFIX}/review/{item_id}",
            data={
                "csrf": token_in(form.text),
                "text": said,
                "intent": "risks_sea",
                "language": "bm",
                "entity": ["country", ""],
                "entity_text": ["Espanie", ""],
                "entity_start": ["", ""],
            },
        )
        assert saved.status_code == 303
        assert saved.headers["location"] == f"{PREFIX}/review?note=labelled"
        again = await c.get(f"{PREFIX}/review/{item_id}")
        assert again.headers["location"] == f"{PREFIX}/review?note=gone"
        download = await c.get(f"{PREFIX}/review/reviewed.yml")
    assert not await still_queued(database, item_id)
    doc = yaml.safe_load((data / "reviewed.yml").read_text(encoding="utf-8"))
    (block,) = doc["nlu"]
    assert block["intent"] == "risks_sea"
    assert block["examples"] == (
        "- n b'a fɛ ka taa [Espanie](country) kurun na, n tɔgɔ ye [name]\n"
    )
    assert block["metadata"]["lang"] == "bm" and block["metadata"]["labelled_by"] == "anna"
    assert "labelled_at" in block["metadata"]
    assert download.status_code == 200 and "[Espanie](country)" in download.text
    (entry,) = await audit_of(database, item_id)
    assert entry == ("anna", "nlu.label", f"#{item_id} risks_sea bm entities=1")


async def test_a_selected_occurrence_is_the_one_marked(
    database: Database, content_store: ContentStore, tmp_path: Path
) -> None:
    said = "Mali ou pas Mali je pars"
    item_id, _ = await seed(database, said)
    await add_accounts(database)
    data = tmp_path / "data"
    async with client(console_app(database, content_store, nlu_data_dir=data)) as c:
        await sign_in(c, "eddie")
        form = await c.get(f"{PREFIX}/review/{item_id}")
        await c.post(
            f"{PREFIX}/review/{item_id}",
            data={
                "csrf": token_in(form.text),
                "text": said,
                "intent": "going_anyway",
                "language": "fr",
                "entity": "country",
                "entity_text": "Mali",
                "entity_start": "12",
            },
        )
    text = (data / "reviewed.yml").read_text(encoding="utf-8")
    assert "- Mali ou pas [Mali](country) je pars" in text


async def test_a_bad_label_is_refused_and_the_message_kept(
    database: Database, content_store: ContentStore, tmp_path: Path
) -> None:
    item_id, _ = await seed(database, "c koi le passeport biometrique")
    await add_accounts(database)
    data = tmp_path / "data"
    async with client(console_app(database, content_store, nlu_data_dir=data)) as c:
        await sign_in(c, "eddie")
        token = token_in((await c.get(f"{PREFIX}/review/{item_id}")).text)
        base = {"csrf": token, "text": "c koi le passeport biometrique", "language": "fr"}
        for changes in (
            {"intent": "weather"},
            {"intent": "documents", "language": "english"},
            {"intent": "documents", "entity": "country", "entity_text": "Espagne"},
            {"intent": "documents", "entity": "", "entity_text": "passeport"},
            {"intent": "documents", "text": ""},
            # A sentence of the held-out French test set: never into training.
            {"intent": "goodbye", "text": "bon je vous laisse, bonne nuit"},
        ):
            refused = await c.post(f"{PREFIX}/review/{item_id}", data={**base, **changes})
            assert refused.status_code == 400, changes
            assert 'class="error"' in refused.text
    assert await still_queued(database, item_id)
    assert not (data / "reviewed.yml").exists()
    assert await audit_of(database, item_id) == []


async def test_a_file_that_cannot_be_written_keeps_the_message(
    database: Database, content_store: ContentStore, tmp_path: Path
) -> None:
    item_id, _ = await seed(database, "c koi le passeport biometrique")
    await add_accounts(database)
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the folder should be")
    async with client(console_app(database, content_store, nlu_data_dir=blocked / "data")) as c:
        await sign_in(c, "eddie")
        token = token_in((await c.get(f"{PREFIX}/review/{item_id}")).text)
        refused = await c.post(
            f"{PREFIX}/review/{item_id}",
            data={"csrf": token, "text": "c koi ça", "intent": "documents", "language": "fr"},
        )
    assert refused.status_code == 400
    assert await still_queued(database, item_id)
    assert await audit_of(database, item_id) == []


async def test_discarding_deletes_the_message_and_is_audited(
    database: Database, content_store: ContentStore
) -> None:
    item_id, _ = await seed(database, "un message encore trop personnel")
    await add_accounts(database)
    async with client(console_app(database, content_store)) as c:
        await sign_in(c, "ada")
        token = token_in((await c.get(f"{PREFIX}/review/{item_id}")).text)
        without = await c.post(f"{PREFIX}/review/{item_id}/discard", data={})
        assert without.status_code == 403 and await still_queued(database, item_id)
        done = await c.post(f"{PREFIX}/review/{item_id}/discard", data={"csrf": token})
        assert done.headers["location"] == f"{PREFIX}/review?note=discarded"
        twice = await c.post(f"{PREFIX}/review/{item_id}/discard", data={"csrf": token})
        assert twice.headers["location"] == f"{PREFIX}/review?note=gone"
    assert not await still_queued(database, item_id)
    assert await audit_of(database, item_id) == [("ada", "nlu.discard", f"#{item_id}")]


async def test_the_annotator_sees_the_queue_and_nothing_else(
    database: Database, content_store: ContentStore
) -> None:
    await add_accounts(database)
    async with client(console_app(database, content_store)) as c:
        await sign_in(c, "anna")
        home = await c.get(f"{PREFIX}/")
        assert f'href="{PREFIX}/review"' in home.text
        assert f'href="{PREFIX}/dashboard/reach"' not in home.text
        assert (await c.get(f"{PREFIX}/dashboard/reach")).status_code == 403


def test_the_annotator_role_is_offered_by_the_users_command() -> None:
    parsed = build_parser().parse_args(["users", "add", "anna", "--role", "annotator"])
    assert parsed.role == "annotator"
