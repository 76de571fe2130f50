"""Which flow answers an inbound event: a command, a button's payload, or free text.

Button payloads are read by :func:`bot.dialogue.payloads.parse` and refused here, in
one place: a payload the bot did not make, or made for content that is gone, gets
the "this button is old" answer and the menu.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import bot.dialogue.payloads as p
from bot.content.catalog import Fields
from bot.content.models import Action, IntentSpec
from bot.content.needs import NEEDS
from bot.dialogue.decision import Thresholds, candidates, crisis_first, is_sure, ranked
from bot.dialogue.flows import (
    access,
    cases,
    consent,
    crisis,
    help,
    leaving,
    modules,
    onboarding,
    privacy,
    quiz,
    referral_form,
    subscription,
)
from bot.dialogue.flows.modules import clarify, menu, menu_button, stale, unreadable
from bot.dialogue.memory import WaitingQuestion
from bot.dialogue.questions import index as questions
from bot.dialogue.turn import Turn
from bot.dialogue.typed import asked_language, is_number, typed_choice
from bot.dialogue.types import Button, Inbound, State
from bot.nlu.keywords import EMERGENCY_INTENT, SELF_HARM_INTENT
from bot.nlu.types import Entity, NluResult, NluSource
from bot.routing.places import finder

#: The commands the engine answers, in the order the channel's command menu and /help list
#: them; each one's description is the content text ``command.<name>``.
COMMANDS = (
    "start",
    "menu",
    "help",
    "language",
    "mycases",
    "stop",
    "subscribe",
    "privacy",
    "mydata",
    "forget",
)

#: Deep-link payloads Telegram allows: t.me/<bot>?start=<payload>.
START_PAYLOAD = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

#: Intents that answer the consent question when typed instead of tapped.
AFFIRM, DENY = "affirm", "deny"

#: Intents of small talk: typed before a language is chosen, nothing waits to be answered.
SMALL_TALK = frozenset({"greet", "goodbye", "thank", AFFIRM, DENY, "out_of_scope"})
#: The longest question kept to answer once the language is chosen (characters).
MAX_WAITING = 500
#: A message of at most this many words that names where the user is, and nothing the
#: NLU is sure of, is a place said alone ("je suis a Kita", "n be kita"): acknowledged.
#: A longer one unclear to the NLU gets the likely intents, the place kept all the same.
PLACE_ALONE_WORDS = 5


def step(
    turn: Turn, inbound: Inbound, understood: NluResult | None, thresholds: Thresholds
) -> None:
    """Decide the step: replies, user changes and conversation changes on ``turn``."""
    if inbound.command is not None:
        command(turn, inbound.command.lower(), inbound.args.strip())
    elif inbound.button is not None:
        press(turn, inbound.button)
    elif understood is not None:
        text(turn, understood, thresholds)
    elif inbound.text is not None:
        clarify(turn)
    elif inbound.voice:
        unreadable(turn, "fallback.voice")
    elif inbound.location is not None:
        help.located(turn, *inbound.location)
    else:
        unreadable(turn, "fallback.media")
    answer_waiting(turn, thresholds)
    onboarding.note_fallback(turn)
    if consent.should_ask_again(turn):
        # The consent text changed since the person agreed: asked after the answer to
        # their message (never after an emergency or a crisis: a later message asks).
        onboarding.ask_consent_again(turn)


def answer_waiting(turn: Turn, thresholds: Thresholds) -> None:
    """A question typed before the language was chosen: answered once the language and
    the consent question are answered, then forgotten."""
    waiting = turn.memory.waiting
    if waiting is None or turn.chosen_language is None or turn.consent is None:
        return
    if turn.state in (State.CHOOSING_LANGUAGE, State.CONSENT):
        return
    turn.memory.waiting = None
    if not waiting.is_fresh():
        return  # typed long ago: answering it now would come out of nowhere
    said = NluResult(
        text=waiting.text,
        intent=waiting.intent,
        confidence=waiting.confidence,
        source=NluSource.RASA,
        ranking=tuple(waiting.ranking),
        entities=tuple(
            Entity(str(e.get("entity")), str(e.get("value")), _int(e.get("start")))
            for e in waiting.entities
        ),
    )
    text(turn, said, thresholds)


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _keep_waiting(turn: Turn, understood: NluResult, *, sure: bool) -> None:
    """Before a language is chosen: a real question is kept (in the conversation only)
    to be answered once it is; small talk and what is not understood are not."""
    found = finder(turn.catalog)
    question = sure and understood.intent in turn.catalog.intents
    if understood.intent in SMALL_TALK or not (
        question or found.destinations(understood.text) or found.mentions(understood.text)
    ):
        return
    turn.memory.waiting = WaitingQuestion(
        text=understood.text[:MAX_WAITING],
        intent=understood.intent,
        confidence=understood.confidence,
        ranking=list(understood.ranking[:5]),
        entities=[
            {"entity": e.entity, "value": e.value, "start": e.start} for e in understood.entities
        ],
        at=datetime.now(UTC).isoformat(),
    )


def command(turn: Turn, name: str, args: str) -> None:
    if name == "start":
        if args and START_PAYLOAD.match(args):
            # Counted anonymously now; kept with the person only once they consent.
            consent.keep_source(turn, args)
        onboarding.start(turn)
    elif name == "menu":
        menu(turn)
    elif name == "help":
        command_help(turn)
    elif name == "language":
        onboarding.choose_language(turn, onboarding=False)
    elif name == "stop":
        action(turn, Action.UNSUBSCRIBE)
    elif name == "subscribe":
        subscription.subscribe(turn, True)
    elif name == "mycases":
        cases.my_cases(turn)
    elif name == "privacy":
        privacy.show(turn)
    elif name == "mydata":
        access.my_data(turn)
    elif name == "forget":
        privacy.ask_forget(turn)
    else:
        clarify(turn)


def command_help(turn: Turn) -> None:
    """/help: what the service does, then one line per command, all in the user's language."""
    line = turn.t("help.command")
    commands = "\n".join(
        line.format_map(Fields(command=name, description=turn.t(f"command.{name}")))
        for name in COMMANDS
    )
    turn.say("help.text", [menu_button(turn)], fields={"commands": commands})


def press(turn: Turn, raw: str) -> None:
    """A button pressed: its flow answers, or the payload is refused as stale."""
    payload = p.parse(raw)
    if payload is None or not _answered(turn, payload):
        stale(turn)


def _answered(turn: Turn, payload: p.Payload) -> bool:
    """Hand ``payload`` to its flow; False when the flow finds it no longer applies."""
    match payload:
        case p.Lang():
            return onboarding.press_language(turn, payload)
        case p.Consent():
            onboarding.set_consent(turn, payload.yes)
        case p.Subscribe():
            subscription.subscribe(turn, payload.yes)
        case p.Age():
            return subscription.answer_age(turn, payload)
        case p.Situation():
            return subscription.answer_situation(turn, payload)
        case p.OpenTopic():
            return modules.open_topic(turn, payload)
        case p.Card():
            return modules.press_card(turn, payload)
        case p.QuizStart() | p.QuizQuestion() | p.QuizAnswer():
            return quiz.press(turn, payload)
        case p.Where() | p.WherePlace():
            return help.press_where(turn, payload)
        case p.Refer():
            return referral_form.offer(turn, payload)
        case p.FormPress():
            return referral_form.press(turn, payload)
        case p.Human():
            return cases.handover_answer(turn, payload)
        case p.Leave():
            return leaving.press_route(turn, payload)
        case p.Why():
            return leaving.press_reason(turn, payload)
        case p.Intent():
            if payload.name not in turn.catalog.intents:
                return False
            turn.meta.intent = payload.name
            intent(turn, payload.name)
        case p.Do():
            action(turn, payload.action)
        case p.Forget():
            return privacy.press(turn, payload)
        case p.CasesPage():
            return cases.my_cases(turn, payload.page)
        case p.Privacy():
            return privacy.press_privacy(turn, payload)
        case p.MyData():
            return access.press(turn, payload)
    return True


def text(turn: Turn, understood: NluResult, thresholds: Thresholds) -> None:
    """Free text, understood by the NLU: in an emergency going on, "help" gets its
    numbers again; a button on screen typed (an emergency first, unless the text is a
    bare number); emergencies; the form in progress; a language named; a place answering
    "where are you?"; the picker while no language is chosen (a real question kept to
    answer after); a request to erase one's data (``privacy.yml``: its confirmation);
    the question in progress; the reason for leaving typed after "why?";
    a relative who wants to leave; a common question about a module (its card); then the
    intent if the NLU is sure; leaving for a named place; a place said alone; else a
    choice of likely ones."""
    placed = help.keep_location(turn, understood)
    if turn.chosen_language is not None:
        # A new message: a question kept from before the language was chosen is dropped.
        turn.memory.waiting = None
    if help.asks_again(turn, understood.text):
        # "help", "dema", "qui appeler" in an emergency going on: its numbers again.
        return
    ranking = ranked(understood)
    top = ranking[0] if ranking else None
    sure = is_sure(understood, ranking, thresholds)
    first = crisis_first(understood, ranking, thresholds, turn.catalog.intents)
    turn.decided_intent = first
    emergency = first == EMERGENCY_INTENT
    if first is None and crisis.answer_safety(turn, understood, sure=sure):
        # "no" (or "yes") to "are you safe right now?", asked just before.
        return
    if typed(turn, understood, emergency=first is not None, sure=sure):
        return
    if first == SELF_HARM_INTENT:
        # Before anything else, like an emergency; no other question in this answer.
        crisis.self_harm(turn)
        return
    if emergency:
        # Emergency contacts come first, whatever the state or the confidence (written
        # again in the same emergency: the numbers in one line); then the question
        # itself if it was clearly something else.
        help.emergency(turn, brief_again=True)
        if turn.state is State.REFERRAL:
            referral_form.text(turn, understood.text)
            return
        if top is not None and top[0] != EMERGENCY_INTENT and sure:
            intent(turn, top[0])
        # No onboarding or consent question in the middle of an emergency: asked again
        # after the next message that is not one.
        return
    state = turn.state
    if state is State.REFERRAL:
        referral_form.text(turn, understood.text)
        return
    asked = asked_language(turn.catalog, understood.text)
    if asked is not None:
        onboarding.set_language(turn, asked)
        return
    if placed and help.answer_pending(turn):
        # The place typed in answer to "where are you?": the question that waited.
        return
    if state is State.CHOOSING_LANGUAGE and onboarding.language_named(turn, understood.text):
        return
    if turn.chosen_language is None:
        onboarding.pick_first(turn)
        _keep_waiting(turn, understood, sure=sure)
        return
    if privacy.asks_to_forget(turn.catalog, understood.text):
        # "supprime mes donnees", "n ka kunnafoniw jɔsi": the erasure's confirmation,
        # whatever the NLU read (a privacy question, unsubscribing...); nothing is erased
        # before the person confirms.
        privacy.ask_forget(turn)
        return
    if state is State.CONSENT and understood.intent in (AFFIRM, DENY) and sure:
        onboarding.set_consent(turn, understood.intent == AFFIRM)
        return
    if state is State.SUBSCRIBE and understood.intent in (AFFIRM, DENY) and sure:
        subscription.subscribe(turn, understood.intent == AFFIRM)
        return
    meaning = understood.intent if sure else None
    if leaving.typed_reason(turn, understood.text, meaning):
        pass  # "ma famille me pousse" after "why do you want to leave?"
    elif leaving.someone_else_leaving(turn, understood, sure=sure):
        pass  # "mon fils veut partir en Libye": a reply for the family
    elif _asked_card(turn, understood.text, meaning):
        pass  # "et le paiement a credit c quoi": the card about it
    elif meaning is not None and meaning in turn.catalog.intents:
        intent(turn, meaning, understood)
    elif leaving.leaving_said(turn, understood):
        leaving.wants_to_leave(turn, understood)
    elif placed and turn.text_words <= PLACE_ALONE_WORDS and help.acknowledge(turn):
        pass  # "je suis a Kita": a place said alone
    elif help.repeat_numbers(turn):
        # Not understood while an emergency is going on: its numbers in one line, with a
        # person and the menu; never "did you mean goodbye?" to someone in danger.
        pass
    else:
        _ask_which(turn, ranking, thresholds)
    onboarding.offer_language(turn)
    onboarding.remind_onboarding(turn)


def typed(turn: Turn, understood: NluResult, *, emergency: bool, sure: bool) -> bool:
    """Text that picks a button on screen, pressed as if tapped; True when it did.

    Never while the referral form waits for a free answer (there "12" is an answer), and
    an emergency comes first unless the text is a bare number.
    """
    if referral_form.expects_text(turn):
        return False
    meaning = understood.intent if sure else None
    chosen = typed_choice(turn.catalog, turn.memory.screen.buttons, understood.text, meaning)
    if chosen is None or (emergency and not is_number(understood.text)):
        return False
    press(turn, chosen)
    return True


def _asked_card(turn: Turn, said: str, meaning: str | None) -> bool:
    """A common question about a module typed ("a credit", "cedeao"): the card about it,
    unless the NLU is sure of something else than a module (a need, a reply)."""
    if meaning is not None:
        spec = turn.catalog.intents.get(meaning)
        if spec is not None and spec.topic is None and meaning not in SMALL_TALK:
            return False
    current = turn.conversation.topic if turn.state is State.TOPIC else None
    asked = questions(turn.catalog).card_for(said, current)
    if asked is None:
        return False
    modules.card(turn, asked.topic, asked.index)
    return True


def _ask_which(turn: Turn, ranking: list[tuple[str, float]], thresholds: Thresholds) -> None:
    """Two or three likely intents as buttons; the menu when nothing is likely."""
    likely = candidates(ranking, thresholds, turn.catalog.intents)
    if len(likely) < 2:
        clarify(turn)
        return
    buttons = [Button(turn.t(f"intent_label.{name}"), p.Intent(name).pack()) for name in likely]
    buttons.append(menu_button(turn))
    turn.say("clarify.choose", buttons)


def intent(turn: Turn, name: str, said: NluResult | None = None) -> None:
    """Do what an intent says: a need's services, a module, an action, or its reply
    (``said``: the message, when the intent was understood from one)."""
    spec: IntentSpec = turn.catalog.intents[name]
    if name == leaving.LEAVE_INTENT:
        leaving.wants_to_leave(turn, said)
        return
    if name in NEEDS and spec.reply is not None:
        help.help_with(turn, name)
        return
    if spec.topic is not None:
        modules.resume(turn, spec.topic)
    elif spec.action is not None:
        action(turn, spec.action)
    elif spec.reply is not None:
        buttons = [turn.button(b) for b in spec.buttons]
        buttons.append(menu_button(turn))
        turn.say(spec.reply, buttons)


def action(turn: Turn, chosen: Action) -> None:
    if chosen is Action.SHOW_MENU:
        menu(turn)
    elif chosen is Action.CHANGE_LANGUAGE:
        onboarding.choose_language(turn, onboarding=False)
    elif chosen is Action.UNSUBSCRIBE:
        subscription.unsubscribe(turn)
        turn.say("unsubscribe.done")
    elif chosen is Action.RESTART:
        onboarding.start(turn)
    elif chosen is Action.FORGET:
        privacy.ask_forget(turn)
    elif chosen is Action.PRIVACY:
        privacy.show(turn)
