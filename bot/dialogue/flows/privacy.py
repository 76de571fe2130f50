"""The person's rights over their data: erasure (``/forget``, or a request to erase typed
in free text), after a confirmation.

The flow only decides; the engine erases in the same transaction (``bot/store/erasure``)
and answers in the person's language, which it knows before the rows go.
"""

from __future__ import annotations

from bot.content.catalog import Catalog, PerVersion
from bot.dialogue.flows.modules import menu_button
from bot.dialogue.payloads import Forget
from bot.dialogue.turn import Turn
from bot.dialogue.types import Button
from bot.nlu.normalise import contains_phrase, tokens


class ForgetRequests:
    """The ``forget`` phrases of ``privacy.yml`` of one content version, folded."""

    def __init__(self, catalog: Catalog) -> None:
        phrases = catalog.privacy.forget if catalog.privacy is not None else {}
        self._phrases = [words for ps in phrases.values() for p in ps if (words := tokens(p))]

    def asked(self, text: str) -> bool:
        """Whether ``text`` asks to erase one's data (any language: people mix them)."""
        words = tokens(text)
        return any(contains_phrase(words, phrase) for phrase in self._phrases)


_REQUESTS: PerVersion[ForgetRequests] = PerVersion(ForgetRequests)


def asks_to_forget(catalog: Catalog, text: str) -> bool:
    """Whether a message asks to erase what the bot keeps (``privacy.yml``)."""
    return _REQUESTS(catalog).asked(text)


def ask_forget(turn: Turn) -> None:
    """What erasing means (and what it cannot undo), then yes / no."""
    turn.say(
        "forget.explain",
        [
            Button(turn.t("forget.yes"), Forget(True).pack()),
            Button(turn.t("forget.no"), Forget(False).pack()),
        ],
    )


def press(turn: Turn, payload: Forget) -> bool:
    if payload.yes:
        turn.erase = True
        turn.say("forget.done")
    else:
        turn.say("forget.kept", [menu_button(turn)])
    return True
