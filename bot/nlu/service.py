"""One entry point for understanding text: Rasa when it answers, keywords when not.

Keyword triggers come from content, so the service asks for the live catalog's
matcher on each call (content can be swapped while the bot runs).

What leaves the bot: :meth:`NluService.parse` masks phone numbers (``bot.phones``)
before anything else reads the text, so the NLU server never receives one and the
result the engine works on holds the mask too. :meth:`NluService.local` never calls
the server: it is for texts that must stay in the bot (the referral form's answers).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from bot.metrics import NLU_ANSWERS, NLU_SECONDS
from bot.nlu.keywords import CRISIS_INTENTS, KeywordMatcher
from bot.nlu.types import CALLER, IntentParser, NluResult, NluUnavailable
from bot.phones import mask_phones

logger = logging.getLogger(__name__)


class NluService:
    def __init__(self, rasa: IntentParser | None, matcher: Callable[[], KeywordMatcher]) -> None:
        self.rasa = rasa
        self._matcher = matcher

    async def parse(self, text: str, *, caller: str | None = None) -> NluResult:
        """The text understood, phone numbers masked: by Rasa, or by keywords when it is
        down or when a crisis keyword is in the text. ``caller``: an opaque key of the
        conversation, so that one person's failing parses are counted as one."""
        started = time.perf_counter()
        masked = mask_phones(text)
        keyword_result = self.local(masked)
        # An emergency or self-harm keyword is never lost to a model's threshold.
        if keyword_result.intent in CRISIS_INTENTS:
            return _measured(keyword_result, "keywords", started)
        if self.rasa is None:
            return _measured(keyword_result, "keywords", started)
        token = CALLER.set(caller)
        try:
            return _measured(await self.rasa.parse(masked), "rasa", started)
        except NluUnavailable as exc:
            logger.warning("NLU unavailable, using keywords: %s", exc)
        finally:
            CALLER.reset(token)
        return _measured(keyword_result, "fallback", started)

    def local(self, text: str) -> NluResult:
        """The content's keywords only (the emergency tripwire included): nothing leaves
        the bot, and the text is kept as it was typed."""
        return self._matcher().match(text)

    async def aclose(self) -> None:
        if self.rasa is not None:
            await self.rasa.aclose()


def _measured(result: NluResult, source: str, started: float) -> NluResult:
    NLU_SECONDS.labels(source).observe(time.perf_counter() - started)
    NLU_ANSWERS.labels(source).inc()
    return result
