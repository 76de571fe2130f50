"""Queries, and only queries. Each function takes the caller's session and returns plain data."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.phones import mask_phones
from bot.store.consent import ConsentEventRecord
from bot.store.models import (
    ConsentEvent,
    ContentVersion,
    Conversation,
    Event,
    MediaFile,
    ProcessedUpdate,
    QuizAnswer,
    User,
    UserTopic,
    this_hour,
    utcnow,
)
from bot.store.records import to_record
from bot.store.types import as_utc


@dataclass(frozen=True)
class UserRecord:
    id: int
    channel: str
    external_id: str
    language: str | None
    consent: bool | None
    consent_at: datetime | None
    region: str | None
    country: str | None
    acquisition_source: str | None
    subscribed: bool
    created_at: datetime
    last_seen_at: datetime
    subscribed_at: datetime | None = None
    unsubscribed_at: datetime | None = None
    blocked_at: datetime | None = None
    age_bracket: str | None = None
    situation: str | None = None
    #: The funnel's steps the person reached (``bot.store.models.PROGRESS_*`` bits).
    progress: int = 0


@dataclass
class ConversationState:
    state: str
    topic: str | None = None
    card: int = 0
    data: dict[str, Any] = field(default_factory=dict)


#: The user's columns, read as plain rows (Core): no ORM object is built on the hot path.
_USER_COLUMNS = tuple(User.__table__.c)
_CONVERSATION_COLUMNS = (
    Conversation.state,
    Conversation.topic,
    Conversation.card,
    Conversation.data,
)


async def get_user(session: AsyncSession, *, channel: str, external_id: str) -> UserRecord | None:
    row = (
        await session.execute(
            select(*_USER_COLUMNS).where(User.channel == channel, User.external_id == external_id)
        )
    ).first()
    return to_record(UserRecord, row) if row else None


async def peek_conversation(
    session: AsyncSession, *, channel: str, external_id: str
) -> tuple[UserRecord, ConversationState] | None:
    """The user and their conversation in one query, without a lock (a look that changes
    nothing); None when either does not exist yet."""
    row = (
        await session.execute(
            select(*_USER_COLUMNS, *_CONVERSATION_COLUMNS)
            .join(Conversation, Conversation.user_id == User.id)
            .where(User.channel == channel, User.external_id == external_id)
        )
    ).first()
    if row is None:
        return None
    user = to_record(UserRecord, row)
    conversation = ConversationState(row.state, topic=row.topic, card=row.card, data=dict(row.data))
    return user, conversation


@dataclass(frozen=True)
class StepState:
    """What a step reads before deciding, from one query (:func:`load_step`)."""

    user: UserRecord
    conversation: ConversationState
    #: The consent the person gave last (when they consented; None otherwise).
    consent_given: ConsentEventRecord | None


async def load_step(session: AsyncSession, *, channel: str, external_id: str) -> StepState | None:
    """The user, their conversation (locked, like :func:`load_conversation`) and the consent
    they gave last, in one round trip instead of three. None when the user or the
    conversation does not exist yet (first contact): the caller reads them one by one."""
    last_given = (
        select(ConsentEvent.id)
        .where(ConsentEvent.user_id == User.id, ConsentEvent.kind == "given")
        .order_by(ConsentEvent.at.desc(), ConsentEvent.id.desc())
        .limit(1)
        .correlate(User)
        .scalar_subquery()
    )
    query = (
        select(
            *_USER_COLUMNS,
            *_CONVERSATION_COLUMNS,
            ConsentEvent.language.label("given_language"),
            ConsentEvent.text_hash.label("given_text_hash"),
            ConsentEvent.at.label("given_at"),
        )
        .join(Conversation, Conversation.user_id == User.id)
        .outerjoin(ConsentEvent, ConsentEvent.id == last_given)
        .where(User.channel == channel, User.external_id == external_id)
        # FOR UPDATE of the conversation only: it serialises two steps of one person
        # across replicas, as load_conversation's lock does.
        .with_for_update(of=Conversation)
    )
    row = (await session.execute(query)).first()
    if row is None:
        return None
    user = to_record(UserRecord, row)
    given = None
    if user.consent and row.given_at is not None:
        given = ConsentEventRecord(
            kind="given",
            language=row.given_language,
            text_hash=row.given_text_hash,
            at=as_utc(row.given_at),
        )
    conversation = ConversationState(row.state, topic=row.topic, card=row.card, data=dict(row.data))
    return StepState(user=user, conversation=conversation, consent_given=given)


async def get_or_create_user(
    session: AsyncSession, *, channel: str, external_id: str
) -> tuple[UserRecord, bool]:
    """The user, created on first contact; safe when two replicas race on the same user."""
    existing = await get_user(session, channel=channel, external_id=external_id)
    if existing is not None:
        return existing, False
    try:
        async with session.begin_nested():
            row = User(channel=channel, external_id=external_id)
            session.add(row)
            await session.flush()
            return to_record(UserRecord, row), True
    except IntegrityError:
        raced = await get_user(session, channel=channel, external_id=external_id)
        assert raced is not None
        return raced, False


_USER_FIELDS = frozenset(
    {
        "language",
        "consent",
        "consent_at",
        "region",
        "country",
        "acquisition_source",
        "subscribed",
        "last_seen_at",
        "subscribed_at",
        "unsubscribed_at",
        "blocked_at",
        "age_bracket",
        "situation",
    }
)


async def update_user(
    session: AsyncSession, *, user_id: int, reached: int = 0, **values: Any
) -> None:
    """The user's changed fields, and the funnel's ``reached`` bits added to their
    progress (OR'ed in the statement: never losing a bit another write set)."""
    unknown = set(values) - _USER_FIELDS
    if unknown:
        raise ValueError(f"not updatable user fields: {sorted(unknown)}")
    if reached:
        values["progress"] = User.progress.op("|")(reached)
    if values:
        await session.execute(update(User).where(User.id == user_id).values(**values))


async def load_conversation(
    session: AsyncSession, *, user_id: int, lock: bool = True
) -> ConversationState | None:
    """The user's conversation; ``lock=False`` for a look that changes nothing."""
    query = select(*_CONVERSATION_COLUMNS).where(Conversation.user_id == user_id)
    # FOR UPDATE on PostgreSQL serialises two updates of the same user across replicas.
    row = (await session.execute(query.with_for_update() if lock else query)).first()
    if row is None:
        return None
    # A copy of the JSON, so the caller's changes never touch what the driver returned.
    return ConversationState(row.state, topic=row.topic, card=row.card, data=dict(row.data))


async def save_conversation(
    session: AsyncSession, *, user_id: int, conversation: ConversationState
) -> None:
    """Insert or update the user's conversation in one statement (no read first)."""
    values = {
        "state": conversation.state,
        "topic": conversation.topic,
        "card": conversation.card,
        "data": dict(conversation.data),
        "updated_at": this_hour(),
    }
    dialect = session.get_bind().dialect.name
    insert_: Any = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}.get(dialect)
    if insert_ is not None:
        stmt = insert_(Conversation).values(user_id=user_id, **values)
        await session.execute(
            stmt.on_conflict_do_update(index_elements=[Conversation.user_id], set_=values),
            execution_options={"synchronize_session": False},
        )
        return
    row = await session.get(Conversation, user_id)
    if row is None:
        row = Conversation(user_id=user_id, state=conversation.state)
        session.add(row)
    for name, value in values.items():
        setattr(row, name, value)
    await session.flush()


async def mark_update_processed(session: AsyncSession, *, channel: str, update_id: int) -> bool:
    """Record ``update_id``; False when it was already recorded (a redelivery)."""
    values = {"channel": channel, "update_id": update_id, "processed_at": utcnow()}
    dialect = session.get_bind().dialect.name
    insert_: Any = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}.get(dialect, insert)
    stmt = insert_(ProcessedUpdate).values(**values)
    if dialect in ("postgresql", "sqlite"):
        stmt = stmt.on_conflict_do_nothing()
    inserted = await session.scalar(stmt.returning(ProcessedUpdate.update_id))
    return inserted is not None


async def record_topic_seen(session: AsyncSession, *, user_id: int, topic: str) -> None:
    """Remember that the user opened a module (kept once, with the first time)."""
    dialect = session.get_bind().dialect.name
    insert_: Any = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}.get(dialect, insert)
    stmt = insert_(UserTopic).values(user_id=user_id, topic=topic, first_seen_at=this_hour())
    if dialect in ("postgresql", "sqlite"):
        await session.execute(stmt.on_conflict_do_nothing())
        return
    if await session.get(UserTopic, (user_id, topic)) is None:
        await session.execute(stmt)


async def drop_optional_data(session: AsyncSession, *, user_id: int) -> None:
    """What was kept only with the person's consent goes: the modules they opened, how far
    they went (``progress``), and the link of their events and quiz answers to them (the
    counts stay, anonymous)."""
    await session.execute(delete(UserTopic).where(UserTopic.user_id == user_id))
    await session.execute(update(User).where(User.id == user_id).values(progress=0))
    for linked in (Event, QuizAnswer):
        await session.execute(update(linked).where(linked.user_id == user_id).values(user_id=None))


async def record_event(
    session: AsyncSession,
    *,
    kind: str,
    name: str | None = None,
    user_id: int | None = None,
    language: str | None = None,
    content_version: str | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    """One analytics event. Events hold names (intents, message keys) and counts, never
    what a person typed; a phone number that reached one all the same is masked."""
    session.add(
        Event(
            kind=kind,
            name=mask_phones(name) if name is not None else None,
            user_id=user_id,
            language=language,
            content_version=content_version,
            data=_masked(data or {}),
        )
    )


@dataclass(frozen=True)
class NewEvent:
    """One analytics event to record (see :func:`record_events`)."""

    kind: str
    name: str | None = None
    user_id: int | None = None
    language: str | None = None
    content_version: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


async def record_events(session: AsyncSession, events: list[NewEvent]) -> None:
    """Several events in one statement (Core, no ORM object): a step's inbound event and
    the messages it served. The same masking as :func:`record_event`."""
    if not events:
        return
    hour = this_hour()
    await session.execute(
        insert(Event),
        [
            {
                "kind": event.kind,
                "name": mask_phones(event.name) if event.name is not None else None,
                "user_id": event.user_id,
                "language": event.language,
                "content_version": event.content_version,
                "data": _masked(event.data),
                "created_at": hour,
            }
            for event in events
        ],
    )


def _masked(value: Any) -> Any:
    """``value`` (JSON: strings, lists, objects) with phone numbers masked in every string."""
    if isinstance(value, str):
        return mask_phones(value)
    if isinstance(value, dict):
        return {key: _masked(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_masked(item) for item in value]
    return value


async def count_events(session: AsyncSession, *, kind: str, name: str | None = None) -> int:
    query = select(func.count()).select_from(Event).where(Event.kind == kind)
    if name is not None:
        query = query.where(Event.name == name)
    return int(await session.scalar(query) or 0)


async def record_content_version(
    session: AsyncSession, *, version: str, published_by: str, summary: dict[str, Any]
) -> bool:
    """Record a version the first time it goes live; False when it was already recorded.
    Replicas starting at once all record the same version: the insert gives way to
    another's (a look first, then an insert, let the second one fail on the key)."""
    dialect = session.get_bind().dialect.name
    insert_: Any = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}.get(dialect)
    if insert_ is None:
        if await session.get(ContentVersion, version) is not None:
            return False
        session.add(ContentVersion(version=version, published_by=published_by, summary=summary))
        await session.flush()
        return True
    inserted = await session.execute(
        insert_(ContentVersion)
        .values(version=version, published_by=published_by, summary=summary)
        .on_conflict_do_nothing(index_elements=["version"])
        .returning(ContentVersion.version)
    )
    return inserted.first() is not None


@dataclass(frozen=True)
class PublishedVersion:
    version: str
    published_at: datetime
    published_by: str
    summary: dict[str, Any]


async def content_versions(session: AsyncSession, *, limit: int = 20) -> list[PublishedVersion]:
    rows = await session.scalars(
        select(ContentVersion).order_by(ContentVersion.published_at.desc()).limit(limit)
    )
    return [to_record(PublishedVersion, r, summary=dict(r.summary)) for r in rows]


async def record_quiz_answer(
    session: AsyncSession,
    *,
    user_id: int | None,
    topic: str,
    question: str,
    answer: int,
    correct: bool,
    language: str | None,
    content_version: str | None,
) -> None:
    session.add(
        QuizAnswer(
            user_id=user_id,
            topic=topic,
            question=question,
            answer=answer,
            correct=correct,
            language=language,
            content_version=content_version,
        )
    )


@dataclass(frozen=True)
class QuizTally:
    answers: int
    correct: int


async def quiz_tally(
    session: AsyncSession, *, topic: str, question: str | None = None
) -> QuizTally:
    """How many answers (all users, anonymous ones included) and how many were right."""
    query = select(func.count(), func.count().filter(QuizAnswer.correct)).where(
        QuizAnswer.topic == topic
    )
    if question is not None:
        query = query.where(QuizAnswer.question == question)
    row = (await session.execute(query)).one()
    return QuizTally(int(row[0]), int(row[1]))


async def media_file_id(session: AsyncSession, *, channel: str, sha256: str) -> str | None:
    row = await session.get(MediaFile, (channel, sha256))
    return row.file_id if row else None


async def remember_media_file(
    session: AsyncSession, *, channel: str, sha256: str, path: str, file_id: str
) -> None:
    """Keep (or replace) the channel's file id for these bytes."""
    row = await session.get(MediaFile, (channel, sha256))
    if row is None:
        session.add(MediaFile(channel=channel, sha256=sha256, path=path, file_id=file_id))
    else:
        row.file_id = file_id
        row.path = path
        row.uploaded_at = utcnow()
    await session.flush()
