"""Modules in the console: card order, buttons, sources and quiz questions saved as drafts,
refused on the field the loader names, conflicting saves refused, published as a release
that the bot then serves (``kunnafoni chat --json``)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from bot.content.loader import check_content
from bot.store import accounts as account_store
from bot.store.db import Database
from bot.web.console.app import PREFIX
from tests.web.console_support import (
    add_accounts,
    client,
    console_app,
    content_desk,
    sign_in,
    token_in,
)

ROOT = Path(__file__).resolve().parents[2]
TOPIC = "family_debt"
URL = f"{PREFIX}/topics/{TOPIC}"


def _field(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found, f"no {name} field"
    return found.group(1)


async def _post(
    c: httpx.AsyncClient, path: str, data: dict[str, Any], *, page: str | None = None
) -> httpx.Response:
    """Post ``data`` from the module's page (loaded now, or the ``page`` given)."""
    html = page if page is not None else (await c.get(URL)).text
    form = {
        "csrf": token_in(html),
        "revision": _field(html, "revision"),
        "base": _field(html, "base"),
        **data,
    }
    return await c.post(f"{URL}{path}", data=form)


async def _publish(c: httpx.AsyncClient) -> httpx.Response:
    html = (await c.get(f"{PREFIX}/publish")).text
    ids = re.findall(r'name="draft" value="(\d+)"', html)
    return await c.post(f"{PREFIX}/publish", data={"csrf": token_in(html), "draft": ids})


def _card4_form(**changes: str) -> dict[str, str]:
    """Card 4 of family_debt as published (two buttons), with ``changes``."""
    form = {
        "button_label_0": "menu.home_opportunities",
        "button_kind_0": "topic",
        "button_target_0": "home_opportunities",
        "button_label_1": "menu.legal_paths",
        "button_kind_1": "topic",
        "button_target_1": "legal_paths",
    }
    form.update(changes)
    return form


def _chat_first_card(content_dir: Path, tmp: Path) -> str:
    """The key of the first card ``kunnafoni chat --json`` shows of the module."""
    env = {
        **os.environ,
        "CONTENT_DIR": str(content_dir),
        "RASA_URL": "",
        "PYTHONPATH": str(ROOT),
    }
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bot",
            "chat",
            "--json",
            "--lang",
            "fr",
            "--user",
            "topics-test",
            "--db",
            f"sqlite+aiosqlite:///{tmp / 'chat.db'}",
        ],
        input=json.dumps({"button": f"topic:{TOPIC}"}) + "\n",
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=300,
        check=True,
    )
    answer = json.loads(done.stdout.splitlines()[0])
    return str(answer["meta"]["messages"][0])


async def _actions(database: Database) -> list[str]:
    async with database.reading() as session:
        return [e.action for e in await account_store.audit_log(session)]


async def test_a_new_card_order_is_a_draft_until_published_then_the_bot_serves_it(
    database: Database, content_copy: Path, tmp_path: Path
) -> None:
    await add_accounts(database)
    desk = content_desk(database, content_copy)
    path = content_copy / "topics" / f"{TOPIC}.yml"
    before = path.read_text(encoding="utf-8")
    async with client(console_app(database, desk.publisher.store, desk=desk)) as c:
        await sign_in(c, "eddie")
        listing = await c.get(f"{PREFIX}/topics")
        assert listing.status_code == 200 and f"/topics/{TOPIC}" in listing.text
        page = (await c.get(URL)).text
        # The cards in order, their keys linking to the message pages.
        assert page.index("topic.family_debt.card1") < page.index("topic.family_debt.card2")
        assert f'href="{PREFIX}/content/fr/topic.family_debt.card1"' in page
        moved = await _post(c, "/cards/0/move", {"direction": "down"}, page=page)
        assert moved.status_code == 303, moved.text
        # Invisible to users: the file and the served catalog are as they were.
        assert path.read_text(encoding="utf-8") == before
        assert desk.catalog().topics[TOPIC].cards[0].text == "topic.family_debt.card1"
        page = (await c.get(URL)).text
        assert page.index("topic.family_debt.card2") < page.index("topic.family_debt.card1")
        assert 'id="draft-info"' in page
        publishing = await c.get(f"{PREFIX}/publish")
        assert f'href="{PREFIX}/topics/{TOPIC}"' in publishing.text

        published = await _publish(c)
        assert published.status_code == 303, published.text
    assert [card.text for card in desk.catalog().topics[TOPIC].cards][:2] == [
        "topic.family_debt.card2",
        "topic.family_debt.card1",
    ]
    written = path.read_text(encoding="utf-8")
    # The round-trip editor: the comments and the card's other fields kept.
    assert written.splitlines()[:2] == before.splitlines()[:2]
    assert written.count("vendre la terre") == 1
    assert check_content(content_copy) == []
    assert _chat_first_card(content_copy, tmp_path) == "topic.family_debt.card2"
    actions = await _actions(database)
    assert "content.topic" in actions and "content.publish" in actions


async def test_buttons_are_edited_and_an_unknown_target_is_refused_on_its_card(
    database: Database, content_copy: Path
) -> None:
    await add_accounts(database)
    desk = content_desk(database, content_copy)
    async with client(console_app(database, desk.publisher.store, desk=desk)) as c:
        await sign_in(c, "eddie")
        wrong = await _post(c, "/cards/3", _card4_form(button_target_1="nowhere"))
        assert wrong.status_code == 422
        errors = re.search(r'id="errors-card-3".*?</ul>', wrong.text, re.S)
        assert errors and "nowhere" in errors.group(0)
        assert 'id="draft-info"' not in wrong.text
        kind = await _post(c, "/cards/3", _card4_form(button_kind_1="elsewhere"))
        assert kind.status_code == 422 and "un module, une intention ou une action" in kind.text

        saved = await _post(
            c,
            "/cards/3",
            _card4_form(
                button_label_1="intent_label.reintegration",
                button_kind_1="intent",
                button_target_1="reintegration",
            ),
        )
        assert saved.status_code == 303, saved.text
        assert (await _publish(c)).status_code == 303
    buttons = desk.catalog().topics[TOPIC].cards[3].buttons
    assert [(b.label, b.topic, b.intent) for b in buttons] == [
        ("menu.home_opportunities", "home_opportunities", None),
        ("intent_label.reintegration", None, "reintegration"),
    ]


async def test_a_quiz_question_is_edited_and_an_unknown_feedback_is_refused(
    database: Database, content_copy: Path
) -> None:
    await add_accounts(database)
    desk = content_desk(database, content_copy)
    async with client(console_app(database, desk.publisher.store, desk=desk)) as c:
        await sign_in(c, "ada")
        page = (await c.get(URL)).text
        assert 'name="correct" value="1" checked' in page
        wrong = await _post(
            c,
            "/quiz/q1",
            {
                "question": "quiz.family_debt.q1",
                "correct": "0",
                "feedback_0": "quiz.family_debt.q1.nothing",
                "feedback_1": "quiz.family_debt.q1.myth",
            },
        )
        assert wrong.status_code == 422
        errors = re.search(r'id="errors-quiz-q1".*?</ul>', wrong.text, re.S)
        assert errors and "quiz.family_debt.q1.nothing" in errors.group(0)
        none = await _post(c, "/quiz/q1", {"question": "quiz.family_debt.q1"})
        assert none.status_code == 422 and "Choisissez la bonne réponse" in none.text

        saved = await _post(
            c,
            "/quiz/q1",
            {
                "question": "quiz.family_debt.q2",
                "correct": "0",
                "feedback_0": "quiz.family_debt.q2.fact",
                "feedback_1": "quiz.family_debt.q2.myth",
            },
        )
        assert saved.status_code == 303, saved.text
        assert desk.catalog().topics[TOPIC].quiz[0].question == "quiz.family_debt.q1"
        assert (await _publish(c)).status_code == 303
    question = desk.catalog().topics[TOPIC].quiz[0]
    assert question.question == "quiz.family_debt.q2"
    assert [(a.feedback, a.correct) for a in question.answers] == [
        ("quiz.family_debt.q2.fact", True),
        ("quiz.family_debt.q2.myth", False),
    ]


async def test_the_second_save_is_refused_with_the_others_draft_shown(
    database: Database, content_copy: Path
) -> None:
    await add_accounts(database)
    desk = content_desk(database, content_copy)
    app = console_app(database, desk.publisher.store, desk=desk)
    async with client(app) as eddie, client(app) as ada:
        await sign_in(eddie, "eddie")
        await sign_in(ada, "ada")
        stale = (await eddie.get(URL)).text
        assert (await _post(ada, "/cards/2/move", {"direction": "up"})).status_code == 303
        refused = await _post(eddie, "/cards/0/move", {"direction": "down"}, page=stale)
        assert refused.status_code == 409
        assert 'id="conflict"' in refused.text and "ada" in refused.text
        # ada's draft stands: card 3 before card 2.
        page = (await eddie.get(URL)).text
        assert page.index("topic.family_debt.card3") < page.index("topic.family_debt.card2")
        # Once reloaded, eddie's move is taken on top of ada's.
        assert (await _post(eddie, "/cards/0/move", {"direction": "down"})).status_code == 303


async def test_sources_of_a_card_are_checked_on_the_card(
    database: Database, content_copy: Path
) -> None:
    await add_accounts(database)
    desk = content_desk(database, content_copy)
    async with client(console_app(database, desk.publisher.store, desk=desk)) as c:
        await sign_in(c, "eddie")
        undated = await _post(
            c,
            "/cards/3",
            _card4_form(source_title_0="Rapport", source_url_0="https://example.org/r"),
        )
        assert undated.status_code == 422
        errors = re.search(r'id="errors-card-3".*?</ul>', undated.text, re.S)
        assert errors and "verified_on" in errors.group(0)
        bad_url = await _post(
            c,
            "/cards/3",
            _card4_form(source_title_0="Rapport", source_url_0="example", verified_on="2026-11-29"),
        )
        assert bad_url.status_code == 422 and 'id="errors-card-3"' in bad_url.text
        bad_date = await _post(c, "/cards/3", _card4_form(verified_on="29/11/2026"))
        assert bad_date.status_code == 422 and "AAAA-MM-JJ" in bad_date.text
        saved = await _post(
            c,
            "/cards/3",
            _card4_form(
                source_title_0="Rapport",
                source_url_0="https://example.org/r",
                verified_on="2026-11-29",
            ),
        )
        assert saved.status_code == 303, saved.text
        assert (await _publish(c)).status_code == 303
    card = desk.catalog().topics[TOPIC].cards[3]
    assert [(s.title, s.url) for s in card.sources] == [("Rapport", "https://example.org/r")]
    assert card.verified_on is not None and card.verified_on.isoformat() == "2026-11-29"


async def test_viewers_and_translators_cannot_touch_modules(
    database: Database, content_copy: Path
) -> None:
    await add_accounts(database)
    desk = content_desk(database, content_copy)
    async with client(console_app(database, desk.publisher.store, desk=desk)) as c:
        await sign_in(c, "tina")
        assert (await c.get(URL)).status_code == 403
        token = token_in((await c.get(f"{PREFIX}/")).text)
        moved = await c.post(
            f"{URL}/cards/0/move", data={"csrf": token, "direction": "down", "revision": "0"}
        )
        assert moved.status_code == 403
    assert "content.topic" not in await _actions(database)


async def test_a_draft_on_a_module_changed_since_is_refused(
    database: Database, content_copy: Path
) -> None:
    await add_accounts(database)
    desk = content_desk(database, content_copy)
    async with client(console_app(database, desk.publisher.store, desk=desk)) as c:
        await sign_in(c, "eddie")
        assert (await _post(c, "/cards/0/move", {"direction": "down"})).status_code == 303
        # The module changes outside the console: the draft's card positions no longer hold.
        path = content_copy / "topics" / f"{TOPIC}.yml"
        text = path.read_text(encoding="utf-8")
        path.write_text(
            text.replace("  - text: topic.family_debt.card3\n", "", 1), encoding="utf-8"
        )
        desk.publisher.store.reload()
        refused = await _post(c, "/cards/1/move", {"direction": "down"})
        assert refused.status_code == 409 and 'id="conflict"' in refused.text
        # Discarded, the module can be edited again from what is published.
        page = (await c.get(URL)).text
        discarded = await c.post(
            f"{URL}/discard", data={"csrf": token_in(page), "revision": _field(page, "revision")}
        )
        assert discarded.status_code == 303
        assert (await _post(c, "/cards/1/move", {"direction": "down"})).status_code == 303


async def test_a_module_release_is_rolled_back_like_any_other(
    database: Database, content_copy: Path
) -> None:
    await add_accounts(database)
    desk = content_desk(database, content_copy)

    def order() -> list[str]:
        return [card.text.rsplit(".", 1)[-1] for card in desk.catalog().topics[TOPIC].cards]

    async with client(console_app(database, desk.publisher.store, desk=desk)) as c:
        await sign_in(c, "eddie")
        assert (await _post(c, "/cards/0/move", {"direction": "down"})).status_code == 303
        assert (await _publish(c)).status_code == 303
        first = order()
        assert first == ["card2", "card1", "card3", "card4"]
        history = (await c.get(f"{PREFIX}/publish")).text
        release = int(re.findall(r'/publish/(\d+)"', history)[0])
        assert (await _post(c, "/cards/3/move", {"direction": "up"})).status_code == 303
        assert (await _publish(c)).status_code == 303
        assert order() == ["card2", "card1", "card4", "card3"]
        diff = await c.get(f"{PREFIX}/publish/{release}")
        assert diff.status_code == 200 and "topics/family_debt.yml" in diff.text
        token = token_in((await c.get(f"{PREFIX}/publish")).text)
        back = await c.post(f"{PREFIX}/publish/{release}/rollback", data={"csrf": token})
        assert back.status_code == 303
    assert order() == first
