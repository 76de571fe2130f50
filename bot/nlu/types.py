"""Plain data passed from the NLU layer to the engine."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from bot.errors import KunnafoniError

#: Who a parse is for: an opaque key of the conversation (never shown or logged), set by
#: :meth:`bot.nlu.service.NluService.parse` so the Rasa client's circuit breaker can tell
#: one person's failing messages from a failing server.
CALLER: ContextVar[str | None] = ContextVar("nlu_caller", default=None)


class NluSource(StrEnum):
    RASA = "rasa"
    KEYWORDS = "keywords"
    NONE = "none"


#: The intent Rasa's FallbackClassifier predicts when it is unsure.
RASA_FALLBACK_INTENT = "nlu_fallback"


class NluUnavailable(KunnafoniError):
    """The NLU server could not answer (down, slow, or refusing us)."""


@dataclass(frozen=True)
class Entity:
    entity: str
    value: str
    start: int | None = None
    end: int | None = None


@dataclass(frozen=True)
class NluResult:
    text: str
    intent: str | None
    confidence: float
    source: NluSource
    ranking: tuple[tuple[str, float], ...] = ()
    entities: tuple[Entity, ...] = ()
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def nothing(cls, text: str) -> NluResult:
        return cls(text=text, intent=None, confidence=0.0, source=NluSource.NONE)

    def as_json(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "intent": self.intent,
            "confidence": round(self.confidence, 4),
            "source": self.source.value,
            "ranking": [{"intent": n, "confidence": round(c, 4)} for n, c in self.ranking],
            "entities": [
                {"entity": e.entity, "value": e.value, "start": e.start, "end": e.end}
                for e in self.entities
            ],
        }


class IntentParser(Protocol):
    """Anything that turns text into an :class:`NluResult` (the Rasa client, a test stub)."""

    async def parse(self, text: str) -> NluResult: ...

    async def aclose(self) -> None: ...
