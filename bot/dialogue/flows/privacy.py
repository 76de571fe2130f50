"""The person's rights over their data: erasure (``/forget``), after a confirmation.

The flow only decides; the engine erases in the same transaction (``bot/store/erasure``)
and answers in the person's language, which it knows before the rows go.
"""

from __future__ import annotations

from bot.dialogue.flows.modules import menu_button
from bot.dialogue.payloads import Forget
from bot.dialogue.turn import Turn
from bot.dialogue.types import Button


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
