"""A stand-in for the Rasa server inside the process."""

from __future__ import annotations

from bot.nlu.types import NluResult, NluSource, NluUnavailable

#: The intents added for what young people really write (issue 17).
NEW_INTENTS = (
    "intent_to_leave",
    "family_pressure",
    "myth_check",
    "job_offer",
    "going_anyway",
    "rights_abroad",
    "privacy_question",
    "self_harm",
    "feedback",
)


class StubParser:
    """Stands in for the Rasa server: answers from a table, or is 'down'.

    A table value is ``(intent, confidence)`` or a whole :class:`NluResult`.
    """

    def __init__(self, table: dict[str, tuple[str, float] | NluResult] | None = None) -> None:
        self.table = table or {}
        self.down = False
        self.calls: list[str] = []

    async def parse(self, text: str) -> NluResult:
        self.calls.append(text)
        if self.down:
            raise NluUnavailable("stub is down")
        answer = self.table.get(text, ("out_of_scope", 0.2))
        if isinstance(answer, NluResult):
            return answer
        intent, confidence = answer
        return NluResult(
            text=text,
            intent=intent,
            confidence=confidence,
            source=NluSource.RASA,
            ranking=((intent, confidence),),
        )

    async def aclose(self) -> None:
        return None
