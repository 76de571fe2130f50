"""Keyword triggers from content: the NLU of last resort, and the emergency tripwire."""

from __future__ import annotations

from collections.abc import Iterable

from bot.nlu.normalise import tokens
from bot.nlu.types import NluResult, NluSource

#: Confidence reported for a keyword hit: sure enough to act, below a confident model.
KEYWORD_CONFIDENCE = 0.9
EMERGENCY_INTENT = "emergency"
SELF_HARM_INTENT = "self_harm"
#: Intents answered first, whatever the state or the model's confidence: a keyword of
#: one of them wins over the model, and the first of them found wins over the others.
CRISIS_INTENTS = (EMERGENCY_INTENT, SELF_HARM_INTENT)


def _crisis_rank(intent: str) -> int:
    return CRISIS_INTENTS.index(intent) if intent in CRISIS_INTENTS else len(CRISIS_INTENTS)


class KeywordMatcher:
    """Matches whole words or whole phrases after folding (see :mod:`bot.nlu.normalise`)."""

    def __init__(self, triggers: Iterable[tuple[str, str, str]]) -> None:
        #: The phrases by their first word: a text is only compared with the phrases that
        #: can start at one of its words (each message, hundreds of phrases otherwise).
        self._by_first: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
        for intent, _language, phrase in triggers:
            folded = tokens(phrase)
            if folded:
                self._by_first.setdefault(folded[0], []).append((intent, folded))

    def _found(self, words: tuple[str, ...]) -> Iterable[tuple[str, tuple[str, ...]]]:
        """Every (intent, phrase) whose words appear in a row in ``words``."""
        for start, word in enumerate(words):
            for intent, phrase in self._by_first.get(word, ()):
                if words[start : start + len(phrase)] == phrase:
                    yield intent, phrase

    def match(self, text: str) -> NluResult:
        words = tokens(text)
        best: dict[str, int] = {}
        for intent, phrase in self._found(words):
            best[intent] = max(best.get(intent, 0), len(phrase))
        if not best:
            return NluResult.nothing(text)
        # A crisis word always wins (an emergency before thoughts of self-harm);
        # otherwise the longest (most specific) phrase.
        ranked = sorted(best, key=lambda i: (_crisis_rank(i), -best[i], i))
        ranking = tuple((intent, KEYWORD_CONFIDENCE) for intent in ranked)
        return NluResult(
            text=text,
            intent=ranked[0],
            confidence=KEYWORD_CONFIDENCE,
            source=NluSource.KEYWORDS,
            ranking=ranking,
        )

    def is_crisis(self, text: str, intent: str) -> bool:
        """Whether ``text`` holds a keyword of the crisis ``intent``."""
        return any(name == intent for name, _ in self._found(tokens(text)))

    def is_emergency(self, text: str) -> bool:
        return self.is_crisis(text, EMERGENCY_INTENT)
