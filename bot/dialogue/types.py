"""What goes in and out of the engine."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class State(StrEnum):
    NEW = "new"
    CHOOSING_LANGUAGE = "choosing_language"
    CONSENT = "consent"
    #: Asked whether they want campaign messages (after the data-consent answer).
    SUBSCRIBE = "subscribe"
    MENU = "menu"
    TOPIC = "topic"
    QUIZ = "quiz"
    #: Where are you? (asked once, before showing services)
    LOCATION = "location"
    #: Filling the short form of a referral, after consenting to it.
    REFERRAL = "referral"


@dataclass(frozen=True)
class Inbound:
    """One thing a user did. Exactly one of text, button, command, voice, location, media."""

    user_id: str
    channel: str = "console"
    text: str | None = None
    button: str | None = None
    command: str | None = None
    args: str = ""
    voice: bool = False
    location: tuple[float, float] | None = None
    media: bool = False
    #: The channel's delivery id (Telegram update_id) for idempotency; None when unknown.
    update_id: int | None = None
    #: The channel's hint of the user's interface language (Telegram language_code).
    locale: str | None = None


@dataclass(frozen=True)
class Button:
    label: str
    payload: str


@dataclass(frozen=True)
class Media:
    kind: str  # voice
    #: Relative to the content folder, e.g. ``media/bm/topic.sahara.card1.ogg``.
    path: str
    #: ``before``: the voice note, then the text; ``instead``: the voice note alone.
    mode: str = "before"


@dataclass(frozen=True)
class Document:
    """A file sent with a reply (the reply's text is its caption)."""

    filename: str
    #: Out of ``repr``: a person's data must not reach a log line or a traceback by accident.
    content: bytes = field(repr=False)
    #: The MIME type, e.g. ``application/json``.
    mime: str = "application/octet-stream"

    def as_json(self) -> dict[str, Any]:
        """For ``chat --json``: a JSON file's content as JSON, any other as text."""
        text = self.content.decode("utf-8", errors="replace")
        content: Any = json.loads(text) if self.mime == "application/json" else text
        return {"filename": self.filename, "mime": self.mime, "content": content}


@dataclass(frozen=True)
class Reply:
    text: str
    buttons: tuple[Button, ...] = ()
    media: Media | None = None
    document: Document | None = None


@dataclass
class Meta:
    intent: str | None = None
    confidence: float | None = None
    language: str | None = None
    state: str | None = None
    topic: str | None = None
    #: Services shown, each ``{"id": ..., "reasons": [...]}`` (why it was chosen).
    services: list[dict[str, Any]] = field(default_factory=list)
    content_version: str | None = None
    nlu_source: str | None = None
    #: The content keys of the messages shown, in order (``emergency.contacts``...): what
    #: a step answered, whatever the wording or the language.
    messages: list[str] = field(default_factory=list)


@dataclass
class Outcome:
    replies: list[Reply]
    meta: Meta
    #: True when the inbound event was a redelivery already answered.
    duplicate: bool = False
    #: Referrals stored in this step: the channel delivers them to the partners' chats.
    referrals: list[int] = field(default_factory=list)
    #: The user asked to talk to a person: the channel opens the relay.
    handover: bool = False
    #: The user's internal id (never a channel id), for what the channel does next; None
    #: after the user was erased.
    user: int | None = None
    #: References of open referrals the user withdrew by erasing their data: the channel
    #: tells each partner.
    withdrawn: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        meta = asdict(self.meta)
        return {
            "replies": [_reply_json(r) for r in self.replies],
            "meta": {
                k: meta[k]
                for k in (
                    "intent",
                    "confidence",
                    "language",
                    "state",
                    "topic",
                    "services",
                    "messages",
                )
            },
        }


def _reply_json(reply: Reply) -> dict[str, Any]:
    shown: dict[str, Any] = {
        "text": reply.text,
        "buttons": [{"label": b.label, "payload": b.payload} for b in reply.buttons],
        "media": asdict(reply.media) if reply.media else None,
    }
    if reply.document is not None:
        # Only on a reply that carries a file, so every other line keeps its shape.
        shown["document"] = reply.document.as_json()
    return shown
