"""The data-consent ledger: what was asked, given, refused or withdrawn, against which text.

Each time the consent question is shown, the SHA-256 of its exact text in the language
shown is remembered in the conversation and an ``asked`` event is logged; the answer is
logged against that same hash. At each message of someone who consented, the hash of the
consent text now published, in the language they consented in, is compared with the one
they agreed to: a change of wording asks them again, after the answer to their message,
and never in an emergency or a crisis (those are answered first; the question waits for a
calmer message). Refusing or withdrawing clears at once what is kept only with consent
(``bot/store/erasure.clear_optional_data``). The engine writes the ledger and the counts
in the step's transaction (``bot/dialogue/storage``).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from bot.dialogue.flows.help import SAME_EMERGENCY
from bot.dialogue.memory import AskedConsent, is_recent
from bot.dialogue.turn import ConsentNote, Turn
from bot.dialogue.types import State
from bot.nlu.keywords import EMERGENCY_INTENT, SELF_HARM_INTENT
from bot.store.models import utcnow

#: The text the person consents to; its hash is what the ledger keeps.
CONSENT_KEY = "onboarding.consent"
#: Asked again after a change of text only where the conversation is at rest (not in the
#: middle of a form, a quiz, a question about where they are, or onboarding).
ASK_AGAIN_IN = (State.MENU, State.TOPIC)
#: Someone who did not answer the question asked again is not asked before this long.
ASK_AGAIN_AFTER = timedelta(hours=24)

ASKED, GIVEN, REFUSED, WITHDRAWN = "asked", "given", "refused", "withdrawn"


def text_hash(text: str) -> str:
    """SHA-256 (hex) of a text exactly as shown."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def current_hash(turn: Turn, language: str) -> str:
    """The hash of the consent text published now, as a user of ``language`` reads it."""
    return text_hash(turn.catalog.text(CONSENT_KEY, language).text)


def asked(turn: Turn) -> None:
    """The consent text was just shown (in the user's language): remember and log it."""
    language = turn.language
    shown = current_hash(turn, language)
    turn.memory.consent.asked = AskedConsent(shown, language, datetime.now(UTC).isoformat())
    turn.consent_log.append(ConsentNote(ASKED, language, shown))


def answered(turn: Turn, given: bool) -> None:
    """Yes or no to the consent question, logged against the text that was shown; a "no"
    keeps nothing optional, a "yes" stores the deep-link source that waited for it."""
    notes = turn.memory.consent
    shown = notes.asked
    notes.asked = None
    if shown is None and turn.user.consent is given:
        # An old button of an answer already recorded: nothing new was agreed to.
        pass
    else:
        language = shown.language if shown is not None else turn.language
        hashed = shown.hash if shown is not None else current_hash(turn, language)
        turn.consent_log.append(ConsentNote(GIVEN if given else REFUSED, language, hashed))
    turn.user_changes["consent"] = given
    turn.user_changes["consent_at"] = utcnow()
    if given:
        source = notes.pending_source
        if source is not None and not turn.user.acquisition_source:
            turn.user_changes["acquisition_source"] = source
    else:
        turn.clear_optional = True
    notes.pending_source = None


def withdraw(turn: Turn) -> None:
    """Consent withdrawn: logged against the text agreed to, optional data cleared."""
    given = turn.consent_given
    if given is not None:
        language, hashed = given.language, given.text_hash
    else:
        language = turn.language
        hashed = current_hash(turn, language)
    turn.consent_log.append(ConsentNote(WITHDRAWN, language, hashed))
    turn.user_changes["consent"] = False
    turn.user_changes["consent_at"] = utcnow()
    turn.memory.consent.asked = None
    turn.memory.consent.pending_source = None
    turn.clear_optional = True


def keep_source(turn: Turn, source: str) -> None:
    """A deep link opened: counted anonymously (always), stored with the person only
    with their consent; before they answer it waits in the conversation; the first
    link wins."""
    turn.link_opened = source
    consent = turn.consent
    if turn.user.acquisition_source:
        return
    if consent is True:
        turn.user_changes.setdefault("acquisition_source", source)
    elif consent is None and turn.memory.consent.pending_source is None:
        turn.memory.consent.pending_source = source


def outdated(turn: Turn) -> bool:
    """Whether the person consented to a text that is no longer the one published (or
    consented before the ledger existed, so that what they agreed to is unknown)."""
    if turn.user.consent is not True or "consent" in turn.user_changes:
        return False
    given = turn.consent_given
    if given is None:
        return True
    language = given.language if turn.catalog.has_language(given.language) else turn.language
    return current_hash(turn, language) != given.text_hash


def in_crisis(turn: Turn) -> bool:
    """An emergency or thoughts of self-harm answered in this step or a moment ago."""
    if turn.decided_intent in (EMERGENCY_INTENT, SELF_HARM_INTENT):
        return True
    crisis = turn.memory.crisis
    if crisis is not None and is_recent(crisis.at, SAME_EMERGENCY):
        return True
    shown = turn.memory.emergency
    return shown is not None and is_recent(shown.at, SAME_EMERGENCY)


def should_ask_again(turn: Turn) -> bool:
    """After this step's answer: whether to ask the consent question again now."""
    if turn.erase or not outdated(turn) or turn.state not in ASK_AGAIN_IN or in_crisis(turn):
        return False
    last = turn.memory.consent.asked
    return not (
        last is not None
        and last.hash == current_hash(turn, turn.language)
        and is_recent(last.at, ASK_AGAIN_AFTER)
    )
