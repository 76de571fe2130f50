"""The per-user state machine.

One call of :meth:`Engine.handle` is one step: understand the event (NLU is
asked before the database transaction opens, so a slow server never holds a
lock), then in one transaction de-duplicate it, load the user and their
conversation, decide, and save. The decision itself only reads content and
the loaded state, so it is the same on every channel.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.content.catalog import Catalog, Text, payload_for
from bot.content.models import Action, ButtonSpec, IntentSpec, Target, Topic
from bot.dialogue.types import Button, Inbound, Media, Meta, Outcome, Reply, State
from bot.nlu.keywords import EMERGENCY_INTENT
from bot.nlu.langid import LanguageGuess, LanguageIdentifier
from bot.nlu.normalise import fold
from bot.nlu.service import NluService
from bot.nlu.types import RASA_FALLBACK_INTENT, NluResult
from bot.store import repositories as repo
from bot.store.db import Database
from bot.store.models import utcnow
from bot.store.repositories import ConversationState, UserRecord

logger = logging.getLogger(__name__)

#: Deep-link payloads Telegram allows: t.me/<bot>?start=<payload>.
START_PAYLOAD = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

#: Intents that answer the consent question when typed instead of tapped.
AFFIRM, DENY = "affirm", "deny"

ONBOARDING = (State.NEW, State.CHOOSING_LANGUAGE, State.CONSENT)

#: Intents never offered as a "did you mean" button.
NOT_OFFERED = frozenset({RASA_FALLBACK_INTENT, "out_of_scope"})

#: Entities kept as the user's location, and the user field each one fills.
LOCATION_ENTITIES = {"place_ml": "region", "country": "country"}


@dataclass(frozen=True)
class Thresholds:
    """How the engine decides under uncertainty (see docs/nlu.md)."""

    #: Below this confidence the top intent is not acted on.
    confidence: float = 0.5
    #: When the two best intents are closer than this, ask instead of guessing.
    ambiguity: float = 0.1
    #: An intent below this is not worth a "did you mean" button.
    candidate: float = 0.1
    #: Emergency among the three best intents at or above this: emergency reply first.
    emergency: float = 0.15
    #: A language guess must be at least this sure to change the reply language.
    language: float = 0.9


def pseudonym(user_id: int) -> str:
    """How a user appears in logs: an internal number, never a Telegram id or name."""
    return f"u{user_id}"


@dataclass
class Turn:
    """The mutable working set of one step."""

    catalog: Catalog
    user: UserRecord
    conversation: ConversationState
    user_changes: dict[str, Any] = field(default_factory=dict)
    replies: list[Reply] = field(default_factory=list)
    served: list[tuple[str, str, bool]] = field(default_factory=list)
    meta: Meta = field(default_factory=Meta)
    #: The language the message seems written in, when it is clear.
    written_in: str | None = None
    #: Quiz answers given in this step: (topic, question, answer index, correct).
    quiz_answers: list[tuple[str, str, int, bool]] = field(default_factory=list)

    @property
    def language(self) -> str:
        chosen: str | None = self.user_changes.get("language", self.user.language)
        if chosen is not None and self.catalog.has_language(chosen):
            return chosen
        # No preference yet: answer in the language the user writes in.
        if self.written_in is not None and self.catalog.has_language(self.written_in):
            return self.written_in
        return self.catalog.default_language

    @property
    def consent(self) -> bool | None:
        value: bool | None = self.user_changes.get("consent", self.user.consent)
        return value

    def t(self, key: str) -> str:
        return self.catalog.text(key, self.language).text

    def resolved(self, key: str, language: str | None = None) -> Text:
        """A message the user reads (not a button label), recorded for analytics."""
        resolved = self.catalog.text(key, language or self.language)
        self.served.append((key, resolved.language, resolved.fell_back))
        return resolved

    def shown(self, key: str, language: str | None = None) -> str:
        return self.resolved(key, language).text

    def button(self, spec: ButtonSpec) -> Button:
        return Button(self.t(spec.label), payload_for(spec))

    def say(
        self,
        key: str,
        buttons: tuple[Button, ...] | list[Button] = (),
        *,
        after: tuple[str, ...] = (),
        fields: dict[str, Any] | None = None,
    ) -> None:
        """Send ``key`` (with its voice note, if any), then the texts of ``after`` below it."""
        main = self.resolved(key)
        parts = [main.text, *(self.shown(extra) for extra in after)]
        text = "\n\n".join(parts)
        if fields:
            text = text.format_map(_Fields(fields))
        media = (
            Media("voice", main.voice.file, main.voice.mode.value)
            if main.voice is not None
            else None
        )
        self.replies.append(Reply(text, tuple(buttons), media))

    def go(self, state: State, topic: str | None = None, card: int = 0) -> None:
        self.conversation.state = state.value
        self.conversation.topic = topic
        self.conversation.card = card


class _Fields(dict[str, Any]):
    """Placeholders a text may use; an unknown one is shown as written, never a crash."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


class Engine:
    def __init__(
        self,
        *,
        database: Database,
        content: Callable[[], Catalog],
        nlu: NluService,
        thresholds: Thresholds | None = None,
        language_identifier: Callable[[], LanguageIdentifier | None] | None = None,
    ) -> None:
        self.database = database
        self._content = content
        self.nlu = nlu
        self.thresholds = thresholds or Thresholds()
        self._identifier = language_identifier or (lambda: None)

    def catalog(self) -> Catalog:
        """The content version in use now."""
        return self._content()

    async def preset_language(self, *, channel: str, user_id: str, language: str) -> None:
        """Set a user's language before they talk (console ``--lang``, tests)."""
        if not self.catalog().has_language(language):
            raise ValueError(f"unknown language '{language}'")
        async with self.database.transaction() as session:
            user, _ = await repo.get_or_create_user(session, channel=channel, external_id=user_id)
            await repo.update_user(session, user_id=user.id, language=language)

    async def handle(self, inbound: Inbound) -> Outcome:
        catalog = self._content()
        understood: NluResult | None = None
        guess: LanguageGuess | None = None
        if inbound.text is not None and inbound.text.strip():
            understood = await self.nlu.parse(inbound.text.strip())
            identifier = self._identifier()
            if identifier is not None:
                guess = identifier.predict(inbound.text)

        async with self.database.transaction() as session:
            if inbound.update_id is not None and not await repo.mark_update_processed(
                session, channel=inbound.channel, update_id=inbound.update_id
            ):
                logger.info("Update %s already handled; not answering twice", inbound.update_id)
                return Outcome(
                    replies=[], meta=Meta(content_version=catalog.version), duplicate=True
                )
            user, created = await repo.get_or_create_user(
                session, channel=inbound.channel, external_id=inbound.user_id
            )
            conversation = await repo.load_conversation(session, user_id=user.id)
            turn = Turn(catalog, user, conversation or ConversationState(State.NEW.value))
            if (
                guess is not None
                and not guess.mixed
                and guess.confidence >= self.thresholds.language
            ):
                turn.written_in = guess.language
            if created:
                logger.info("New user %s", pseudonym(user.id))

            self._step(turn, inbound, understood)

            turn.user_changes["last_seen_at"] = utcnow()
            await repo.update_user(session, user_id=user.id, **turn.user_changes)
            await repo.save_conversation(session, user_id=user.id, conversation=turn.conversation)
            await self._record(session, turn, inbound, understood)

        meta = turn.meta
        meta.language = turn.language
        meta.state = turn.conversation.state
        meta.topic = turn.conversation.topic
        meta.content_version = catalog.version
        if understood is not None:
            meta.intent = understood.intent
            meta.confidence = round(understood.confidence, 4)
            meta.nlu_source = understood.source.value
        logger.info(
            "Step %s: state=%s intent=%s replies=%d",
            pseudonym(user.id),
            meta.state,
            meta.intent,
            len(turn.replies),
        )
        return Outcome(replies=turn.replies, meta=meta)

    # -- deciding ---------------------------------------------------------------------------

    def _step(self, turn: Turn, inbound: Inbound, understood: NluResult | None) -> None:
        if inbound.command is not None:
            self._command(turn, inbound.command.lower(), inbound.args.strip())
        elif inbound.button is not None:
            self._button(turn, inbound.button)
        elif understood is not None:
            self._text(turn, understood)
        elif inbound.text is not None:
            self._clarify(turn)
        elif inbound.voice:
            self._with_menu(turn, "fallback.voice")
        elif inbound.location is not None:
            self._with_menu(turn, "fallback.location")
        else:
            self._with_menu(turn, "fallback.media")

    def _command(self, turn: Turn, command: str, args: str) -> None:
        if command == "start":
            if args and START_PAYLOAD.match(args) and not turn.user.acquisition_source:
                # First touch wins: the link that brought the person in is kept.
                turn.user_changes["acquisition_source"] = args
            self._start(turn)
        elif command == "menu":
            self._menu(turn)
        elif command == "help":
            self._with_menu(turn, "help.text")
        elif command == "language":
            self._choose_language(turn, onboarding=False)
        elif command == "stop":
            self._action(turn, Action.UNSUBSCRIBE)
        else:
            self._clarify(turn)

    def _button(self, turn: Turn, payload: str) -> None:
        kind, _, value = payload.partition(":")
        catalog = turn.catalog
        if kind == "lang" and catalog.has_language(value):
            self._set_language(turn, value)
        elif kind == "consent" and value in ("yes", "no"):
            self._set_consent(turn, value == "yes")
        elif kind == "topic" and value in catalog.topics:
            self._card(turn, value, 0)
        elif kind == "card":
            topic, _, index = value.rpartition(":")
            if (
                topic in catalog.topics
                and index.isdigit()
                and int(index) < len(catalog.topics[topic].cards)
            ):
                self._card(turn, topic, int(index))
            else:
                self._stale(turn)
        elif kind == "quiz":
            self._quiz_button(turn, value)
        elif kind == "intent" and value in catalog.intents:
            turn.meta.intent = value
            self._intent(turn, value)
        elif kind == "action" and value in Action.__members__.values():
            self._action(turn, Action(value))
        else:
            self._stale(turn)

    def _text(self, turn: Turn, understood: NluResult) -> None:
        self._keep_location(turn, understood)
        ranked = [(name, conf) for name, conf in understood.ranking if name != RASA_FALLBACK_INTENT]
        top = ranked[0] if ranked else None
        if self._emergency(turn, understood, ranked):
            # Emergency contacts come first, whatever the state or the confidence;
            # then the question itself if it was clearly something else.
            self._intent(turn, EMERGENCY_INTENT)
            if top is not None and top[0] != EMERGENCY_INTENT and self._sure(understood, ranked):
                self._intent(turn, top[0])
            self._remind_onboarding(turn)
            return
        state = State(turn.conversation.state)
        if state is State.CHOOSING_LANGUAGE and self._language_named(turn, understood.text):
            return
        if (
            state is State.CONSENT
            and understood.intent in (AFFIRM, DENY)
            and self._sure(understood, ranked)
        ):
            self._set_consent(turn, understood.intent == AFFIRM)
            return
        if (
            understood.intent is not None
            and self._sure(understood, ranked)
            and understood.intent in turn.catalog.intents
        ):
            self._intent(turn, understood.intent)
        else:
            self._ask_which(turn, ranked)
        self._offer_language(turn)
        self._remind_onboarding(turn)

    def _sure(self, understood: NluResult, ranked: list[tuple[str, float]]) -> bool:
        """Confident enough, and not torn between the two best intents."""
        if understood.intent in (None, RASA_FALLBACK_INTENT):
            return False
        if understood.confidence < self.thresholds.confidence:
            return False
        if (
            len(ranked) >= 2
            and ranked[0][0] == understood.intent
            and ranked[0][1] - ranked[1][1] < self.thresholds.ambiguity
        ):
            return False
        return True

    def _emergency(
        self, turn: Turn, understood: NluResult, ranked: list[tuple[str, float]]
    ) -> bool:
        if EMERGENCY_INTENT not in turn.catalog.intents:
            return False
        if understood.intent == EMERGENCY_INTENT:
            return True
        return any(
            name == EMERGENCY_INTENT and confidence >= self.thresholds.emergency
            for name, confidence in ranked[:3]
        )

    def _ask_which(self, turn: Turn, ranked: list[tuple[str, float]]) -> None:
        """Two or three likely intents as buttons; the menu when nothing is likely."""
        candidates = [
            name
            for name, confidence in ranked
            if confidence >= self.thresholds.candidate
            and name not in NOT_OFFERED
            and name in turn.catalog.intents
        ][:3]
        if len(candidates) < 2:
            self._clarify(turn)
            return
        buttons = [Button(turn.t(f"intent_label.{name}"), f"intent:{name}") for name in candidates]
        buttons.append(self._menu_button(turn))
        turn.say("clarify.choose", buttons)

    def _keep_location(self, turn: Turn, understood: NluResult) -> None:
        """A place the user names becomes their location, if they agreed to be remembered."""
        if not turn.consent:
            return
        for entity in understood.entities:
            field_name = LOCATION_ENTITIES.get(entity.entity)
            if field_name and entity.value:
                turn.user_changes[field_name] = entity.value.lower()[:64]

    def _offer_language(self, turn: Turn) -> None:
        """Someone writing in another language than their chosen one is offered a switch, once."""
        written = turn.written_in
        chosen = turn.user_changes.get("language", turn.user.language)
        if written is None or chosen is None or written == chosen:
            return
        if not turn.catalog.has_language(written):
            return
        offered: list[str] = turn.conversation.data.setdefault("language_offered", [])
        if written in offered:
            return
        offered.append(written)
        # Asked in the language the person writes, so they can read the offer.
        text = turn.shown("language.offer_switch", written)
        turn.replies.append(
            Reply(text, (Button(turn.catalog.languages[written].name, f"lang:{written}"),))
        )

    # -- onboarding -------------------------------------------------------------------------

    def _start(self, turn: Turn) -> None:
        turn.go(State.CHOOSING_LANGUAGE)
        turn.say("onboarding.welcome", self._language_buttons(turn))

    def _language_buttons(self, turn: Turn) -> list[Button]:
        return [Button(lang.name, f"lang:{code}") for code, lang in turn.catalog.languages.items()]

    def _choose_language(self, turn: Turn, *, onboarding: bool) -> None:
        if onboarding:
            turn.go(State.CHOOSING_LANGUAGE)
        turn.say("language.choose", self._language_buttons(turn))

    def _language_named(self, turn: Turn, text: str) -> bool:
        folded = fold(text)
        for code, lang in turn.catalog.languages.items():
            if folded in (code, fold(lang.name)):
                self._set_language(turn, code)
                return True
        return False

    def _set_language(self, turn: Turn, code: str) -> None:
        turn.user_changes["language"] = code
        if turn.consent is None:
            turn.go(State.CONSENT)
            self._ask_consent(turn)
        else:
            turn.say("language.changed")
            self._menu(turn)

    def _ask_consent(self, turn: Turn) -> None:
        turn.say(
            "onboarding.consent",
            [
                Button(turn.t("onboarding.consent_yes"), "consent:yes"),
                Button(turn.t("onboarding.consent_no"), "consent:no"),
            ],
        )

    def _set_consent(self, turn: Turn, given: bool) -> None:
        turn.user_changes["consent"] = given
        turn.user_changes["consent_at"] = utcnow()
        turn.say("onboarding.consent_thanks" if given else "onboarding.consent_declined")
        if turn.user_changes.get("language", turn.user.language) is None:
            self._choose_language(turn, onboarding=True)
        else:
            self._menu(turn)

    def _remind_onboarding(self, turn: Turn) -> None:
        """After answering a question mid-onboarding, ask again what is still missing."""
        state = State(turn.conversation.state)
        if state in (State.NEW, State.CHOOSING_LANGUAGE):
            self._choose_language(turn, onboarding=True)
        elif state is State.CONSENT and turn.consent is None:
            self._ask_consent(turn)

    # -- menu, topics, intents --------------------------------------------------------------

    def _menu_buttons(self, turn: Turn) -> list[Button]:
        return [turn.button(item) for item in turn.catalog.menu.items]

    def _menu(self, turn: Turn) -> None:
        if State(turn.conversation.state) not in ONBOARDING or turn.consent is not None:
            turn.go(State.MENU)
        turn.say(turn.catalog.menu.text, self._menu_buttons(turn))

    def _menu_button(self, turn: Turn) -> Button:
        return Button(turn.t("nav.menu"), payload_for(Target(action=Action.SHOW_MENU)))

    def _with_menu(self, turn: Turn, key: str) -> None:
        turn.say(key, [self._menu_button(turn)])

    def _card(self, turn: Turn, topic_id: str, index: int) -> None:
        topic = turn.catalog.topics[topic_id]
        card = topic.cards[index]
        buttons = [turn.button(spec) for spec in card.buttons]
        if index > 0:
            buttons.append(Button(turn.t("nav.back"), f"card:{topic_id}:{index - 1}"))
        last = index == len(topic.cards) - 1
        if not last:
            buttons.append(Button(turn.t("nav.next"), f"card:{topic_id}:{index + 1}"))
        if last and topic.quiz:
            buttons.insert(0, Button(turn.t("quiz.start"), f"quiz:{topic_id}"))
        buttons.append(self._menu_button(turn))
        turn.say(card.text, buttons, after=("topic.end",) if last else ())
        turn.go(State.TOPIC, topic_id, index)
        turn.meta.topic = topic_id

    # -- quizzes ----------------------------------------------------------------------------
    #
    # Payloads: ``quiz:<topic>`` starts, ``quiz:<topic>:<question>`` shows a question,
    # ``quiz:<topic>:<question>:<answer index>`` answers it. The run in progress (which
    # questions were answered, how many right) lives in the conversation data; every
    # answer is also stored, linked to the user only with their consent.

    def _quiz_button(self, turn: Turn, value: str) -> None:
        parts = value.split(":")
        topic = turn.catalog.topics.get(parts[0])
        if topic is None or not topic.quiz or len(parts) > 3:
            self._stale(turn)
            return
        if len(parts) == 1:
            turn.conversation.data["quiz"] = {"topic": topic.id, "answered": {}}
            self._quiz_question(turn, topic, 0, intro=True)
            return
        index = next((i for i, q in enumerate(topic.quiz) if q.id == parts[1]), None)
        if index is None:
            self._stale(turn)
        elif len(parts) == 2:
            self._quiz_question(turn, topic, index)
        elif parts[2].isdigit() and int(parts[2]) < len(topic.quiz[index].answers):
            self._quiz_answer(turn, topic, index, int(parts[2]))
        else:
            self._stale(turn)

    def _quiz_question(self, turn: Turn, topic: Topic, index: int, *, intro: bool = False) -> None:
        question = topic.quiz[index]
        buttons = [
            Button(turn.t(answer.label), f"quiz:{topic.id}:{question.id}:{i}")
            for i, answer in enumerate(question.answers)
        ]
        buttons.append(self._menu_button(turn))
        if intro:
            turn.say("quiz.intro")
        turn.say(question.question, buttons)
        turn.go(State.QUIZ, topic.id, index)
        turn.meta.topic = topic.id

    def _quiz_answer(self, turn: Turn, topic: Topic, index: int, choice: int) -> None:
        question = topic.quiz[index]
        answer = question.answers[choice]
        run: dict[str, Any] = turn.conversation.data.get("quiz") or {}
        if run.get("topic") != topic.id:
            # An answer from an older message: count it in a fresh run of this quiz.
            run = {"topic": topic.id, "answered": {}}
        answered: dict[str, bool] = run.setdefault("answered", {})
        first_time = question.id not in answered
        if first_time:
            answered[question.id] = answer.correct
            turn.quiz_answers.append((topic.id, question.id, choice, answer.correct))
        turn.conversation.data["quiz"] = run
        turn.meta.topic = topic.id
        following = next(
            (i for i in range(index + 1, len(topic.quiz)) if topic.quiz[i].id not in answered),
            None,
        )
        if following is None:
            following = next((i for i, q in enumerate(topic.quiz) if q.id not in answered), None)
        if following is not None:
            next_button = Button(turn.t("quiz.next"), f"quiz:{topic.id}:{topic.quiz[following].id}")
            turn.say(answer.feedback, [next_button, self._menu_button(turn)])
            turn.go(State.QUIZ, topic.id, index)
            return
        # Every question answered: the score, then back to the menu.
        correct = sum(1 for right in answered.values() if right)
        turn.say(answer.feedback)
        turn.say(
            "quiz.score",
            self._menu_buttons(turn),
            fields={"correct": correct, "total": len(topic.quiz)},
        )
        turn.conversation.data.pop("quiz", None)
        turn.go(State.MENU)

    def _intent(self, turn: Turn, name: str) -> None:
        spec: IntentSpec = turn.catalog.intents[name]
        if spec.topic is not None:
            self._card(turn, spec.topic, 0)
        elif spec.action is not None:
            self._action(turn, spec.action)
        elif spec.reply is not None:
            buttons = [turn.button(b) for b in spec.buttons]
            buttons.append(self._menu_button(turn))
            turn.say(spec.reply, buttons)

    def _action(self, turn: Turn, action: Action) -> None:
        if action is Action.SHOW_MENU:
            self._menu(turn)
        elif action is Action.CHANGE_LANGUAGE:
            self._choose_language(turn, onboarding=False)
        elif action is Action.UNSUBSCRIBE:
            turn.user_changes["subscribed"] = False
            turn.say("unsubscribe.done")
        elif action is Action.RESTART:
            self._start(turn)

    def _clarify(self, turn: Turn) -> None:
        turn.say("clarify.prompt", self._menu_buttons(turn))

    def _stale(self, turn: Turn) -> None:
        turn.say("fallback.stale_button", self._menu_buttons(turn))

    # -- analytics --------------------------------------------------------------------------

    async def _record(
        self, session: AsyncSession, turn: Turn, inbound: Inbound, understood: NluResult | None
    ) -> None:
        # Without consent, events stay countable but are not linked to the person.
        user_id = turn.user.id if turn.consent else None
        kind = (
            "command"
            if inbound.command is not None
            else "button"
            if inbound.button
            else "text"
            if understood is not None
            else "other"
        )
        version = turn.catalog.version
        data: dict[str, Any] = {}
        if understood is not None:
            data.update(
                intent=understood.intent,
                confidence=round(understood.confidence, 4),
                nlu=understood.source.value,
            )
        await repo.record_event(
            session,
            kind="inbound",
            name=kind,
            user_id=user_id,
            language=turn.language,
            content_version=version,
            data=data,
        )
        for key, language, fell_back in turn.served:
            await repo.record_event(
                session,
                kind="served",
                name=key,
                user_id=user_id,
                language=language,
                content_version=version,
                data={"fallback": fell_back},
            )
        for topic, question, answer, correct in turn.quiz_answers:
            await repo.record_quiz_answer(
                session,
                user_id=user_id,
                topic=topic,
                question=question,
                answer=answer,
                correct=correct,
                language=turn.language,
                content_version=version,
            )
