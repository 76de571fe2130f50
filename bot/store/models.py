"""ORM models. Schema changes go through an Alembic migration, never ``create_all``."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Text,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from bot.store.types import UtcDateTime

# Stable constraint names so migrations behave the same on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


def to_the_hour(moment: datetime) -> datetime:
    """``moment`` without its minutes, seconds and microseconds."""
    return moment.replace(minute=0, second=0, microsecond=0)


def this_hour() -> datetime:
    """Now, to the hour: the time of analytics rows (events, quiz answers) and of what a
    step writes about its person (last seen, conversation, module seen). Precise times on
    both sides would tie an unlinked event to the person whose row was written in the same
    millisecond; to the hour, it is one of everyone who wrote in that hour."""
    return to_the_hour(utcnow())


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    # Every timestamp column: stored in UTC, read back aware (see ``types.UtcDateTime``).
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UtcDateTime(),
        dict[str, Any]: JSON,
    }


#: ``users.progress``: opened a module (its first card served), finished one (its end
#: served), asked for help (shown a service card).
PROGRESS_OPENED_MODULE = 1
PROGRESS_FINISHED_MODULE = 2
PROGRESS_ASKED_FOR_HELP = 4


class User(Base):
    """One person talking to the bot on one channel."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(64))
    language: Mapped[str | None] = mapped_column(String(8))
    consent: Mapped[bool | None] = mapped_column(default=None)
    consent_at: Mapped[datetime | None]
    #: Where the user said they are: a Malian place, and/or a country (abroad or Mali).
    region: Mapped[str | None] = mapped_column(String(64))
    country: Mapped[str | None] = mapped_column(String(32))
    #: The deep-link source that brought the person in, stored only once they consent
    #: (before that it waits in the conversation; counted anonymously in
    #: ``acquisition_counts``).
    acquisition_source: Mapped[str | None] = mapped_column(String(64))
    subscribed: Mapped[bool] = mapped_column(default=False)
    #: When the user last opted in to / out of campaign messages.
    subscribed_at: Mapped[datetime | None]
    unsubscribed_at: Mapped[datetime | None]
    #: When Telegram answered 403 (the user blocked the bot): skipped from then on.
    blocked_at: Mapped[datetime | None]
    #: Optional, asked at opt-in: "15-17", "18-24", "25-34", "35+".
    age_bracket: Mapped[str | None] = mapped_column(String(8))
    #: Optional, asked at opt-in: resident | returnee | diaspora.
    situation: Mapped[str | None] = mapped_column(String(16))
    #: To the hour, like ``last_seen_at`` (see ``this_hour``).
    created_at: Mapped[datetime] = mapped_column(default=this_hour)
    last_seen_at: Mapped[datetime] = mapped_column(default=this_hour)
    #: How far the person went, kept only with consent (cleared with the rest of it): the
    #: ``PROGRESS_*`` bits, each set the first time (the engine; migration 0022 for before).
    progress: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")

    __table_args__ = (
        Index("uq_users_channel_external_id", "channel", "external_id", unique=True),
        # The dashboard: people who started, subscribed, left or blocked the bot in a
        # period (reach, the funnel's cohort), and the filters' values read from an index
        # alone, in its order (no sort). The people who started in a period are read with
        # their filters' attributes, consent and progress from the index alone (the
        # funnel's cohort; migrations 0019 and 0022).
        Index(
            "ix_users_created_profile",
            "created_at",
            "language",
            "region",
            "country",
            "age_bracket",
            "situation",
            "acquisition_source",
            "consent",
            "progress",
        ),
        Index("ix_users_subscribed_at", "subscribed_at"),
        Index("ix_users_unsubscribed_at", "unsubscribed_at"),
        Index("ix_users_blocked_at", "blocked_at"),
        Index(
            "ix_users_profile",
            "language",
            "region",
            "country",
            "age_bracket",
            "situation",
            "acquisition_source",
        ),
    )


class Conversation(Base):
    """Where a user is in the dialogue; written after every step."""

    __tablename__ = "conversations"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    state: Mapped[str] = mapped_column(String(32))
    topic: Mapped[str | None] = mapped_column(String(64))
    card: Mapped[int] = mapped_column(Integer, default=0)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: To the hour (see ``this_hour``).
    updated_at: Mapped[datetime] = mapped_column(default=this_hour, onupdate=this_hour)


class ProcessedUpdate(Base):
    """Telegram update ids already handled, so a redelivered update is answered once."""

    __tablename__ = "processed_updates"

    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    processed_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReceivedUpdate(Base):
    """Telegram update ids received over the webhook, recorded before the update is
    processed: Telegram's redeliveries (and, with several replicas, a delivery to another
    process) find the row and are answered without being processed again.

    With several replicas on PostgreSQL, the row also keeps the update's chat and body
    until it is handled (``handled_at``), so that the replica holding the chat's turn
    handles all of the chat's pending updates in id order; the body is emptied once the
    update is handled, the row kept for de-duplication."""

    __tablename__ = "received_updates"
    __table_args__ = (Index("ix_received_updates_chat", "channel", "chat_id", "update_id"),)

    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    received_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    chat_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    body: Mapped[str | None] = mapped_column(Text, default=None)
    handled_at: Mapped[datetime | None] = mapped_column(default=None)


class SendBudget(Base):
    """Telegram's send rate shared by every process of one bot (``bot/budget.py``): the
    time (seconds since the epoch, the database's clock) of the next free send slot, and
    until when every send waits after a 429. No person in it."""

    __tablename__ = "send_budget"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    next_slot: Mapped[float] = mapped_column(Float)
    paused_until: Mapped[float] = mapped_column(Float)


class Event(Base):
    """An analytics event. Carries a pseudonymous user id, never a Telegram id or name."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(32))
    name: Mapped[str | None] = mapped_column(String(64))
    language: Mapped[str | None] = mapped_column(String(8))
    #: The published content version that served this event.
    content_version: Mapped[str | None] = mapped_column(String(16))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=this_hour)  # to the hour: see this_hour

    __table_args__ = (
        Index("ix_events_content_version", "content_version"),
        # The dashboard reads events of some kinds in a period from this index alone
        # (never the rows, but for the NLU's intent).
        Index(
            "ix_events_kind_created_at_user", "kind", "created_at", "user_id", "name", "language"
        ),
        Index("ix_events_created_at_user_id", "created_at", "user_id"),
        # A person's events: the dashboard's "active in the period" (one probe per
        # person), /mydata's count, and the unlinking when a person is erased
        # (``ON DELETE SET NULL``), which would otherwise read every event.
        Index("ix_events_user_id_created_at", "user_id", "created_at"),
    )


class ContentVersion(Base):
    """A content version the bot served: its hash, when it went live, and who published it."""

    __tablename__ = "content_versions"

    version: Mapped[str] = mapped_column(String(16), primary_key=True)
    published_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: "startup", "reload" (a file change picked up), "attach:<admin pseudonym>", ...
    published_by: Mapped[str] = mapped_column(String(64))
    #: How many message keys per language, at publication.
    summary: Mapped[dict[str, Any]] = mapped_column(default=dict)


class QuizAnswer(Base):
    """One answer to a quiz question. ``user_id`` is kept only with the user's consent."""

    __tablename__ = "quiz_answers"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    topic: Mapped[str] = mapped_column(String(40))
    question: Mapped[str] = mapped_column(String(40))
    answer: Mapped[int] = mapped_column(Integer)
    correct: Mapped[bool]
    language: Mapped[str | None] = mapped_column(String(8))
    content_version: Mapped[str | None] = mapped_column(String(16))
    answered_at: Mapped[datetime] = mapped_column(default=this_hour)  # to the hour: see this_hour

    __table_args__ = (
        Index("ix_quiz_answers_topic_question", "topic", "question"),
        Index("ix_quiz_answers_answered_at", "answered_at"),
    )


class MediaFile(Base):
    """A media file already uploaded to a channel: send its ``file_id`` instead of the bytes."""

    __tablename__ = "media_files"

    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    #: SHA-256 of the file's bytes: a new recording under the same name is a new upload.
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    path: Mapped[str] = mapped_column(String(255))
    file_id: Mapped[str] = mapped_column(String(255))
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)


class Referral(Base):
    """A person's request, with their consent, that a service contact them.

    ``first_name``, ``phone`` and ``description`` are sensitive: never logged, shown only
    to the user and to the partner chat of the service concerned.
    """

    __tablename__ = "referrals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    #: Short code the user can quote (e.g. ``KF-7Q3M2P``).
    reference: Mapped[str] = mapped_column(String(16), unique=True)
    #: None once the person asked for their data to be erased (the history stays, anonymous).
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    service_id: Mapped[str] = mapped_column(String(40))
    need: Mapped[str] = mapped_column(String(32))
    #: pending -> sent -> received -> in_progress -> closed; undeliverable, withdrawn
    #: (bot/referrals/status.py)
    status: Mapped[str] = mapped_column(String(16))
    language: Mapped[str] = mapped_column(String(8))
    first_name: Mapped[str | None] = mapped_column(String(64))
    phone: Mapped[str | None] = mapped_column(String(20))
    location: Mapped[str | None] = mapped_column(String(64))
    description: Mapped[str | None] = mapped_column(String(1000))
    #: The person said they are 15-17 when they asked: the partner's card says so.
    minor: Mapped[bool] = mapped_column(default=False, server_default=false())
    #: Where it was delivered; null until delivery succeeded (the reminder loop retries).
    partner_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    partner_message_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: When the partner was reminded of an unacknowledged referral (and admins told).
    reminded_at: Mapped[datetime | None]
    #: Failed deliveries so far, and when the next one is due (null: now).
    delivery_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime | None]
    #: The partner's staff member (a console account) who follows the case; null: nobody.
    assigned_to: Mapped[int | None] = mapped_column(
        ForeignKey("console_accounts.id", ondelete="SET NULL")
    )

    __table_args__ = (
        Index("ix_referrals_user_id", "user_id"),
        Index("ix_referrals_status_created_at", "status", "created_at"),
        Index("ix_referrals_status_next_attempt_at", "status", "next_attempt_at"),
    )


class ReferralEvent(Base):
    """One status change of a referral: from, to, who and when."""

    __tablename__ = "referral_events"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    referral_id: Mapped[int] = mapped_column(ForeignKey("referrals.id", ondelete="CASCADE"))
    status_from: Mapped[str | None] = mapped_column(String(16))
    status_to: Mapped[str] = mapped_column(String(16))
    #: "user", "system", or "partner:<telegram user id>" (staff of the service).
    actor: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_referral_events_referral_id", "referral_id"),)


class ReferralNote(Base):
    """A note of the partner's staff on a case, read only by that partner in the console.

    Its text may name the person: it goes with the referral's personal fields (erasure,
    retention) and is never logged.
    """

    __tablename__ = "referral_notes"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    referral_id: Mapped[int] = mapped_column(ForeignKey("referrals.id", ondelete="CASCADE"))
    #: The console account's name of who wrote it (staff, not the young person).
    author: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(String(2000))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_referral_notes_referral_id", "referral_id"),)


class Handover(Base):
    """A relay between a user and the agents' chat (one forum topic per user)."""

    __tablename__ = "handovers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    #: open | closed
    status: Mapped[str] = mapped_column(String(8))
    agent_chat_id: Mapped[int] = mapped_column(BigInteger)
    #: The forum topic (message_thread_id) of this user in the agents' chat.
    thread_id: Mapped[int | None] = mapped_column(BigInteger)
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None]
    #: "user", "agent:<telegram user id>" or "system".
    closed_by: Mapped[str | None] = mapped_column(String(64))
    #: When a message last went through, either way (an idle relay is closed).
    last_activity_at: Mapped[datetime | None]

    __table_args__ = (
        Index("ix_handovers_user_id_status", "user_id", "status"),
        Index("ix_handovers_agent_chat_id_thread_id", "agent_chat_id", "thread_id"),
    )


class UserTopic(Base):
    """A module a user opened (with their consent): the "topics seen" of segments."""

    __tablename__ = "user_topics"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    topic: Mapped[str] = mapped_column(String(40), primary_key=True)
    first_seen_at: Mapped[datetime] = mapped_column(default=this_hour)  # to the hour: see this_hour


class BroadcastRun(Base):
    """One sending of a campaign of ``content/broadcasts/`` (a one-off, or one drip step)."""

    __tablename__ = "broadcast_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    #: The campaign's name in content (file name).
    name: Mapped[str] = mapped_column(String(64))
    #: oneoff | drip
    kind: Mapped[str] = mapped_column(String(8))
    #: planned | sending | done | cancelled
    status: Mapped[str] = mapped_column(String(12))
    content_version: Mapped[str | None] = mapped_column(String(16))
    #: Recipients enqueued.
    total: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_broadcast_runs_name", "name"),)


class OutboxMessage(Base):
    """One message to one recipient: claimed in batches, sent, then marked. Never deleted."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("broadcast_runs.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    #: The drip step (0 for a one-off).
    step: Mapped[int] = mapped_column(Integer, default=0)
    message_key: Mapped[str] = mapped_column(String(80))
    language: Mapped[str] = mapped_column(String(8))
    #: The channel's address of the user (Telegram chat id), copied at enqueue time.
    chat_id: Mapped[str] = mapped_column(String(64))
    #: pending | claimed | sent | failed | skipped | cancelled
    status: Mapped[str] = mapped_column(String(10))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    #: Not before this time (quiet hours, backoff after an error).
    not_before: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(String(200))

    __table_args__ = (
        Index("uq_outbox_run_id_user_id_step", "run_id", "user_id", "step", unique=True),
        Index("ix_outbox_status_not_before", "status", "not_before"),
    )


class ConsentEvent(Base):
    """One event of the data-consent ledger: asked, given, refused or withdrawn.

    ``text_hash`` is the SHA-256 of the exact consent text shown, in ``language``: the
    proof of what the person agreed to, and how the bot knows to ask again when it changes.
    Deleted with the person (erasure).
    """

    __tablename__ = "consent_events"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    #: asked | given | refused | withdrawn
    kind: Mapped[str] = mapped_column(String(16))
    language: Mapped[str] = mapped_column(String(8))
    text_hash: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_consent_events_user_id_at", "user_id", "at"),)


class AcquisitionCount(Base):
    """Deep links opened, per source and day (UTC): a count, linked to nobody."""

    __tablename__ = "acquisition_counts"

    source: Mapped[str] = mapped_column(String(64), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


class EventDay(Base):
    """Events counted per day (UTC), kind, name and language, for the days that are over:
    the dashboard reads these instead of scanning every event of a long period. A count,
    linked to nobody (``bot/store/dashboard.py``: :func:`roll_up_events`).

    ``understood``: a typed message the NLU gave an intent (``events.data['intent']``).
    ``name`` and ``language`` are ``''`` where the event has none.
    """

    __tablename__ = "event_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    language: Mapped[str] = mapped_column(String(8), primary_key=True)
    understood: Mapped[bool] = mapped_column(primary_key=True)
    events: Mapped[int] = mapped_column(Integer)


class EventDayRolled(Base):
    """The days already counted into :class:`EventDay` (a day with no event is one too)."""

    __tablename__ = "event_days_rolled"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    rolled_at: Mapped[datetime] = mapped_column(default=utcnow)


class ConsoleAccount(Base):
    """A member of staff who signs in to the web console (staff data, not a young person's).

    ``password_hash`` is an Argon2 hash; the password itself is never stored nor logged.
    ``services`` (partners) and ``languages`` (translators) are the scope of the account,
    as space-separated ids.
    """

    __tablename__ = "console_accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    #: admin | editor | translator | viewer | partner | annotator
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    services: Mapped[str] = mapped_column(String(1000), default="")
    languages: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    disabled_at: Mapped[datetime | None]
    #: Failed sign-ins in a row, and until when the account refuses any (rate limit).
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None]
    #: Changed with the password: a session signed before it is no longer valid.
    password_changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: The password was given by someone else (a new account, a reset, the first admin's
    #: one-time password): the console asks for a new one before anything else.
    must_change_password: Mapped[bool] = mapped_column(default=False)


class ConsoleAudit(Base):
    """Who changed what in the console, and when: read by admins, never a password."""

    __tablename__ = "console_audit"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    #: The account's name (kept when the account is disabled), or ``cli`` for the command.
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(40))
    detail: Mapped[str] = mapped_column(String(255), default="")

    __table_args__ = (Index("ix_console_audit_at", "at"),)


class ContentRelease(Base):
    """One publication of content from the console: who, when, and the files it wrote
    (``{path: {"before": text or null, "after": text}}``) for the diff and the rollback."""

    __tablename__ = "content_releases"

    #: Given by the publisher as the last id + 1: two replicas publishing at once cannot
    #: both write release N (the second is refused and tries again on the new files).
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    #: The content version (hash of the tree) once the release is applied.
    version: Mapped[str] = mapped_column(String(16))
    published_by: Mapped[str] = mapped_column(String(64))
    published_at: Mapped[datetime] = mapped_column(default=utcnow)
    note: Mapped[str] = mapped_column(String(255), default="")
    #: What changed, key by key: ``[{"language", "key", "old", "new"}]``.
    changes: Mapped[list[Any]] = mapped_column(JSON, default=list)
    files: Mapped[dict[str, Any]] = mapped_column(default=dict)


class ContentDraft(Base):
    """A proposed content change, invisible to users until a release publishes it.

    ``target`` names what it changes (``message:bm:help.text``); ``open_target`` equals it
    while the draft is open, so there is one open draft per target (NULLs never clash).
    ``revision`` grows with every save: a save based on an older revision is refused.
    """

    __tablename__ = "content_drafts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    language: Mapped[str] = mapped_column(String(8))
    key: Mapped[str] = mapped_column(String(120))
    target: Mapped[str] = mapped_column(String(160))
    open_target: Mapped[str | None] = mapped_column(String(160), unique=True)
    #: open | published | discarded
    state: Mapped[str] = mapped_column(String(12))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: Hash of the published value the draft started from ("" when there was none).
    base: Mapped[str] = mapped_column(String(16))
    revision: Mapped[int] = mapped_column(Integer, default=1)
    author: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    reviewed_by: Mapped[str | None] = mapped_column(String(64))
    reviewed_at: Mapped[datetime | None]
    release_id: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (
        Index("ix_content_drafts_target", "target"),
        Index("ix_content_drafts_state", "state"),
    )


class ContentFile(Base):
    """The published text of a content file written by a release: what every replica's
    content folder is brought to.

    A binary file (a voice note under ``media/``) has an empty ``text`` and its bytes in
    ``content_blobs`` under ``blob`` (its sha256). A file a release removed keeps its row
    with an empty ``sha256``, so that every replica removes it too.
    """

    __tablename__ = "content_files"

    path: Mapped[str] = mapped_column(String(255), primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    release_id: Mapped[int] = mapped_column(Integer)
    blob: Mapped[str | None] = mapped_column(String(64))


class ContentBlob(Base):
    """The bytes of a binary content file (a voice note), by their sha256: kept for the
    drafts that propose it, the releases that wrote or replaced it, and the replicas."""

    __tablename__ = "content_blobs"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class NluReviewItem(Base):
    """A message the bot did not understand, waiting in the console's NLU review queue.

    Only from people who consented, phone numbers and names masked (``bot.nlu.review``),
    and linked to nobody: no user id. ``person_key`` is a random token kept in the person's
    conversation (``review_key``) so that ``/forget`` and a withdrawn consent delete their
    texts; it names no one on its own. Deleted once labelled (the example then lives in
    ``nlu/data/reviewed.yml``, linked to nobody), discarded, or ``RETENTION_REVIEW_DAYS``
    old.
    """

    __tablename__ = "nlu_review_items"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    person_key: Mapped[str] = mapped_column(String(32))
    #: The text, masked, at most ``bot.nlu.review.MAX_TEXT`` characters.
    text: Mapped[str] = mapped_column(String(500))
    #: fallback | clarify | low_confidence
    reason: Mapped[str] = mapped_column(String(16))
    #: What the NLU made of it: its best intent (or none) and confidence, its entities
    #: (spans in ``text``), and the language identifier's guess when it was sure.
    intent: Mapped[str | None] = mapped_column(String(64))
    confidence: Mapped[float] = mapped_column(Float, default=0.0)
    entities: Mapped[list[Any]] = mapped_column(JSON, default=list)
    language: Mapped[str | None] = mapped_column(String(8))
    #: To the hour, like the step's other rows.
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        Index("ix_nlu_review_items_person_key", "person_key"),
        Index("ix_nlu_review_items_created_at", "created_at"),
    )
