"""The person's rights over their data: the privacy screen (``/privacy``, the menu),
withdrawing the data consent, and erasure (``/forget``, or a request to erase typed in
free text), each after a confirmation.

The flow only decides; the engine clears the optional data or erases in the same
transaction (``bot/store/erasure``) and answers in the person's language, which it knows
before the rows go.
"""

from __future__ import annotations

from bot.content.catalog import Catalog, PerVersion
from bot.content.models import Action
from bot.dialogue.flows import consent
from bot.dialogue.flows.access import my_data_button
from bot.dialogue.flows.modules import menu_button
from bot.dialogue.flows.onboarding import ask_consent
from bot.dialogue.payloads import Do, Forget, Privacy
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


def show(turn: Turn) -> None:
    """What is kept (with or without consent), and what the person can do about it."""
    turn.say(
        "privacy.kept_consent" if turn.consent else "privacy.kept_no_consent",
        privacy_buttons(turn),
    )


def privacy_buttons(turn: Turn) -> list[Button]:
    """The privacy screen's buttons, in the order shown."""
    buttons = [
        Button(turn.t("menu.language"), Do(Action.CHANGE_LANGUAGE).pack()),
        my_data_button(turn),
    ]
    if turn.consent:
        buttons.append(Button(turn.t("privacy.withdraw"), Privacy("withdraw").pack()))
    else:
        buttons.append(Button(turn.t("privacy.read_consent"), Privacy("consent").pack()))
    buttons.append(Button(turn.t("privacy.forget"), Do(Action.FORGET).pack()))
    buttons.append(menu_button(turn))
    return buttons


def press_privacy(turn: Turn, payload: Privacy) -> bool:
    step = payload.step
    if step == "consent":
        ask_consent(turn)
    elif not turn.consent:
        # Withdrawing what was never given (or is gone already): the screen as it is now.
        show(turn)
    elif step == "withdraw":
        turn.say(
            "privacy.withdraw_explain",
            [
                Button(turn.t("privacy.withdraw_yes"), Privacy("withdraw_yes").pack()),
                Button(turn.t("privacy.withdraw_no"), Privacy("keep").pack()),
            ],
        )
    elif step == "withdraw_yes":
        consent.withdraw(turn)
        turn.say("privacy.withdrawn", [menu_button(turn)])
    else:
        turn.say("privacy.kept", [menu_button(turn)])
    return True


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
