"""The per-user state machine.

One call of :meth:`Engine.handle` is one step: understand the event (an NLU server
is asked before the database transaction opens, so a slow server never holds a
lock), then in one transaction de-duplicate it, load the user and their
conversation, decide, and save. A text typed into the referral form (a name, a
phone, a place, the person's own words) never goes to the NLU server: a short read
before it finds whether the form waits for one, and then only the local keywords
(the emergency tripwire included) read the text. Without an NLU server nothing
leaves the process, so the keywords read the text inside the step's transaction
and there is no read before it. The decision itself only reads content and
the loaded state, so it is the same on every channel.

Deciding is spread over rooms: :mod:`bot.dialogue.router` picks the flow for a
command, a button or a text; :mod:`bot.dialogue.flows` holds one module per
feature; :mod:`bot.dialogue.payloads` makes and reads every button payload;
:mod:`bot.dialogue.memory` types what a conversation remembers; and
:mod:`bot.dialogue.storage` writes what was decided.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from bot.content.catalog import Catalog
from bot.dialogue.decision import Thresholds
from bot.dialogue.flows import referral_form
from bot.dialogue.payloads import CasesPage, FormPress, MyData, Refer, parse
from bot.dialogue.review import queue_unclear, unclear
from bot.dialogue.router import COMMANDS, step
from bot.dialogue.storage import erase, record, record_consent, save, store_referral
from bot.dialogue.turn import Turn
from bot.dialogue.types import Inbound, Meta, Outcome, State
from bot.logs import log_context, name_user
from bot.nlu.langid import LanguageGuess, LanguageIdentifier
from bot.nlu.service import NluService
from bot.nlu.types import NluResult
from bot.partners import Partners
from bot.pseudonyms import pseudonym
from bot.referrals.form import ReferralLimits
from bot.referrals.status import OPEN_STATUSES
from bot.store import Session
from bot.store import consent as consent_repo
from bot.store import referrals as referral_repo
from bot.store import repositories as repo
from bot.store.access import kept_about
from bot.store.db import Database
from bot.store.models import utcnow
from bot.store.repositories import ConversationState

__all__ = ["COMMANDS", "Engine", "Turn", "pseudonym"]

logger = logging.getLogger(__name__)


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
        referral_limits: ReferralLimits | None = None,
        partners: Partners | None = None,
        review: bool = False,
    ) -> None:
        self.database = database
        self._content = content
        self.nlu = nlu
        self.thresholds = thresholds or Thresholds()
        self._identifier = language_identifier or (lambda: None)
        #: Whether this channel can relay a user to a human agent (an agents' chat exists).
        self.handover = handover
        self.referral_limits = referral_limits or ReferralLimits()
        #: Where each service's referrals go (``PARTNERS_FILE``): none, no referral offered.
        self.partners = partners or Partners()
        #: Queue the texts the bot did not understand for review (``NLU_REVIEW_CAPTURE``).
        self.review = review

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
        """One step of one user's conversation: the replies, and what the channel does next."""
        with log_context(update=inbound.update_id):
            return await self._handle(inbound)

    async def _handle(self, inbound: Inbound) -> Outcome:
        catalog = self._content()
        if self.nlu.rasa is None:
            # Nothing leaves the process to understand a text (keywords only): it is read
            # inside the step's transaction, once the form's state is known under the
            # lock. No separate look first, so one transaction per step instead of two.
            return await self.database.retrying(
                lambda: self._step(inbound, catalog, understanding=None)
            )
        # Before the transaction: a slow NLU server never holds a database lock.
        private = await self.database.retrying(lambda: self._form_waits(inbound, catalog))
        understanding = (private, *await self._understand(inbound, private=private))
        return await self.database.retrying(
            lambda: self._step(inbound, catalog, understanding=understanding)
        )

    async def _step(
        self,
        inbound: Inbound,
        catalog: Catalog,
        *,
        understanding: tuple[bool, NluResult | None, str | None] | None,
    ) -> Outcome:
        """The step's transaction: de-duplicate, load, decide, save. ``understanding``:
        whether the text answers the form, the NLU's reading and the language it is
        written in, found before the transaction; None to find them in it (local NLU)."""
        async with self.database.transaction() as session:
            if inbound.update_id is not None and not await repo.mark_update_processed(
                session, channel=inbound.channel, update_id=inbound.update_id
            ):
                logger.info("Update %s already handled; not answering twice", inbound.update_id)
                return Outcome(
                    replies=[], meta=Meta(content_version=catalog.version), duplicate=True
                )
            turn = await self._load(session, inbound, catalog)
            name_user(pseudonym(turn.user.id))
            if understanding is None:
                private = referral_form.expects_text(turn)
                understood, turn.written_in = await self._understand(inbound, private=private)
            else:
                private, understood, turn.written_in = understanding
                if private and not referral_form.expects_text(turn):
                    # The form ended between the look and the lock (another replica took a
                    # message of the same person): the text was read by keywords only, as
                    # when the NLU server is down; it is not sent now, inside the
                    # transaction.
                    logger.info("Step %s: the form closed meanwhile", pseudonym(turn.user.id))
            step(turn, inbound, understood, self.thresholds)
            if turn.erase:
                await erase(session, turn)
                return self._outcome(turn, understood)
            if turn.new_referral is not None:
                await store_referral(session, turn)
            if self.review and understood is not None:
                reason = unclear(turn, inbound, understood, self.thresholds, private=private)
                if reason is not None:
                    # Before saving: a first queued text gives the conversation its key.
                    await queue_unclear(session, turn, understood, reason)
            await save(session, turn)
            await record_consent(session, turn)
            await record(session, turn, inbound, understood)
        return self._outcome(turn, understood)

    async def _form_waits(self, inbound: Inbound, catalog: Catalog) -> bool:
        """Whether this text answers a step of the referral form (a short read, no lock)."""
        if inbound.text is None or not inbound.text.strip():
            return False
        async with self.database.reading() as session:
            found = await repo.peek_conversation(
                session, channel=inbound.channel, external_id=inbound.user_id
            )
        if found is None:
            return False
        user, conversation = found
        return referral_form.expects_text(Turn(catalog, user, conversation))

    async def _understand(
        self, inbound: Inbound, *, private: bool
    ) -> tuple[NluResult | None, str | None]:
        """The NLU's reading of a text, and the language it is written in when that is clear.

        ``private``: the text answers the referral form; it stays in the bot, read by the
        content's keywords only (an emergency still comes first), and as typed.
        """
        if inbound.text is None or not inbound.text.strip():
            return None, None
        written = inbound.text.strip()
        understood = (
            self.nlu.local(written)
            if private
            else await self.nlu.parse(written, caller=f"{inbound.channel}:{inbound.user_id}")
        )
        identifier = self._identifier()
        guess: LanguageGuess | None = (
            identifier.predict(inbound.text) if identifier is not None else None
        )
        if guess is not None and not guess.mixed and guess.confidence >= self.thresholds.language:
            return understood, guess.language
        return understood, None

    async def _load(self, session: Session, inbound: Inbound, catalog: Catalog) -> Turn:
        """The user (created on first contact) and their conversation, as this step's turn."""
        # Most steps: the user, the conversation and the consent given, in one query.
        loaded = await repo.load_step(session, channel=inbound.channel, external_id=inbound.user_id)
        conversation: ConversationState | None
        if loaded is not None:
            user, conversation, created = loaded.user, loaded.conversation, False
        else:
            user, created = await repo.get_or_create_user(
                session, channel=inbound.channel, external_id=inbound.user_id
            )
            conversation = await repo.load_conversation(session, user_id=user.id)
        turn = Turn(
            catalog,
            user,
            conversation or ConversationState(State.NEW.value),
            text_words=len((inbound.text or "").split()),
            can_hand_over=self.handover,
            referral_limits=self.referral_limits,
            partners=self.partners,
        )
        if loaded is not None:
            # What they agreed to: a change of the consent text asks them again.
            turn.consent_given = loaded.consent_given
        elif user.consent:
            turn.consent_given = await consent_repo.last_consent_event(
                session, user_id=user.id, kind="given"
            )
        if created:
            logger.info("New user %s", pseudonym(user.id))
        pressed = parse(inbound.button) if inbound.button else None
        wants_cases = inbound.command is not None and inbound.command.lower() == "mycases"
        if wants_cases or isinstance(pressed, CasesPage):
            turn.cases = await referral_repo.user_referrals(session, user_id=user.id)
        sending = isinstance(pressed, FormPress) and pressed.value == "send"
        if isinstance(pressed, Refer) or sending:
            turn.referral_counts = await referral_repo.counts(
                session,
                user_id=user.id,
                open_statuses=OPEN_STATUSES,
                since=utcnow() - timedelta(days=1),
            )
        if _asks_for_data(inbound):
            turn.kept = await kept_about(session, user_id=user.id)
        return turn

    def _outcome(self, turn: Turn, understood: NluResult | None) -> Outcome:
        meta = turn.meta
        meta.language = turn.language
        meta.state = turn.conversation.state
        meta.topic = turn.conversation.topic
        meta.content_version = turn.catalog.version
        meta.messages = [key for key, _, _ in turn.served]
        if understood is not None:
            meta.intent = turn.decided_intent or understood.intent
            meta.confidence = round(understood.confidence, 4)
            meta.nlu_source = understood.source.value
        logger.info(
            "Step %s: state=%s intent=%s replies=%d",
            pseudonym(turn.user.id),
            meta.state,
            meta.intent,
            len(turn.replies),
        )
        return Outcome(
            replies=turn.replies,
            meta=meta,
            referrals=turn.delivered,
            handover=turn.open_handover,
            user=None if turn.erase else turn.user.id,
            withdrawn=turn.withdrawn,
        )


def _asks_for_data(inbound: Inbound) -> bool:
    """``/mydata`` or one of its buttons: what is kept about the person is read first."""
    if inbound.command is not None:
        return inbound.command.lower() == "mydata"
    return inbound.button is not None and isinstance(parse(inbound.button), MyData)
