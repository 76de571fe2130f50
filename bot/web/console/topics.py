"""The console's module pages: cards in order, their buttons and sources, quiz questions.

- ``/topics``: every module, with its title, its cards and questions, and an open draft.
- ``/topics/{topic}``: one module's cards in order (their text keys link to the message
  pages, where texts are written and translated), buttons, sources and quiz questions;
  move a card, change a card's buttons and sources, change a question (its key, which
  answer is right, the feedback key of each answer), discard the draft.

Every change is a draft of the module (:class:`bot.content.topic_desk.TopicDesk`),
checked by the loader, invisible to users until ``/publish`` publishes it.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from bot.content.catalog import Catalog
from bot.content.models.navigation import Action as BotAction
from bot.content.topic_desk import (
    GENERAL,
    Edit,
    TopicDesk,
    TopicOutcome,
    card_field,
    move_card,
    question_field,
    set_card,
    set_question,
)
from bot.store.accounts import Account
from bot.web.console.content import desk_of
from bot.web.console.guard import PREFIX, guarded, page
from bot.web.console.permissions import Action

#: Rows of a card's form: a card has at most 4 buttons; sources rows shown.
BUTTON_ROWS = 4
SOURCE_ROWS = 3
TARGET_KINDS = ("topic", "intent", "action")


def _desk(request: Request) -> TopicDesk | None:
    desk = desk_of(request)
    return TopicDesk(desk) if desk is not None else None


def _not_found(request: Request) -> Response:
    return page(request, "error.html", {"message": "error.not_found"}, status=404)


def _unavailable(request: Request) -> Response:
    return page(request, "error.html", {"message": "error.no_content"}, status=503)


def _int(value: Any) -> int:
    try:
        return int(str(value))
    except ValueError:
        return -1


def _text(catalog: Catalog, key: str) -> str | None:
    entry = catalog.messages[catalog.default_language].get(key)
    return entry.text if entry is not None else None


@guarded(Action.TOPICS)
async def topics_index(request: Request) -> Response:
    desk = _desk(request)
    if desk is None:
        return _unavailable(request)
    catalog = desk.catalog()
    rows = []
    for topic_id in sorted(catalog.topics):
        working = await desk.working(topic_id)
        assert working is not None
        topic = catalog.topics[topic_id]
        rows.append(
            {
                "id": topic_id,
                "title": _text(catalog, topic.title) or topic.title,
                "cards": len(topic.cards),
                "questions": len(topic.quiz),
                "draft": working[1],
            }
        )
    return page(request, "topics.html", {"rows": rows, "version": catalog.version})


async def _topic_context(request: Request, desk: TopicDesk, topic_id: str) -> dict[str, Any]:
    catalog = desk.catalog()
    working = await desk.working(topic_id)
    assert working is not None
    data, draft, base = working
    topic = catalog.topics[topic_id]
    cards = []
    for position, card in enumerate(data["cards"]):
        rows = list(card.get("buttons", []))
        buttons = [
            {
                "label": b["label"],
                "label_text": _text(catalog, b["label"]),
                "kind": next((k for k in TARGET_KINDS if b.get(k)), "topic"),
                "target": next((b[k] for k in TARGET_KINDS if b.get(k)), ""),
            }
            for b in rows
        ]
        buttons += [{"label": "", "label_text": None, "kind": "topic", "target": ""}] * (
            BUTTON_ROWS - len(buttons)
        )
        sources = list(card.get("sources", []))
        sources += [{"title": "", "url": ""}] * max(0, SOURCE_ROWS - len(sources))
        cards.append(
            {
                "position": position,
                "text": card["text"],
                "french": _text(catalog, card["text"]),
                "moved": card.get("from") != position,
                "buttons": buttons,
                "has_buttons": bool(rows),
                "sources": sources,
                "verified_on": card.get("verified_on") or "",
                "field": card_field(position),
            }
        )
    quiz = [
        {
            "id": q["id"],
            "question": q["question"],
            "french": _text(catalog, q["question"]),
            "answers": [
                {
                    **a,
                    "label_text": _text(catalog, a["label"]),
                    "feedback_text": _text(catalog, a["feedback"]),
                }
                for a in q["answers"]
            ],
            "field": question_field(q["id"]),
        }
        for q in data["quiz"]
    ]
    return {
        "topic_id": topic_id,
        "title": _text(catalog, topic.title) or topic.title,
        "title_key": topic.title,
        "cards": cards,
        "quiz": quiz,
        "draft": draft,
        "revision": draft.revision if draft is not None else 0,
        "base": base,
        "default_language": catalog.default_language,
        "topic_ids": sorted(catalog.topics),
        "intent_ids": sorted(catalog.intents),
        "action_ids": [a.value for a in BotAction],
        "saved": request.query_params.get("saved"),
        "errors": {},
        "form_errors": {},
    }


@guarded(Action.TOPICS)
async def topic_page(request: Request) -> Response:
    desk = _desk(request)
    if desk is None:
        return _unavailable(request)
    topic_id = request.path_params["topic"]
    if topic_id not in desk.catalog().topics:
        return _not_found(request)
    return page(request, "topic.html", await _topic_context(request, desk, topic_id))


async def _save(
    request: Request,
    desk: TopicDesk,
    topic_id: str,
    form: FormData,
    change: Edit,
    *,
    what: str,
    field: str,
) -> Response:
    account: Account = request.state.account
    try:
        outcome = await desk.edit(
            actor=account.name,
            topic_id=topic_id,
            change=change,
            what=what,
            revision=_int(form.get("revision")),
            base=str(form.get("base") or ""),
        )
    except (IndexError, KeyError):
        return _not_found(request)
    return await _after(request, desk, topic_id, outcome, field=field)


async def _after(
    request: Request,
    desk: TopicDesk,
    topic_id: str,
    outcome: TopicOutcome,
    *,
    field: str,
    form_errors: dict[str, list[str]] | None = None,
) -> Response:
    if outcome.ok:
        anchor = f"#{field.replace('.', '-')}" if field else ""
        return RedirectResponse(f"{PREFIX}/topics/{topic_id}?saved=draft{anchor}", status_code=303)
    context = await _topic_context(request, desk, topic_id)
    context["saved"] = None
    context["errors"] = outcome.errors
    context["form_errors"] = form_errors or {}
    context["conflict"] = outcome.conflict
    context["failed"] = field
    return page(request, "topic.html", context, status=409 if outcome.conflict else 422)


def _topic_of(request: Request, desk: TopicDesk) -> str | None:
    topic_id = request.path_params["topic"]
    return topic_id if topic_id in desk.catalog().topics else None


@guarded(Action.TOPICS_EDIT)
async def card_move(request: Request) -> Response:
    desk = _desk(request)
    if desk is None:
        return _unavailable(request)
    topic_id = _topic_of(request, desk)
    if topic_id is None:
        return _not_found(request)
    form = await request.form()
    position = _int(request.path_params["card"])
    offset = {"up": -1, "down": 1}.get(str(form.get("direction")))
    if offset is None or position < 0:
        return _not_found(request)
    return await _save(
        request,
        desk,
        topic_id,
        form,
        move_card(position, offset),
        what=f"card {position + 1} {form.get('direction')}",
        field=card_field(position + offset),
    )


def _card_form(form: FormData) -> tuple[list[dict[str, str]], list[dict[str, str]], str, list[str]]:
    """A card's buttons, sources and date from its form; the label keys of what is wrong."""
    wrong: list[str] = []
    buttons = []
    for i in range(BUTTON_ROWS):
        label = str(form.get(f"button_label_{i}") or "").strip()
        kind = str(form.get(f"button_kind_{i}") or "").strip()
        target = str(form.get(f"button_target_{i}") or "").strip()
        if not label and not target:
            continue
        if kind not in TARGET_KINDS:
            wrong.append("topics.bad_kind")
            continue
        buttons.append({"label": label, kind: target})
    sources = []
    for i in range(SOURCE_ROWS):
        title = str(form.get(f"source_title_{i}") or "").strip()
        url = str(form.get(f"source_url_{i}") or "").strip()
        if title or url:
            sources.append({"title": title, "url": url})
    verified = str(form.get("verified_on") or "").strip()
    if verified:
        try:
            day = date.fromisoformat(verified)
        except ValueError:
            wrong.append("topics.bad_date")
        else:
            if day > date.today():
                wrong.append("topics.future_date")
            verified = day.isoformat()
    return buttons, sources, verified, wrong


@guarded(Action.TOPICS_EDIT)
async def card_save(request: Request) -> Response:
    desk = _desk(request)
    if desk is None:
        return _unavailable(request)
    topic_id = _topic_of(request, desk)
    if topic_id is None:
        return _not_found(request)
    form = await request.form()
    position = _int(request.path_params["card"])
    if position < 0:
        return _not_found(request)
    buttons, sources, verified, wrong = _card_form(form)
    field = card_field(position)
    if wrong:
        return await _after(
            request, desk, topic_id, TopicOutcome(False), field=field, form_errors={field: wrong}
        )
    return await _save(
        request,
        desk,
        topic_id,
        form,
        set_card(position, buttons, sources, verified),
        what=f"card {position + 1}",
        field=field,
    )


@guarded(Action.TOPICS_EDIT)
async def question_save(request: Request) -> Response:
    desk = _desk(request)
    if desk is None:
        return _unavailable(request)
    topic_id = _topic_of(request, desk)
    if topic_id is None:
        return _not_found(request)
    form = await request.form()
    question_id = request.path_params["question"]
    working = await desk.working(topic_id)
    assert working is not None
    current = next((q for q in working[0]["quiz"] if q["id"] == question_id), None)
    if current is None:
        return _not_found(request)
    field = question_field(question_id)
    correct = _int(form.get("correct"))
    answers = []
    for i, answer in enumerate(current["answers"]):
        answers.append(
            {
                "label": answer["label"],
                "feedback": str(form.get(f"feedback_{i}") or "").strip(),
                "correct": i == correct,
            }
        )
    question = str(form.get("question") or "").strip()
    if not 0 <= correct < len(answers):
        return await _after(
            request,
            desk,
            topic_id,
            TopicOutcome(False),
            field=field,
            form_errors={field: ["topics.no_correct"]},
        )
    return await _save(
        request,
        desk,
        topic_id,
        form,
        set_question(question_id, question, answers),
        what=f"quiz {question_id}",
        field=field,
    )


@guarded(Action.TOPICS_EDIT)
async def topic_discard(request: Request) -> Response:
    desk = _desk(request)
    if desk is None:
        return _unavailable(request)
    topic_id = _topic_of(request, desk)
    if topic_id is None:
        return _not_found(request)
    form = await request.form()
    account: Account = request.state.account
    outcome = await desk.discard(
        actor=account.name, topic_id=topic_id, revision=_int(form.get("revision"))
    )
    if outcome.ok:
        return RedirectResponse(f"{PREFIX}/topics/{topic_id}?saved=discarded", status_code=303)
    return await _after(request, desk, topic_id, outcome, field=GENERAL)


def topic_routes() -> list[BaseRoute]:
    return [
        Route("/topics", topics_index, methods=["GET"]),
        Route("/topics/{topic}", topic_page, methods=["GET"]),
        Route("/topics/{topic}/discard", topic_discard, methods=["POST"]),
        Route("/topics/{topic}/cards/{card}", card_save, methods=["POST"]),
        Route("/topics/{topic}/cards/{card}/move", card_move, methods=["POST"]),
        Route("/topics/{topic}/quiz/{question}", question_save, methods=["POST"]),
    ]
