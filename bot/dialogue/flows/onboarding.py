"""Onboarding: /start, the language, the data-consent question; a language switch offered."""

from __future__ import annotations

from bot.content.models import Coverage
from bot.dialogue.flows import consent
from bot.dialogue.flows.modules import menu
from bot.dialogue.flows.subscription import ask_subscription
from bot.dialogue.payloads import Consent, Lang
from bot.dialogue.turn import Turn
from bot.dialogue.types import Button, Reply, State
from bot.nlu.normalise import fold

#: A switch of language is offered only on a message of at least this many words: one or
#: two words ("sahara", "ok", a name) are too short to tell a language, and a Fulfulde
#: user typing "sahara" was offered Songhay.
SWITCH_OFFER_MIN_WORDS = 3


def start(turn: Turn) -> None:
    turn.go(State.CHOOSING_LANGUAGE)
    turn.say("onboarding.welcome", language_buttons(turn))


def language_buttons(turn: Turn) -> list[Button]:
    return [Button(lang.name, Lang(code).pack()) for code, lang in turn.catalog.languages.items()]


def pick_first(turn: Turn) -> None:
    """Free text before any language is chosen: the picker, with a short bilingual line,
    rather than an answer in a language the person may not read."""
    turn.go(State.CHOOSING_LANGUAGE)
    turn.say("language.pick_first", language_buttons(turn))


def choose_language(turn: Turn, *, onboarding: bool) -> None:
    if onboarding:
        turn.go(State.CHOOSING_LANGUAGE)
    turn.say("language.choose", language_buttons(turn))


def press_language(turn: Turn, payload: Lang) -> bool:
    if not turn.catalog.has_language(payload.code):
        return False
    set_language(turn, payload.code)
    return True


def language_named(turn: Turn, text: str) -> bool:
    """A language typed by its code or name while being asked for one."""
    folded = fold(text)
    for code, lang in turn.catalog.languages.items():
        if folded in (code, fold(lang.name)):
            set_language(turn, code)
            return True
    return False


def set_language(turn: Turn, code: str) -> None:
    turn.user_changes["language"] = code
    _drop_stale_question(turn)
    if turn.consent is None:
        turn.go(State.CONSENT)
        ask_consent(turn)
    elif turn.memory.waiting is not None:
        # A question typed before the language was chosen: answered next, nothing asked.
        turn.go(State.MENU)
    elif (
        turn.state is State.CHOOSING_LANGUAGE
        and not turn.memory.subscription.asked
        and not turn.user.subscribed
    ):
        # Onboarding where consent came first: the subscription question is next.
        ask_subscription(turn)
    else:
        turn.say("language.changed")
        menu(turn)


def ask_consent(turn: Turn) -> None:
    """The consent question, logged in the ledger with the hash of its exact text."""
    turn.say(consent.CONSENT_KEY, consent_buttons(turn))
    consent.asked(turn)


def ask_consent_again(turn: Turn) -> None:
    """The consent text changed since the person agreed: a line saying so, then the
    question, as a reply of its own after the answer to their message."""
    turn.say("privacy.consent_changed")
    ask_consent(turn)


def consent_buttons(turn: Turn) -> list[Button]:
    return [
        Button(turn.t("onboarding.consent_yes"), Consent(True).pack()),
        Button(turn.t("onboarding.consent_no"), Consent(False).pack()),
    ]


def set_consent(turn: Turn, given: bool) -> None:
    consent.answered(turn, given)
    _drop_stale_question(turn)
    turn.say("onboarding.consent_thanks" if given else "onboarding.consent_declined")
    if turn.chosen_language is None:
        choose_language(turn, onboarding=True)
    elif turn.memory.waiting is not None:
        # The question typed before the language was chosen is answered next instead of
        # another question; the subscription can be asked for later (/subscribe).
        turn.go(State.MENU)
    elif turn.user.subscribed or turn.user.consent is True:
        # Agreeing again to a new consent text: back to the menu, nothing else asked.
        menu(turn)
    else:
        ask_subscription(turn)


def _drop_stale_question(turn: Turn) -> None:
    """A question typed before the language, long ago, is not answered now."""
    waiting = turn.memory.waiting
    if waiting is not None and not waiting.is_fresh():
        turn.memory.waiting = None


def remind_onboarding(turn: Turn) -> None:
    """After answering a question mid-onboarding, ask again what is still missing."""
    state = turn.state
    if state in (State.NEW, State.CHOOSING_LANGUAGE):
        choose_language(turn, onboarding=True)
    elif state is State.CONSENT and turn.consent is None:
        ask_consent(turn)
    elif state is State.SUBSCRIBE:
        ask_subscription(turn)


def offer_language(turn: Turn) -> None:
    """Someone writing in another language than their chosen one is offered a switch, once."""
    written = turn.written_in
    chosen = turn.chosen_language
    if written is None or chosen is None or written == chosen:
        return
    if turn.text_words < SWITCH_OFFER_MIN_WORDS:
        return
    if not turn.catalog.has_language(written):
        return
    notes = turn.memory.language
    if notes.offered is None:
        notes.offered = []
    if written in notes.offered:
        return
    notes.offered.append(written)
    # Asked in the language the person writes, so they can read the offer.
    text = turn.shown("language.offer_switch", written)
    turn.replies.append(
        Reply(text, (Button(turn.catalog.languages[written].name, Lang(written).pack()),))
    )


def note_fallback(turn: Turn) -> None:
    """A user of a ``coverage: key`` language reached a text that fell back: say so once,
    in their language, with a switch to each fuller language of their fallback chain."""
    code = turn.chosen_language
    fallback = turn.fell_back_to
    screen = turn.memory.screen
    if code is None or fallback is None or screen.fallback_noted or code != turn.language:
        return
    languages = turn.catalog.languages
    if languages[code].coverage is not Coverage.KEY:
        return
    screen.fallback_noted = True
    switches = [
        Button(languages[other].name, Lang(other).pack())
        for other in turn.catalog.chain(code)[1:]
        if languages[other].coverage is Coverage.FULL
    ]
    turn.say("language.fallback_note", switches, fields={"language": languages[fallback].name})
