"""One step's working set: what the flows read (content, user, conversation) and write
(user changes, replies, things to store after deciding)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from bot.content.catalog import Catalog, Fields, Text
from bot.content.models import ButtonSpec
from bot.dialogue.memory import Memory, ShownButton
from bot.dialogue.payloads import for_target
from bot.dialogue.types import Button, Document, Media, Meta, Reply, State
from bot.partners import Partners
from bot.referrals.form import ReferralLimits
from bot.store import referrals as referral_repo
from bot.store.access import KeptAbout
from bot.store.consent import ConsentEventRecord
from bot.store.repositories import ConversationState, UserRecord


@dataclass(frozen=True)
class ConsentNote:
    """A consent event decided in this step, for the ledger: ``asked``, ``given``,
    ``refused`` or ``withdrawn``, the language and the SHA-256 of the text shown."""

    kind: str
    language: str
    text_hash: str


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
    #: How many words the message has (0 for a press or a command).
    text_words: int = 0
    #: Whether this channel can relay a user to a human agent (an agents' chat exists).
    can_hand_over: bool = False
    #: Quiz answers given in this step: (topic, question, answer index, correct).
    quiz_answers: list[tuple[str, str, int, bool]] = field(default_factory=list)
    #: A referral the user confirmed in this step, stored by ``handle`` (form fields).
    new_referral: dict[str, Any] | None = None
    #: The user's referrals, loaded for ``/mycases``.
    cases: list[referral_repo.ReferralRecord] | None = None
    #: How many referrals the user may have open and send in a day...
    referral_limits: ReferralLimits = field(default_factory=ReferralLimits)
    #: Where each service's referrals go: a service without a partner chat is not offered.
    partners: Partners = field(default_factory=Partners)
    #: ...and how many they have: loaded when a step may open or send the form.
    referral_counts: referral_repo.ReferralCounts | None = None
    #: What is kept about the user besides their row and conversation, loaded for
    #: ``/mydata`` and its buttons.
    kept: KeptAbout | None = None
    #: Ask the channel to open a relay with a human agent after this step.
    open_handover: bool = False
    #: Ids of referrals stored in this step, for the channel to deliver to partners.
    delivered: list[int] = field(default_factory=list)
    #: The intent the step acted on when it overrode the NLU's first reading (a crisis put
    #: first from lower in the ranking): what ``meta.intent`` reports.
    decided_intent: str | None = None
    #: The person confirmed the erasure of their data: ``handle`` erases instead of storing.
    erase: bool = False
    #: References of open referrals withdrawn by an erasure, for the channel to tell partners.
    withdrawn: list[str] = field(default_factory=list)
    #: Someone under 15 said so: what was kept with their consent goes (modules seen, links
    #: of their events and quiz answers); see docs/privacy.md, "Minors".
    drop_optional: bool = False
    #: Modules opened in this step by a user who consented ("topics seen" of segments).
    topics_seen: list[str] = field(default_factory=list)
    #: The first language a text of this step fell back to, when the user's own had none.
    fell_back_to: str | None = None
    #: The consent the person gave last (loaded when they consented): what they agreed to.
    consent_given: ConsentEventRecord | None = None
    #: Consent events of this step, written to the ledger by ``handle``.
    consent_log: list[ConsentNote] = field(default_factory=list)
    #: Consent refused or withdrawn: ``handle`` clears what is kept only with it.
    clear_optional: bool = False
    #: A deep-link source opened in this step, counted anonymously by ``handle``.
    link_opened: str | None = None
    #: The conversation's data, typed per flow; written back by :meth:`remembered`.
    memory: Memory = field(init=False)

    def __post_init__(self) -> None:
        self.memory = Memory.from_data(self.conversation.data)

    def remembered(self) -> ConversationState:
        """The conversation to store, its data written back from :attr:`memory`."""
        # The buttons now on screen, in the order shown, for a number or a label typed next.
        self.memory.screen.buttons = [
            ShownButton(b.label, b.payload) for reply in self.replies for b in reply.buttons
        ]
        self.conversation.data = self.memory.to_data(self.conversation.data)
        return self.conversation

    @property
    def state(self) -> State:
        return State(self.conversation.state)

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
    def chosen_language(self) -> str | None:
        """The language the user chose, if any (not the one answered in by default)."""
        chosen: str | None = self.user_changes.get("language", self.user.language)
        return chosen

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
        if language is None and resolved.fell_back and self.fell_back_to is None:
            self.fell_back_to = resolved.language
        return resolved

    def shown(self, key: str, language: str | None = None) -> str:
        return self.resolved(key, language).text

    def button(self, spec: ButtonSpec) -> Button:
        return Button(self.t(spec.label), for_target(spec).pack())

    def say(
        self,
        key: str,
        buttons: tuple[Button, ...] | list[Button] = (),
        *,
        after: tuple[str, ...] = (),
        fields: dict[str, Any] | None = None,
        document: Document | None = None,
    ) -> None:
        """Send ``key`` (with its voice note, if any), then the texts of ``after`` below it;
        with ``document``, the text is the file's caption."""
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
        self.replies.append(Reply(text, unique(buttons), media, document))

    def append_to_last(self, buttons: tuple[Button, ...] = (), text: str = "") -> None:
        """Add buttons (or text below) to the last reply sent in this step."""
        last = self.replies[-1]
        self.replies[-1] = replace(
            last, text=last.text + text, buttons=unique((*last.buttons, *buttons))
        )

    def go(self, state: State, topic: str | None = None, card: int = 0) -> None:
        self.conversation.state = state.value
        self.conversation.topic = topic
        self.conversation.card = card


def unique(buttons: tuple[Button, ...] | list[Button]) -> tuple[Button, ...]:
    """The buttons of one answer, each payload once (the first kept): never "Menu | Menu"."""
    first: dict[str, Button] = {}
    for button in buttons:
        first.setdefault(button.payload, button)
    return tuple(first.values())
