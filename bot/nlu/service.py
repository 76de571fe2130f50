"""One entry point for understanding text: Rasa when it answers, keywords when not.

Keyword triggers come from content, so the service asks for the live catalog's
matcher on each call (content can be swapped while the bot runs).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from bot.nlu.keywords import CRISIS_INTENTS, KeywordMatcher
from bot.nlu.types import IntentParser, NluResult, NluUnavailable

logger = logging.getLogger(__name__)


class NluService:
    def __init__(self, rasa: IntentParser | None, matcher: Callable[[], KeywordMatcher]) -> None:
        self.rasa = rasa
        self._matcher = matcher

    async def parse(self, text: str) -> NluResult:
        matcher = self._matcher()
        keyword_result = matcher.match(text)
        # An emergency or self-harm keyword is never lost to a model's threshold.
        if keyword_result.intent in CRISIS_INTENTS:
            return keyword_result
        if self.rasa is not None:
            try:
                return await self.rasa.parse(text)
            except NluUnavailable as exc:
                logger.warning("NLU unavailable, using keywords: %s", exc)
        return keyword_result

    async def aclose(self) -> None:
        if self.rasa is not None:
            await self.rasa.aclose()
