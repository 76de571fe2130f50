"""Random conversations for the engine, and the properties every step must keep.

A conversation is a list of drawn steps, resolved against what the bot last showed:
"press the n-th button on screen", "press it with its payload mutated", "press a payload
the bot never made", a command (known or not, with any arguments), a text (any Unicode,
up to 10,000 characters, or built around an emergency phrase or a keyword of ``content/``,
or a number), a voice note, a photo, a location. Each text also draws what the NLU says of
it (any intent of the content, any confidence), so every branch of the router is reached.

Properties checked at every step (:meth:`EngineUnderTest.play`):

- no exception;
- an answer, every reply under Telegram's 4,096 characters, every button's payload under
  its 64 bytes of ``callback_data``;
- a text holding an emergency phrase of ``content/`` (the keyword tripwire) is answered
  with emergency contacts first (the emergency answers, or the self-harm reply, which
  gives them);
- a button payload the bot could not have made changes nothing stored about the person.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from hypothesis import strategies as st
from sqlalchemy import func, select

from bot.config import PROJECT_ROOT
from bot.content.catalog import MAX_TEXT
from bot.content.store import ContentStore
from bot.dialogue import payloads as p
from bot.dialogue.decision import Thresholds
from bot.dialogue.engine import COMMANDS, Engine
from bot.dialogue.types import Inbound, Outcome
from bot.nlu.keywords import EMERGENCY_INTENT, SELF_HARM_INTENT
from bot.nlu.service import NluService
from bot.store import repositories as repo
from bot.store.db import Database
from bot.store.models import QuizAnswer, Referral, UserTopic
from tests.support.environment import CONTENT_DIR
from tests.support.nlu import StubParser

#: Telegram's limit on a button's ``callback_data``.
MAX_CALLBACK_BYTES = 64
#: What a person cannot have changed by pressing a forged button.
PROFILE = (
    "language",
    "consent",
    "consent_at",
    "region",
    "country",
    "acquisition_source",
    "subscribed",
    "subscribed_at",
    "unsubscribed_at",
    "age_bracket",
    "situation",
)
#: Payloads the bot never makes, in shapes close to its own.
NEAR_MISSES = (
    "quiz:sahara:q1:\u00b2",
    "card:sahara:-1",
    "card:sahara:99999999999999999999",
    "cases:0",
    "cases:\u0661",
    "pref:1:closed",
    "lang:",
    "lang:xx",
    "consent:maybe",
    "where:r:atlantis",
    "refer::",
    "ref:",
    "intent:",
    "action:drop_tables",
    "forget:",
    "x" * 300,
    "",
)


@cache
def content() -> ContentStore:
    return ContentStore(CONTENT_DIR, nlu_data_dir=PROJECT_ROOT / "nlu" / "data")


@cache
def phrases() -> dict[str, tuple[str, ...]]:
    """Keyword phrases of the content by intent (emergency ones apart)."""
    found: dict[str, list[str]] = {}
    for intent, _language, phrase in content().current().keywords():
        found.setdefault(intent, []).append(phrase)
    return {intent: tuple(sorted(set(words))) for intent, words in found.items()}


@cache
def emergency_keys() -> frozenset[str]:
    """The content keys that open an answer giving emergency contacts."""
    catalog = content().current()
    keys = {"emergency.abroad", "emergency.no_number", "emergency.again"}
    for intent in (EMERGENCY_INTENT, SELF_HARM_INTENT):
        reply = catalog.intents[intent].reply if intent in catalog.intents else None
        if reply:
            keys.add(reply)
    return frozenset(keys)


# --- strategies ------------------------------------------------------------------------------

ANY_TEXT = st.text(max_size=10_000)
SHORT_TEXT = st.text(max_size=60)
WORDS = st.text(alphabet=st.characters(codec="utf-8"), max_size=40)


@st.composite
def nlu_reading(draw: st.DrawFn) -> tuple[str, float]:
    intents = sorted(content().current().intents)
    return draw(st.sampled_from(intents)), draw(st.floats(min_value=0, max_value=1))


@st.composite
def emergency_text(draw: st.DrawFn) -> str:
    phrase = draw(st.sampled_from(phrases()[EMERGENCY_INTENT]))
    before, after = draw(WORDS), draw(WORDS)
    joiner = draw(st.sampled_from([" ", ", ", "\n", " !! "]))
    text = f"{before}{joiner}{phrase}{joiner}{after}"
    return text.upper() if draw(st.booleans()) else text


@st.composite
def keyword_text(draw: st.DrawFn) -> str:
    intent = draw(st.sampled_from(sorted(i for i in phrases() if i != EMERGENCY_INTENT)))
    return draw(st.sampled_from(phrases()[intent]))


def steps() -> st.SearchStrategy[tuple[Any, ...]]:
    texts = st.one_of(
        ANY_TEXT,
        SHORT_TEXT,
        emergency_text(),
        keyword_text(),
        st.integers(min_value=-5, max_value=200).map(str),
    )
    commands = st.sampled_from([*COMMANDS, "end", "attach", "foo", "START", "help@other_bot"])
    return st.one_of(
        st.tuples(st.just("press"), st.integers(min_value=0, max_value=40)),
        st.tuples(st.just("press"), st.integers(min_value=0, max_value=40)),
        st.tuples(
            st.just("mutate"),
            st.integers(min_value=0, max_value=40),
            st.sampled_from(["insert", "delete", "replace", "append", "truncate"]),
            st.integers(min_value=0, max_value=70),
            st.characters(codec="utf-8"),
        ),
        st.tuples(st.just("forge"), st.one_of(st.sampled_from(NEAR_MISSES), SHORT_TEXT)),
        st.tuples(st.just("command"), commands, SHORT_TEXT),
        st.tuples(st.just("text"), texts, nlu_reading()),
        st.tuples(st.just("text"), texts, nlu_reading()),
        st.tuples(st.just("text"), emergency_text(), nlu_reading()),
        st.tuples(st.just("voice")),
        st.tuples(st.just("media")),
        st.tuples(
            st.just("location"),
            st.floats(min_value=-90, max_value=90),
            st.floats(min_value=-180, max_value=180),
        ),
    )


@st.composite
def conversations(draw: st.DrawFn, max_steps: int = 8) -> list[tuple[Any, ...]]:
    """A language and how far onboarding goes, then random steps."""
    languages = sorted(content().current().languages)
    start: list[tuple[Any, ...]] = []
    depth = draw(st.integers(min_value=0, max_value=3))
    if depth >= 1:
        start.append(("command", "start", ""))
    if depth >= 2:
        start.append(("forge", f"lang:{draw(st.sampled_from(languages))}"))
    if depth >= 3:
        start.append(("forge", f"consent:{draw(st.sampled_from(['yes', 'no']))}"))
    return start + draw(st.lists(steps(), max_size=max_steps))


# --- playing ---------------------------------------------------------------------------------


def mutate(payload: str, how: str, at: int, char: str) -> str:
    at = at % (len(payload) + 1)
    if how == "insert":
        return payload[:at] + char + payload[at:]
    if how == "delete":
        return payload[:at] + payload[at + 1 :]
    if how == "replace":
        return payload[:at] + char + payload[at + 1 :]
    if how == "append":
        return payload + char
    return payload[:at]


@dataclass
class Tally:
    """What a run tried, for the bench script's report."""

    conversations: int = 0
    steps: int = 0
    kinds: dict[str, int] = field(default_factory=dict)
    emergencies: int = 0
    forged: int = 0


_PEOPLE = itertools.count(1)


@dataclass
class EngineUnderTest:
    runner: asyncio.Runner
    database: Database
    engine: Engine
    parser: StubParser
    tally: Tally = field(default_factory=Tally)

    def play(self, conversation: list[tuple[Any, ...]]) -> None:
        self.runner.run(self._play(conversation))

    async def _play(self, conversation: list[tuple[Any, ...]]) -> None:
        user = f"fuzz-{next(_PEOPLE)}"
        shown: list[str] = []
        self.tally.conversations += 1
        for step in conversation:
            inbound, forged = self._inbound(user, step, shown)
            before = await self._stored(user) if forged else None
            outcome = await self.engine.handle(inbound)
            self._check(step, inbound, outcome)
            if forged:
                self.tally.forged += 1
                after = await self._stored(user)
                if before == (None,):
                    # Someone new: they now exist (as for any message), with nothing else.
                    assert after == (None,) or not any(after), f"{inbound.button!r} stored {after}"
                else:
                    assert after == before, f"a forged {inbound.button!r} stored"
            shown = [b.payload for reply in outcome.replies for b in reply.buttons]
            self.tally.steps += 1
            self.tally.kinds[step[0]] = self.tally.kinds.get(step[0], 0) + 1

    def _inbound(self, user: str, step: tuple[Any, ...], shown: list[str]) -> tuple[Inbound, bool]:
        kind = step[0]
        if kind == "press":
            payload = shown[step[1] % len(shown)] if shown else "garbage"
            return Inbound(user_id=user, button=payload), p.parse(payload) is None
        if kind == "mutate":
            original = shown[step[1] % len(shown)] if shown else "topic:sahara"
            payload = mutate(original, step[2], step[3], step[4])
            return Inbound(user_id=user, button=payload), _forged(payload)
        if kind == "forge":
            return Inbound(user_id=user, button=step[1]), _forged(step[1])
        if kind == "command":
            return Inbound(user_id=user, command=step[1], args=step[2]), False
        if kind == "text":
            text, (intent, confidence) = step[1], step[2]
            self.parser.table[text.strip()] = (intent, confidence)
            return Inbound(user_id=user, text=text), False
        if kind == "voice":
            return Inbound(user_id=user, voice=True), False
        if kind == "location":
            return Inbound(user_id=user, location=(step[1], step[2])), False
        return Inbound(user_id=user, media=True), False

    def _check(self, step: tuple[Any, ...], inbound: Inbound, outcome: Outcome) -> None:
        assert not outcome.duplicate
        assert outcome.replies, f"no answer to {step!r}"
        for reply in outcome.replies:
            assert len(reply.text) <= MAX_TEXT, f"a reply of {len(reply.text)} characters"
            for button in reply.buttons:
                assert button.label.strip(), f"a button without a label: {button!r}"
                size = len(button.payload.encode("utf-8"))
                assert size <= MAX_CALLBACK_BYTES, f"payload of {size} bytes: {button.payload!r}"
        text = inbound.text
        if text is not None and content().matcher().is_emergency(text):
            self.tally.emergencies += 1
            first = outcome.meta.messages[0] if outcome.meta.messages else None
            assert first in emergency_keys(), (
                f"emergency words answered with {first!r} first: {text!r}"
            )

    async def _stored(self, user: str) -> tuple[Any, ...]:
        """What is stored about ``user``: their profile and how many rows they have."""
        async with self.database.transaction() as session:
            record = await repo.get_user(session, channel="console", external_id=user)
            if record is None:
                return (None,)
            counts = []
            for model in (Referral, QuizAnswer, UserTopic):
                counts.append(
                    await session.scalar(
                        select(func.count()).select_from(model).where(model.user_id == record.id)
                    )
                )
        return (*(getattr(record, name) for name in PROFILE), *counts)


def _forged(payload: str) -> bool:
    """A payload the bot could not have made (a partner's button is not a user's either)."""
    return p.parse(payload) is None


@contextmanager
def engine_under_test(database: Callable[[], Database]) -> Iterator[EngineUnderTest]:
    """An engine over the real content and a stub NLU, with its own event loop."""
    with asyncio.Runner() as runner:
        db = database()
        store = content()
        parser = StubParser()
        engine = Engine(
            database=db,
            content=store.current,
            nlu=NluService(parser, store.matcher),
            thresholds=Thresholds(),
            language_identifier=store.language_identifier,
        )
        try:
            yield EngineUnderTest(runner, db, engine, parser)
        finally:
            runner.run(db.dispose())
