"""Modules edited in the console: the order of a module's cards, their buttons and
sources, and its quiz questions, saved as one draft per module.

A module's draft holds its whole structure as the editor left it (:func:`topic_structure`,
each card with ``from``: the published position it comes from). Each edit (move a card,
change a card's buttons or sources, change a question) is applied to the open draft, or
to the published module when there is none, then checked like every draft: written into
the file with the round-trip editor and loaded, with the other files, by the loader of
``kunnafoni content check``. A problem is shown on the card or question whose lines it
concerns. A save names the draft revision and the published structure it was made on:
if either changed since, it is refused with the other change shown. Publishing is the
content desk's (:meth:`bot.content.releases.ContentDesk.publish`).
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML

from bot.content.catalog import Catalog
from bot.content.drafts import (
    KINDS,
    TOPIC,
    base_of,
    check_overlay,
    target_of,
    topic_structure,
    write_drafts,
)
from bot.content.releases import Conflict, ContentDesk
from bot.store import accounts as account_store
from bot.store import drafts as draft_store
from bot.store.drafts import Draft

#: The field of the page a problem is shown on when it concerns no card or question.
GENERAL = "general"

Edit = Callable[[dict[str, Any]], None]


def card_field(position: int) -> str:
    return f"card.{position}"


def question_field(question_id: str) -> str:
    return f"quiz.{question_id}"


@dataclass
class TopicOutcome:
    ok: bool
    draft: Draft | None = None
    conflict: Conflict | None = None
    #: field (``card.<n>``, ``quiz.<id>``, ``general``) -> reasons.
    errors: dict[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class _Probe:
    kind: str
    language: str
    key: str
    target: str
    data: dict[str, Any]


def topic_target(topic_id: str) -> str:
    return target_of(TOPIC, "", topic_id)


def published_structure(catalog: Catalog, topic_id: str) -> dict[str, Any] | None:
    """The published module as a draft would start from it (each card's ``from`` set)."""
    topic = catalog.topics.get(topic_id)
    if topic is None:
        return None
    structure = topic_structure(topic)
    for position, card in enumerate(structure["cards"]):
        card["from"] = position
    return structure


def structure_lines(data: dict[str, Any]) -> str:
    """A module's structure as short lines, to show what a draft changes."""
    lines = []
    for n, card in enumerate(data["cards"], start=1):
        buttons = ", ".join(
            f"{b['label']}→{next((b[k] for k in ('topic', 'intent', 'action') if b.get(k)), '')}"
            for b in card.get("buttons", [])
        )
        sources = ", ".join(s["url"] for s in card.get("sources", []))
        line = f"{n}. {card['text']}"
        if buttons:
            line += f" [{buttons}]"
        if sources:
            line += f" ({sources}; {card.get('verified_on')})"
        lines.append(line)
    for question in data.get("quiz", []):
        answers = ", ".join(
            f"{a['label']}{'✓' if a.get('correct') else ''}→{a['feedback']}"
            for a in question["answers"]
        )
        lines.append(f"{question['id']}: {question['question']} [{answers}]")
    return "\n".join(lines)


class TopicDesk:
    """Module drafts, on top of the content desk (same database, folder and publisher)."""

    def __init__(self, desk: ContentDesk) -> None:
        self.desk = desk

    def catalog(self) -> Catalog:
        return self.desk.catalog()

    async def working(self, topic_id: str) -> tuple[dict[str, Any], Draft | None, str] | None:
        """The structure the editor works on (the open draft's, else the published one),
        the open draft, and the base (hash of the published structure)."""
        catalog = self.catalog()
        published = KINDS[TOPIC].published(catalog, "", topic_id)
        structure = published_structure(catalog, topic_id)
        if structure is None:
            return None
        async with self.desk.database.reading() as session:
            draft = await draft_store.open_draft(session, topic_target(topic_id))
        data = copy.deepcopy(draft.data) if draft is not None else structure
        return data, draft, base_of(published)

    async def edit(
        self,
        *,
        actor: str,
        topic_id: str,
        change: Edit,
        what: str,
        revision: int,
        base: str,
    ) -> TopicOutcome:
        """Apply ``change`` to the module's working structure and save it as its draft."""
        catalog = self.catalog()
        published = KINDS[TOPIC].published(catalog, "", topic_id)
        if published is None:
            return TopicOutcome(False, errors={GENERAL: ["unknown module"]})
        target = topic_target(topic_id)
        async with self.desk.database.reading() as session:
            current = await draft_store.open_draft(session, target)
            conflict = await self.desk._conflict(
                session, current, target, revision, base, published
            )
            if conflict is None and current is not None and current.base != base_of(published):
                # The module changed under the draft: its cards' positions no longer hold.
                last = await draft_store.last_published(session, target)
                conflict = Conflict(
                    last.author if last else "",
                    last.updated_at if last else None,
                    None,
                    "published",
                )
        if conflict is not None:
            if conflict.where == "draft" and current is not None:
                conflict = Conflict(
                    current.author, current.updated_at, structure_lines(current.data), "draft"
                )
            return TopicOutcome(False, draft=current, conflict=conflict)
        start = current.data if current is not None else published_structure(catalog, topic_id)
        assert start is not None
        data = copy.deepcopy(start)
        change(data)
        # The whole tree with this module, checked by the loader before anything is kept.
        probe = _Probe(TOPIC, "", topic_id, target, data)
        files = write_drafts(self.desk.directory, catalog, [probe])
        checked = await asyncio.to_thread(check_overlay, self.desk.directory, files)
        if checked.problems:
            path = f"topics/{topic_id}.yml"
            text = files[path]
            assert isinstance(text, str)  # a module's file is YAML text, never audio
            return TopicOutcome(
                False, draft=current, errors=_errors_by_field(checked.problems, path, text)
            )
        async with self.desk.database.transaction() as session:
            current = await draft_store.open_draft(session, target)
            if (current.revision if current is not None else 0) != revision:
                # Someone saved between the check and now.
                return TopicOutcome(
                    False,
                    draft=current,
                    conflict=Conflict(
                        current.author if current else "",
                        current.updated_at if current else None,
                        structure_lines(current.data) if current else None,
                        "draft",
                    ),
                )
            await draft_store.keep_draft(
                session,
                current,
                kind=TOPIC,
                language="",
                key=topic_id,
                target=target,
                data=data,
                base=base_of(published),
                author=actor,
            )
            draft = await draft_store.open_draft(session, target)
            await account_store.audit(
                session, actor=actor, action="content.topic", detail=f"{topic_id} {what}"
            )
        return TopicOutcome(True, draft=draft)

    async def discard(self, *, actor: str, topic_id: str, revision: int) -> TopicOutcome:
        target = topic_target(topic_id)
        async with self.desk.database.transaction() as session:
            current = await draft_store.open_draft(session, target)
            if current is None:
                return TopicOutcome(True)
            if current.revision != revision:
                return TopicOutcome(
                    False,
                    draft=current,
                    conflict=Conflict(
                        current.author,
                        current.updated_at,
                        structure_lines(current.data),
                        "draft",
                    ),
                )
            await draft_store.close_drafts(session, [current.id], state=draft_store.DISCARDED)
            await account_store.audit(
                session, actor=actor, action="content.discard", detail=f"topic {topic_id}"
            )
        return TopicOutcome(True)


# --- edits -------------------------------------------------------------------------------


def move_card(position: int, offset: int) -> Edit:
    def change(data: dict[str, Any]) -> None:
        cards = data["cards"]
        other = position + offset
        if not (0 <= position < len(cards) and 0 <= other < len(cards)):
            raise IndexError(position)
        cards[position], cards[other] = cards[other], cards[position]

    return change


def set_card(
    position: int, buttons: list[dict[str, str]], sources: list[dict[str, str]], verified: str
) -> Edit:
    def change(data: dict[str, Any]) -> None:
        card = data["cards"][position]
        card["buttons"] = buttons
        card["sources"] = sources
        card["verified_on"] = verified or None

    return change


def set_question(question_id: str, question: str, answers: list[dict[str, Any]]) -> Edit:
    def change(data: dict[str, Any]) -> None:
        for item in data["quiz"]:
            if item["id"] == question_id:
                item["question"] = question
                item["answers"] = answers
                return
        raise KeyError(question_id)

    return change


# --- problems taken to the card or question they concern ---------------------------------


def _errors_by_field(problems: list[Any], path: str, text: str) -> dict[str, list[str]]:
    spans = _spans(text)
    errors: dict[str, list[str]] = {}
    for problem in problems:
        name = GENERAL
        if problem.file == path:
            name = next((f for f, first, last in spans if first <= problem.line <= last), GENERAL)
            reason = problem.reason
        else:
            reason = str(problem)
        errors.setdefault(name, []).append(reason)
    return errors


def _spans(text: str) -> list[tuple[str, int, int]]:
    """(field, first line, last line) of each card and quiz question of a module's text."""
    try:
        doc = YAML(typ="rt").load(text)
    except Exception:  # a text that does not parse has no lines to give
        return []
    total = len(text.splitlines())
    # Where each top-level key starts: a list ends before the next one.
    tops = sorted(doc.lc.key(k)[0] + 1 for k in doc)
    spans: list[tuple[str, int, int]] = []
    for name, naming in (("cards", None), ("quiz", "id")):
        items: Any = doc.get(name)
        if not items:
            continue
        starts = [items.lc.item(i)[0] + 1 for i in range(len(items))]
        end = next((t - 1 for t in tops if t > starts[-1]), total)
        for i, item in enumerate(items):
            last = starts[i + 1] - 1 if i + 1 < len(items) else end
            label = card_field(i) if naming is None else question_field(str(item.get("id")))
            spans.append((label, starts[i], last))
    return spans
