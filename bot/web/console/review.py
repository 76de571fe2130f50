"""The NLU review queue in the console: messages the bot did not understand, grouped by
similarity, labelled by editors, admins and annotators into ``nlu/data/reviewed.yml``.

Nothing here names a person: the queue's rows hold no user id (``bot.store.review``),
the pages and the file show the masked text only. Each label and each discard is written
to the audit log without the text (the item's number, the intent, the language).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from bot.config import PROJECT_ROOT
from bot.nlu.review import (
    LANGUAGES,
    MAX_QUEUE_SHOWN,
    Domain,
    LabelError,
    Labelled,
    ReviewedFile,
    Span,
    check_label,
    group,
    held_out,
    leaks,
)
from bot.store import accounts as account_store
from bot.store import review as review_store
from bot.store.accounts import Account
from bot.store.db import Database
from bot.web.console.permissions import Action

#: The console's page renderer and permission check (``bot.web.console.app``), handed in
#: by the app so that this module does not import it back.
Render = Callable[..., Response]
Endpoint = Callable[[Request], Awaitable[Response]]
Guarding = Callable[[Action], Callable[[Endpoint], Endpoint]]

logger = logging.getLogger(__name__)

#: The file reviewers write, in the NLU data folder.
REVIEWED_FILE = "reviewed.yml"
#: Empty entity rows offered under the predicted ones.
BLANK_ENTITY_ROWS = 3
#: The most entity rows a form may send.
MAX_ENTITY_ROWS = 20


@dataclass(frozen=True)
class ReviewPaths:
    """Where the reviewed file goes and where the domain is read."""

    data_dir: Path

    @property
    def reviewed(self) -> ReviewedFile:
        return ReviewedFile(self.data_dir / REVIEWED_FILE)

    @property
    def domain_file(self) -> Path:
        beside = self.data_dir.parent / "domain.yml"
        return beside if beside.exists() else PROJECT_ROOT / "nlu" / "domain.yml"

    def domain(self) -> Domain:
        return Domain.load(self.domain_file)

    def held_out(self) -> frozenset[str]:
        """The held-out test sentences beside the data (``nlu/tests``), if any."""
        folder = self.data_dir.parent / "tests"
        if not folder.is_dir():
            folder = PROJECT_ROOT / "nlu" / "tests"
        return held_out(folder)


def paths(request: Request) -> ReviewPaths:
    folder = getattr(request.app.state, "nlu_data_dir", None)
    return ReviewPaths(Path(folder) if folder else PROJECT_ROOT / "nlu" / "data")


def spans_of(form: FormData, text: str) -> list[Span]:
    """The entity rows of a label form as character spans of ``text``.

    A row gives the entity's name and its words; ``start`` (set when the words were
    selected in the page) says which occurrence, otherwise the first one not taken yet.
    Words not in the text are refused rather than guessed."""
    names = form.getlist("entity")[:MAX_ENTITY_ROWS]
    words = form.getlist("entity_text")[:MAX_ENTITY_ROWS]
    starts = form.getlist("entity_start")[:MAX_ENTITY_ROWS]
    spans: list[Span] = []
    for index, (name, said) in enumerate(zip(names, words, strict=False)):
        name, said = str(name).strip(), str(said).strip()
        if not name and not said:
            continue
        if not name or not said:
            raise LabelError("review.error.entity")
        start_text = str(starts[index]).strip() if index < len(starts) else ""
        start = int(start_text) if start_text.isdigit() else None
        if start is None or text[start : start + len(said)] != said:
            start = _free_occurrence(text, said, spans)
        if start is None:
            raise LabelError("review.error.span")
        spans.append(Span(name, start, start + len(said)))
    return spans


def _free_occurrence(text: str, said: str, taken: list[Span]) -> int | None:
    at = text.find(said)
    while at != -1:
        if all(at >= s.end or at + len(said) <= s.start for s in taken):
            return at
        at = text.find(said, at + 1)
    return None


class ReviewPages:
    """The queue's endpoints, drawn with the console's renderer."""

    def __init__(self, *, render: Render, prefix: str) -> None:
        self.render = render
        self.prefix = prefix

    def _back(self, note: str | None = None) -> RedirectResponse:
        return RedirectResponse(f"{self.prefix}/review" + (f"?note={note}" if note else ""), 303)

    async def queue_page(self, request: Request) -> Response:
        """The queue, oldest first, in groups of alike messages."""
        database: Database = request.app.state.database
        async with database.reading() as db:
            items = await review_store.pending(db, limit=MAX_QUEUE_SHOWN)
            total = await review_store.count(db)
        groups = group(items, lambda item: item.text)
        note = request.query_params.get("note")
        return self.render(
            request,
            "review.html",
            {
                "groups": groups,
                "total": total,
                "shown": len(items),
                "note": note if note in ("labelled", "discarded", "gone") else None,
            },
        )

    async def item_page(self, request: Request) -> Response:
        """One message's label form, with the other messages of its group below."""
        item_id = request.path_params["item"]
        database: Database = request.app.state.database
        async with database.reading() as db:
            item = await review_store.get_item(db, item_id)
            items = await review_store.pending(db, limit=MAX_QUEUE_SHOWN)
        if item is None:
            return self._back("gone")
        alike = next((g for g in group(items, lambda i: i.text) if item in g), [item])
        entities = [
            {"entity": e["entity"], "text": item.text[e["start"] : e["end"]], "start": e["start"]}
            for e in item.entities
            if isinstance(e, dict)
            and isinstance(e.get("start"), int)
            and isinstance(e.get("end"), int)
        ]
        return self._form(request, item, entities=entities, text=item.text, alike=alike)

    def _form(
        self,
        request: Request,
        item: review_store.ReviewItem,
        *,
        entities: list[dict[str, Any]],
        text: str,
        alike: list[review_store.ReviewItem] | None = None,
        intent: str | None = None,
        language: str | None = None,
        error: str | None = None,
    ) -> Response:
        domain = paths(request).domain()
        rows = entities + [{"entity": "", "text": "", "start": ""}] * BLANK_ENTITY_ROWS
        return self.render(
            request,
            "review_item.html",
            {
                "item": item,
                "text": text,
                "alike": [other for other in (alike or []) if other.id != item.id],
                "intents": domain.intents,
                "entity_names": domain.entities,
                "languages": LANGUAGES,
                "chosen_intent": intent if intent is not None else item.intent,
                "chosen_language": language
                or (item.language if item.language in LANGUAGES else ""),
                "rows": rows,
                "error": error,
            },
            status=400 if error else 200,
        )

    async def label(self, request: Request) -> Response:
        """Save the label to the reviewed file, take the message out of the queue, audit it."""
        item_id = request.path_params["item"]
        me: Account = request.state.account
        form = await request.form()
        database: Database = request.app.state.database
        text = " ".join(str(form.get("text") or "").split())
        intent = str(form.get("intent") or "")
        language = str(form.get("language") or "")
        async with database.reading() as db:
            item = await review_store.get_item(db, item_id)
        if item is None:
            return self._back("gone")
        rows = [
            {"entity": str(n), "text": str(w), "start": str(s)}
            for n, w, s in zip(
                form.getlist("entity"),
                form.getlist("entity_text"),
                form.getlist("entity_start"),
                strict=False,
            )
            if str(n).strip() or str(w).strip()
        ]
        try:
            spans = spans_of(form, text)
            labelled = Labelled(
                text=text,
                intent=intent,
                language=language,
                entities=tuple(spans),
                labelled_by=me.name,
                labelled_at=request.app.state.clock(),
            )
            check_label(labelled, paths(request).domain())
            if leaks(labelled, paths(request).held_out()):
                raise LabelError("review.error.held_out")
        except LabelError as problem:
            return self._form(
                request,
                item,
                entities=rows,
                text=text,
                intent=intent,
                language=language,
                error=str(problem),
            )
        try:
            async with database.transaction() as db:
                # Taken out first: of two reviewers saving the same message, one writes it.
                if not await review_store.remove_item(db, item_id):
                    return self._back("gone")
                # Written inside the transaction: a file that cannot be written undoes the
                # removal, and the message waits in the queue.
                paths(request).reviewed.add(labelled)
                await account_store.audit(
                    db,
                    actor=me.name,
                    action="nlu.label",
                    detail=f"#{item_id} {intent} {language} entities={len(spans)}",
                )
        except OSError:
            logger.exception("The reviewed NLU file could not be written")
            return self._form(
                request,
                item,
                entities=rows,
                text=text,
                intent=intent,
                language=language,
                error="review.error.file",
            )
        return self._back("labelled")

    async def discard(self, request: Request) -> Response:
        """Take a message out of the queue without keeping it (not useful, or still personal)."""
        item_id = request.path_params["item"]
        me: Account = request.state.account
        database: Database = request.app.state.database
        async with database.transaction() as db:
            if not await review_store.remove_item(db, item_id):
                return self._back("gone")
            await account_store.audit(db, actor=me.name, action="nlu.discard", detail=f"#{item_id}")
        return self._back("discarded")

    async def reviewed_file(self, request: Request) -> Response:
        """The reviewed examples as they are in the NLU data (no person in them)."""
        path = paths(request).reviewed.path
        body = path.read_text(encoding="utf-8") if path.exists() else 'version: "3.1"\n\nnlu: []\n'
        return Response(
            body,
            media_type="application/yaml; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{REVIEWED_FILE}"'},
        )

    def routes(self, guarded: Guarding) -> list[BaseRoute]:
        """Every route of the queue, each behind ``guarded(Action.REVIEW)``."""
        allowed = guarded(Action.REVIEW)
        return [
            Route("/review", allowed(self.queue_page), methods=["GET"]),
            Route("/review/reviewed.yml", allowed(self.reviewed_file), methods=["GET"]),
            Route("/review/{item:int}", allowed(self.item_page), methods=["GET"]),
            Route("/review/{item:int}", allowed(self.label), methods=["POST"]),
            Route("/review/{item:int}/discard", allowed(self.discard), methods=["POST"]),
        ]
