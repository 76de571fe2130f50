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

from bot.content.catalog import Catalog, Fields, Text, payload_for
from bot.content.models import (
    Action,
    AgeBracket,
    ButtonSpec,
    IntentSpec,
    Situation,
    Target,
    Topic,
)
from bot.content.needs import NEEDS
from bot.dialogue.decision import Thresholds, candidates, emergency_first, is_sure, ranked
from bot.dialogue.types import Button, Inbound, Media, Meta, Outcome, Reply, State
from bot.nlu.keywords import EMERGENCY_INTENT
from bot.nlu.langid import LanguageGuess, LanguageIdentifier
from bot.nlu.normalise import fold
from bot.nlu.service import NluService
from bot.nlu.types import NluResult
from bot.places import ABROAD, REGIONS
from bot.pseudonyms import pseudonym
from bot.referrals import (
    MAX_DESCRIPTION,
    MAX_LOCATION,
    MAX_NAME,
    REFERRAL_NEEDS,
    clean_text,
    new_reference,
    normalise_phone,
)
from bot.routing.matching import ServiceMatch, match
from bot.routing.render import service_card
from bot.store import referrals as referral_repo
from bot.store import repositories as repo
from bot.store.db import Database
from bot.store.models import utcnow
from bot.store.repositories import ConversationState, UserRecord

logger = logging.getLogger(__name__)

#: The commands the engine answers, in the order the channel's command menu and /help list
#: them; each one's description is the content text ``command.<name>``.
COMMANDS = ("start", "menu", "help", "language", "mycases", "stop", "subscribe")

#: Deep-link payloads Telegram allows: t.me/<bot>?start=<payload>.
START_PAYLOAD = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

#: Intents that answer the consent question when typed instead of tapped.
AFFIRM, DENY = "affirm", "deny"

ONBOARDING = (State.NEW, State.CHOOSING_LANGUAGE, State.CONSENT)

#: The optional questions after subscribing: stored values, and their content key parts.
AGE_BRACKETS: tuple[str, ...] = tuple(a.value for a in AgeBracket)
SITUATIONS: tuple[str, ...] = tuple(s.value for s in Situation)

#: Entities kept as the user's location, and the user field each one fills.
LOCATION_ENTITIES = {"place_ml": "region", "country": "country"}


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
    #: A referral the user confirmed in this step, stored by ``handle`` (form fields).
    new_referral: dict[str, Any] | None = None
    #: The user's referrals, loaded for ``/mycases``.
    cases: list[referral_repo.ReferralRecord] | None = None
    #: Ask the channel to open a relay with a human agent after this step.
    open_handover: bool = False
    #: Ids of referrals stored in this step, for the channel to deliver to partners.
    delivered: list[int] = field(default_factory=list)
    #: Modules opened in this step by a user who consented ("topics seen" of segments).
    topics_seen: list[str] = field(default_factory=list)

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
            text = text.format_map(Fields(fields))
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


class Engine:
    def __init__(
        self,
        *,
        database: Database,
        content: Callable[[], Catalog],
        nlu: NluService,
        thresholds: Thresholds | None = None,
        language_identifier: Callable[[], LanguageIdentifier | None] | None = None,
        handover: bool = False,
    ) -> None:
        self.database = database
        self._content = content
        self.nlu = nlu
        self.thresholds = thresholds or Thresholds()
        self._identifier = language_identifier or (lambda: None)
        #: Whether this channel can relay a user to a human agent (an agents' chat exists).
        self.handover = handover

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
            if inbound.command is not None and inbound.command.lower() == "mycases":
                turn.cases = await referral_repo.user_referrals(session, user_id=user.id)

            self._step(turn, inbound, understood)
            if turn.new_referral is not None:
                await self._store_referral(session, turn)

            for topic_id in dict.fromkeys(turn.topics_seen):
                await repo.record_topic_seen(session, user_id=user.id, topic=topic_id)
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
        return Outcome(
            replies=turn.replies,
            meta=meta,
            referrals=turn.delivered,
            handover=turn.open_handover,
            user=user.id,
        )

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
            self._command_help(turn)
        elif command == "language":
            self._choose_language(turn, onboarding=False)
        elif command == "stop":
            self._action(turn, Action.UNSUBSCRIBE)
        elif command == "subscribe":
            self._subscribe(turn, True)
        elif command == "mycases":
            self._my_cases(turn)
        else:
            self._clarify(turn)

    def _button(self, turn: Turn, payload: str) -> None:
        kind, _, value = payload.partition(":")
        catalog = turn.catalog
        if kind == "lang" and catalog.has_language(value):
            self._set_language(turn, value)
        elif kind == "consent" and value in ("yes", "no"):
            self._set_consent(turn, value == "yes")
        elif kind == "sub" and value in ("yes", "no"):
            self._subscribe(turn, value == "yes")
        elif kind == "age" and (value == "skip" or value in AGE_BRACKETS):
            self._profile_answer(turn, "age_bracket", value)
        elif kind == "sit" and (value == "skip" or value in SITUATIONS):
            self._profile_answer(turn, "situation", value)
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
        elif kind == "where":
            self._where_button(turn, value)
        elif kind == "refer":
            self._offer_referral(turn, value)
        elif kind == "ref":
            self._referral_button(turn, value)
        elif kind == "human" and value in ("yes", "no"):
            self._handover_answer(turn, value == "yes")
        elif kind == "intent" and value in catalog.intents:
            turn.meta.intent = value
            self._intent(turn, value)
        elif kind == "action" and value in Action.__members__.values():
            self._action(turn, Action(value))
        else:
            self._stale(turn)

    def _text(self, turn: Turn, understood: NluResult) -> None:
        self._keep_location(turn, understood)
        ranking = ranked(understood)
        top = ranking[0] if ranking else None
        if self._emergency(turn, understood, ranking):
            # Emergency contacts come first, whatever the state or the confidence;
            # then the question itself if it was clearly something else.
            self._intent(turn, EMERGENCY_INTENT)
            if State(turn.conversation.state) is State.REFERRAL:
                self._referral_text(turn, understood.text)
                return
            if top is not None and top[0] != EMERGENCY_INTENT and self._sure(understood, ranking):
                self._intent(turn, top[0])
            self._remind_onboarding(turn)
            return
        state = State(turn.conversation.state)
        if state is State.REFERRAL:
            self._referral_text(turn, understood.text)
            return
        if state is State.CHOOSING_LANGUAGE and self._language_named(turn, understood.text):
            return
        if (
            state is State.CONSENT
            and understood.intent in (AFFIRM, DENY)
            and self._sure(understood, ranking)
        ):
            self._set_consent(turn, understood.intent == AFFIRM)
            return
        if (
            state is State.SUBSCRIBE
            and understood.intent in (AFFIRM, DENY)
            and self._sure(understood, ranking)
        ):
            self._subscribe(turn, understood.intent == AFFIRM)
            return
        if (
            understood.intent is not None
            and self._sure(understood, ranking)
            and understood.intent in turn.catalog.intents
        ):
            self._intent(turn, understood.intent)
        else:
            self._ask_which(turn, ranking)
        self._offer_language(turn)
        self._remind_onboarding(turn)

    def _sure(self, understood: NluResult, ranking: list[tuple[str, float]]) -> bool:
        return is_sure(understood, ranking, self.thresholds)

    def _emergency(
        self, turn: Turn, understood: NluResult, ranking: list[tuple[str, float]]
    ) -> bool:
        if EMERGENCY_INTENT not in turn.catalog.intents:
            return False
        return emergency_first(understood, ranking, self.thresholds)

    def _ask_which(self, turn: Turn, ranking: list[tuple[str, float]]) -> None:
        """Two or three likely intents as buttons; the menu when nothing is likely."""
        likely = candidates(ranking, self.thresholds, turn.catalog.intents)
        if len(likely) < 2:
            self._clarify(turn)
            return
        buttons = [Button(turn.t(f"intent_label.{name}"), f"intent:{name}") for name in likely]
        buttons.append(self._menu_button(turn))
        turn.say("clarify.choose", buttons)

    def _keep_location(self, turn: Turn, understood: NluResult) -> None:
        """A place the user names is where they are: remembered if they agreed to it,
        otherwise used for this answer only."""
        for entity in understood.entities:
            field_name = LOCATION_ENTITIES.get(entity.entity)
            if field_name and entity.value:
                self._set_where(turn, **{field_name: entity.value.lower()[:64]})

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
        elif (
            State(turn.conversation.state) is State.CHOOSING_LANGUAGE
            and not turn.conversation.data.get("subscription_asked")
            and not turn.user.subscribed
        ):
            # Onboarding where consent came first: the subscription question is next.
            self._ask_subscription(turn)
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
        elif turn.user.subscribed:
            self._menu(turn)
        else:
            self._ask_subscription(turn)

    # -- subscription to campaign messages ----------------------------------------------------
    #
    # Asked once after the data-consent answer, two buttons and neither chosen for the
    # user. Yes: subscribed from now (drip days count from it), then two optional
    # questions (age bracket, situation) asked only to users who consented to data
    # being kept. /stop, the unsubscribe intent or button: out at once; /subscribe: back.

    def _ask_subscription(self, turn: Turn) -> None:
        turn.conversation.data["subscription_asked"] = True
        turn.go(State.SUBSCRIBE)
        turn.say(
            "subscribe.ask",
            [
                Button(turn.t("subscribe.yes"), "sub:yes"),
                Button(turn.t("subscribe.no"), "sub:no"),
            ],
        )

    def _subscribed(self, turn: Turn) -> bool:
        value: bool = turn.user_changes.get("subscribed", turn.user.subscribed)
        return value

    def _subscribe(self, turn: Turn, yes: bool) -> None:
        turn.conversation.data["subscription_asked"] = True
        if State(turn.conversation.state) is State.SUBSCRIBE:
            turn.go(State.MENU)
        if not yes:
            if self._subscribed(turn):
                self._unsubscribe(turn)
            turn.say("subscribe.declined")
            self._menu(turn)
            return
        if self._subscribed(turn):
            turn.say("subscribe.already")
            self._menu(turn)
            return
        turn.user_changes["subscribed"] = True
        turn.user_changes["subscribed_at"] = utcnow()
        turn.say("subscribe.done")
        self._ask_profile(turn)

    def _unsubscribe(self, turn: Turn) -> None:
        turn.conversation.data["subscription_asked"] = True
        turn.user_changes["subscribed"] = False
        turn.user_changes["unsubscribed_at"] = utcnow()
        if State(turn.conversation.state) is State.SUBSCRIBE:
            turn.go(State.MENU)

    def _ask_profile(self, turn: Turn) -> None:
        """The next optional question still unanswered, or the menu. Only with consent."""
        age = turn.user_changes.get("age_bracket", turn.user.age_bracket)
        situation = turn.user_changes.get("situation", turn.user.situation)
        skipped = turn.conversation.data.get("profile_skipped", [])
        skip = turn.t("subscribe.skip")
        if turn.consent and age is None and "age_bracket" not in skipped:
            buttons = [Button(self._age_label(turn, a), f"age:{a}") for a in AGE_BRACKETS]
            turn.say("subscribe.ask_age", [*buttons, Button(skip, "age:skip")])
        elif turn.consent and situation is None and "situation" not in skipped:
            buttons = [Button(turn.t(f"subscribe.situation_{s}"), f"sit:{s}") for s in SITUATIONS]
            turn.say("subscribe.ask_situation", [*buttons, Button(skip, "sit:skip")])
        else:
            turn.conversation.data.pop("profile_skipped", None)
            turn.say("subscribe.thanks")
            self._menu(turn)

    def _age_label(self, turn: Turn, bracket: str) -> str:
        """``15-17`` -> "15-17 ans"; ``35+`` -> "35 ans ou plus" (the words from content)."""
        if bracket.endswith("+"):
            return turn.t("subscribe.age_from").format_map(Fields(low=bracket[:-1]))
        low, _, high = bracket.partition("-")
        return turn.t("subscribe.age_range").format_map(Fields(low=low, high=high))

    def _profile_answer(self, turn: Turn, field_name: str, value: str) -> None:
        if value == "skip":
            skipped: list[str] = turn.conversation.data.setdefault("profile_skipped", [])
            if field_name not in skipped:
                skipped.append(field_name)
        elif turn.consent:
            turn.user_changes[field_name] = value
        self._ask_profile(turn)

    def _remind_onboarding(self, turn: Turn) -> None:
        """After answering a question mid-onboarding, ask again what is still missing."""
        state = State(turn.conversation.state)
        if state in (State.NEW, State.CHOOSING_LANGUAGE):
            self._choose_language(turn, onboarding=True)
        elif state is State.CONSENT and turn.consent is None:
            self._ask_consent(turn)
        elif state is State.SUBSCRIBE:
            self._ask_subscription(turn)

    # -- menu, topics, intents --------------------------------------------------------------

    def _menu_buttons(self, turn: Turn) -> list[Button]:
        return [turn.button(item) for item in turn.catalog.menu.items]

    def _menu(self, turn: Turn) -> None:
        if State(turn.conversation.state) not in ONBOARDING or turn.consent is not None:
            turn.go(State.MENU)
        turn.say(turn.catalog.menu.text, self._menu_buttons(turn))

    def _menu_button(self, turn: Turn) -> Button:
        return Button(turn.t("nav.menu"), payload_for(Target(action=Action.SHOW_MENU)))

    def _command_help(self, turn: Turn) -> None:
        """/help: what the service does, then one line per command, all in the user's language."""
        line = turn.t("help.command")
        commands = "\n".join(
            line.format_map(Fields(command=name, description=turn.t(f"command.{name}")))
            for name in COMMANDS
        )
        turn.say("help.text", [self._menu_button(turn)], fields={"commands": commands})

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
        if index == 0 and turn.consent:
            turn.topics_seen.append(topic_id)
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
        if name in NEEDS and spec.reply is not None:
            self._help(turn, name)
            return
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
            self._unsubscribe(turn)
            turn.say("unsubscribe.done")
        elif action is Action.RESTART:
            self._start(turn)

    def _clarify(self, turn: Turn) -> None:
        turn.say("clarify.prompt", self._menu_buttons(turn))

    def _stale(self, turn: Turn) -> None:
        turn.say("fallback.stale_button", self._menu_buttons(turn))

    # -- help: services, location, referrals, a human ----------------------------------------

    def _where(self, turn: Turn) -> tuple[str | None, str | None]:
        """(region, country) the user is in, as far as the bot knows."""
        moment: dict[str, Any] = turn.conversation.data.get("where") or {}
        region = turn.user_changes.get("region", turn.user.region) or moment.get("region")
        country = turn.user_changes.get("country", turn.user.country) or moment.get("country")
        return region, country

    def _set_where(
        self, turn: Turn, *, region: str | None = None, country: str | None = None
    ) -> None:
        values = {k: v for k, v in (("region", region), ("country", country)) if v is not None}
        if region is not None and country is None:
            values["country"] = "mali"
        if turn.consent:
            turn.user_changes.update(values)
        else:
            # Not remembered without consent: used for the answer in progress, then dropped.
            turn.conversation.data["where"] = values

    def _help(self, turn: Turn, need: str) -> None:
        """A need for help: ask where the user is once, then the services that fit."""
        region, country = self._where(turn)
        data = turn.conversation.data
        # An emergency never waits for a question: contacts for what is known, at once.
        if (
            need != EMERGENCY_INTENT
            and region is None
            and country is None
            and not data.get("where_asked")
        ):
            data["where_asked"] = True
            data["pending_need"] = need
            turn.go(State.LOCATION)
            turn.say(
                "where.ask",
                [
                    Button(turn.t("where.in_mali"), "where:ml"),
                    Button(turn.t("where.abroad"), "where:abroad"),
                    Button(turn.t("where.skip"), "where:skip"),
                ],
            )
            return
        self._services(turn, need)

    def _where_button(self, turn: Turn, value: str) -> None:
        data = turn.conversation.data
        need = data.get("pending_need")
        if value == "ml":
            buttons = [Button(turn.t(f"place.{r}"), f"where:r:{r}") for r in REGIONS]
            turn.say("where.which_region", [*buttons, Button(turn.t("where.skip"), "where:skip")])
            return
        if value == "abroad":
            buttons = [Button(turn.t(f"country.{c}"), f"where:c:{c}") for c in sorted(ABROAD)]
            turn.say("where.which_country", [*buttons, Button(turn.t("where.skip"), "where:skip")])
            return
        kind, _, place = value.partition(":")
        if kind == "r" and place in REGIONS:
            self._set_where(turn, region=place)
        elif kind == "c" and place in ABROAD:
            self._set_where(turn, country=place)
        elif value != "skip":
            self._stale(turn)
            return
        data.pop("pending_need", None)
        if isinstance(need, str) and need in NEEDS:
            self._services(turn, need)
        else:
            self._menu(turn)

    def _services(self, turn: Turn, need: str) -> None:
        """The need's own text (if any), then up to three service cards, best first."""
        region, country = self._where(turn)
        found = match(turn.catalog, need, region=region, country=country, language=turn.language)
        turn.conversation.data.pop("where", None)
        if need != EMERGENCY_INTENT and State(turn.conversation.state) in (
            State.LOCATION,
            State.REFERRAL,
        ):
            # Another need chosen mid-way: the question or the form in progress is dropped
            # (an emergency, though, comes on top of the form, which then goes on).
            turn.conversation.data.pop("referral", None)
            turn.go(State.MENU)
        spec = turn.catalog.intents.get(need)
        live_person = need == "ask_human" and self.handover
        if spec is not None and spec.reply is not None and not live_person:
            # (ask_human's own text is for when no person can answer here.)
            turn.say(spec.reply, [turn.button(b) for b in spec.buttons])
        for found_service in found:
            turn.replies.append(self._service_reply(turn, need, found_service))
        turn.meta.services = [m.as_meta() for m in found]
        if live_person:
            turn.say(
                "handover.confirm",
                [
                    Button(turn.t("handover.confirm_yes"), "human:yes"),
                    Button(turn.t("handover.confirm_no"), "human:no"),
                ],
            )
        elif turn.replies:
            extra = [self._menu_button(turn)]
            if need == EMERGENCY_INTENT and "ask_human" in turn.catalog.intents:
                # After the contacts, a person: the agents' relay, or who listens.
                extra.insert(0, Button(turn.t("intent_label.ask_human"), "intent:ask_human"))
            last = turn.replies[-1]
            turn.replies[-1] = Reply(last.text, (*last.buttons, *extra), last.media)

    def _service_reply(self, turn: Turn, need: str, found: ServiceMatch) -> Reply:
        service = found.service
        buttons: tuple[Button, ...] = ()
        if need in REFERRAL_NEEDS and service.accepts_referrals and service.partner_chat_id:
            buttons = (Button(turn.t("referral.offer"), f"refer:{service.id}:{need}"),)
        return Reply(service_card(turn.catalog, service, turn.language), buttons)

    def _offer_referral(self, turn: Turn, value: str) -> None:
        """The consent screen: exactly what will be shared, with whom. Nothing stored yet."""
        service_id, _, need = value.partition(":")
        service = turn.catalog.services.get(service_id)
        if (
            service is None
            or need not in REFERRAL_NEEDS
            or not service.accepts_referrals
            or not service.partner_chat_id
        ):
            self._stale(turn)
            return
        turn.conversation.data["referral"] = {
            "service": service_id,
            "need": need,
            "step": "consent",
        }
        turn.go(State.REFERRAL)
        turn.say(
            "referral.consent",
            [
                Button(turn.t("referral.consent_yes"), "ref:yes"),
                Button(turn.t("referral.consent_no"), "ref:no"),
            ],
            fields={"organisation": service.organisation},
        )

    #: The form after the consent, in order.
    FORM = ("name", "phone", "location", "description", "confirm")

    def _form(self, turn: Turn) -> dict[str, Any] | None:
        form = turn.conversation.data.get("referral")
        if (
            State(turn.conversation.state) is not State.REFERRAL
            or not isinstance(form, dict)
            or form.get("service") not in turn.catalog.services
        ):
            return None
        return form

    def _referral_button(self, turn: Turn, value: str) -> None:
        form = self._form(turn)
        if form is None:
            self._stale(turn)
            return
        step = str(form.get("step"))
        if value == "cancel" or (value == "no" and step == "consent"):
            turn.conversation.data.pop("referral", None)
            turn.go(State.MENU)
            turn.say("referral.cancelled", [self._menu_button(turn)])
        elif value == "yes" and step == "consent":
            form["fields"] = {}
            self._ask_step(turn, form, "name")
        elif value == "skip" and step in self.FORM[:-1]:
            self._ask_step(turn, form, self._after(step))
        elif value == "here" and step == "location":
            region, country = self._where(turn)
            form.setdefault("fields", {})["location"] = region or country
            self._ask_step(turn, form, "description")
        elif value == "send" and step == "confirm":
            self._confirm_referral(turn, form)
        else:
            self._ask_step(turn, form, step)  # an old button: ask the current step again

    def _after(self, step: str) -> str:
        return self.FORM[self.FORM.index(step) + 1]

    def _ask_step(self, turn: Turn, form: dict[str, Any], step: str) -> None:
        form["step"] = step
        cancel = Button(turn.t("referral.cancel"), "ref:cancel")
        skip = Button(turn.t("referral.skip"), "ref:skip")
        if step == "consent":
            self._offer_referral(turn, f"{form['service']}:{form['need']}")
        elif step == "location":
            region, country = self._where(turn)
            buttons = [skip, cancel]
            if region or country:
                label = turn.t(f"place.{region}" if region else f"country.{country}")
                buttons.insert(0, Button(label, "ref:here"))
            turn.say("referral.ask_location", buttons)
        elif step == "confirm":
            self._summary(turn, form)
        else:
            turn.say(f"referral.ask_{step}", [skip, cancel])

    def _referral_text(self, turn: Turn, text: str) -> None:
        form = self._form(turn)
        if form is None:
            turn.go(State.MENU)
            self._clarify(turn)
            return
        step = str(form.get("step"))
        fields: dict[str, Any] = form.setdefault("fields", {})
        if step == "name":
            fields["first_name"] = clean_text(text, MAX_NAME) or None
        elif step == "phone":
            phone = normalise_phone(text)
            if phone is None:
                turn.say("referral.phone_invalid")
                self._ask_step(turn, form, "phone")
                return
            fields["phone"] = phone
        elif step == "location":
            fields["location"] = clean_text(text, MAX_LOCATION) or None
        elif step == "description":
            fields["description"] = clean_text(text, MAX_DESCRIPTION) or None
        else:
            # Text at the consent or confirmation step: show the same choice again.
            self._ask_step(turn, form, step)
            return
        self._ask_step(turn, form, self._after(step))

    def _summary(self, turn: Turn, form: dict[str, Any]) -> None:
        fields: dict[str, Any] = form.get("fields", {})
        service = turn.catalog.services[form["service"]]
        missing = turn.t("referral.not_given")
        turn.say(
            "referral.summary",
            [
                Button(turn.t("referral.send"), "ref:send"),
                Button(turn.t("referral.cancel"), "ref:cancel"),
            ],
            fields={
                "organisation": service.organisation,
                "name": fields.get("first_name") or missing,
                "phone": fields.get("phone") or missing,
                "location": self._place_name(turn, fields.get("location")) or missing,
                "description": fields.get("description") or missing,
            },
        )

    def _place_name(self, turn: Turn, value: str | None) -> str | None:
        if value in REGIONS:
            return turn.t(f"place.{value}")
        if value in ABROAD:
            return turn.t(f"country.{value}")
        return value

    def _confirm_referral(self, turn: Turn, form: dict[str, Any]) -> None:
        fields: dict[str, Any] = form.get("fields", {})
        turn.new_referral = {
            "service_id": form["service"],
            "need": form["need"],
            "first_name": fields.get("first_name"),
            "phone": fields.get("phone"),
            "location": fields.get("location"),
            "description": fields.get("description"),
        }
        turn.conversation.data.pop("referral", None)
        turn.go(State.MENU)

    async def _store_referral(self, session: AsyncSession, turn: Turn) -> None:
        details = turn.new_referral
        assert details is not None
        service = turn.catalog.services[details["service_id"]]
        stored = None
        for _attempt in range(5):
            stored = await referral_repo.create_referral(
                session,
                reference=new_reference(),
                user_id=turn.user.id,
                status="sent",
                language=turn.language,
                **details,
            )
            if stored is not None:
                break
        if stored is None:  # five collisions among 600 million codes: something else is wrong
            raise RuntimeError("could not allocate a referral reference")
        turn.delivered.append(stored.id)
        logger.info(
            "Referral %s for %s to %s", stored.reference, pseudonym(turn.user.id), service.id
        )
        turn.say(
            "referral.sent",
            [self._menu_button(turn)],
            fields={"reference": stored.reference, "organisation": service.organisation},
        )

    def _my_cases(self, turn: Turn) -> None:
        cases = turn.cases or []
        if not cases:
            turn.say("referral.mycases_none", [self._menu_button(turn)])
            return
        lines = []
        for case in cases:
            service = turn.catalog.services.get(case.service_id)
            fields = Fields(
                reference=case.reference,
                organisation=service.organisation if service else case.service_id,
                status=turn.t(f"referral.status.{case.status}"),
                date=f"{case.created_at:%d/%m/%Y}",
            )
            lines.append(turn.t("referral.mycases_line").format_map(fields))
        turn.say("referral.mycases_title", [self._menu_button(turn)])
        last = turn.replies[-1]
        turn.replies[-1] = Reply(f"{last.text}\n\n" + "\n".join(lines), last.buttons, last.media)

    def _handover_answer(self, turn: Turn, yes: bool) -> None:
        if yes and self.handover:
            turn.open_handover = True
        else:
            self._menu(turn)

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
