"""The menu and the module cards, and the two answers that fall back to the menu."""

from __future__ import annotations

from bot.content.models import Action
from bot.dialogue.flows.directory import card_services
from bot.dialogue.payloads import Card, Do, Intent, OpenTopic, QuizStart
from bot.dialogue.turn import Turn
from bot.dialogue.types import Button, State
from bot.nlu.keywords import EMERGENCY_INTENT

#: Before these states are left, the menu does not move the conversation on.
ONBOARDING = (State.NEW, State.CHOOSING_LANGUAGE, State.CONSENT)


def menu_buttons(turn: Turn) -> list[Button]:
    return [turn.button(item) for item in turn.catalog.menu.items]


def menu(turn: Turn) -> None:
    if turn.state not in ONBOARDING or turn.consent is not None:
        turn.go(State.MENU)
    turn.say(turn.catalog.menu.text, menu_buttons(turn))


def menu_button(turn: Turn) -> Button:
    return Button(turn.t("nav.menu"), Do(Action.SHOW_MENU).pack())


def with_menu(turn: Turn, key: str) -> None:
    turn.say(key, [menu_button(turn)])


def emergency_button(turn: Turn) -> Button:
    return Button(turn.t("menu.emergency"), Intent(EMERGENCY_INTENT).pack())


def unreadable(turn: Turn, key: str) -> None:
    """A message the bot cannot read (a voice note, a photo without caption, a sticker, a
    contact): it may be a cry for help, so the emergency button always comes with it."""
    turn.say(key, [emergency_button(turn), menu_button(turn)])


def clarify(turn: Turn) -> None:
    turn.say("clarify.prompt", menu_buttons(turn))


def stale(turn: Turn) -> None:
    """The answer to a button the bot did not make, or made for content that is gone."""
    turn.say("fallback.stale_button", menu_buttons(turn))


def open_topic(turn: Turn, payload: OpenTopic) -> bool:
    if payload.topic not in turn.catalog.topics:
        return False
    card(turn, payload.topic, 0)
    return True


def press_card(turn: Turn, payload: Card) -> bool:
    topic = turn.catalog.topics.get(payload.topic)
    if topic is None or payload.index >= len(topic.cards):
        return False
    card(turn, payload.topic, payload.index)
    return True


def resume(turn: Turn, topic_id: str) -> None:
    """A module asked about again (by text or intent): the card last seen, not card 1."""
    cards = len(turn.catalog.topics[topic_id].cards)
    card(turn, topic_id, min(turn.memory.screen.cards.get(topic_id, 0), cards - 1))


def card(turn: Turn, topic_id: str, index: int) -> None:
    topic = turn.catalog.topics[topic_id]
    shown = topic.cards[index]
    buttons = [turn.button(spec) for spec in shown.buttons]
    if index > 0:
        buttons.append(Button(turn.t("nav.back"), Card(topic_id, index - 1).pack()))
    last = index == len(topic.cards) - 1
    if not last:
        buttons.append(Button(turn.t("nav.next"), Card(topic_id, index + 1).pack()))
    if last and topic.quiz:
        buttons.insert(0, Button(turn.t("quiz.start"), QuizStart(topic_id).pack()))
    buttons.append(menu_button(turn))
    if shown.services is None:
        turn.say(shown.text, buttons, after=("topic.end",) if last else ())
    else:
        # The card, the services that answer it below, then its buttons at the very end.
        turn.say(shown.text, after=("topic.end",) if last else ())
        card_services(turn, shown.services)
        turn.append_to_last(tuple(buttons))
    turn.go(State.TOPIC, topic_id, index)
    turn.memory.screen.cards[topic_id] = index
    if index == 0 and turn.consent:
        turn.topics_seen.append(topic_id)
    turn.meta.topic = topic_id
