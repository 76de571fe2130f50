"""The consent ledger through the engine: every consent event with the hash of the exact
text shown, asked again when the text changes (never before an emergency is answered),
a "no" that keeps nothing optional, /privacy and its withdrawal, and deep links counted
without the person before they consent. On SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.content.store import ContentStore
from bot.dialogue.decision import Thresholds
from bot.dialogue.engine import Engine
from bot.nlu.service import NluService
from bot.store import consent as ledger
from bot.store import repositories as repo
from bot.store.db import Database
from bot.store.models import ConsentEvent, Event, QuizAnswer, UserTopic
from tests.support.conversation import command, onboard, payloads, press, stored_user, text
from tests.support.nlu import StubParser

USER = "5150"
#: A change of wording in the French consent text, as a campaign manager would publish it.
EDIT = ("Avant de commencer :", "Avant de commencer (texte mis à jour) :")


def sha(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


@pytest.fixture
def content(content_copy: Path) -> ContentStore:
    return ContentStore(content_copy)


@pytest.fixture
def bot(content: ContentStore, database: Database, stub_parser: StubParser) -> Engine:
    """The engine on a private copy of the content, so that a test can publish a change."""
    return Engine(
        database=database,
        content=content.current,
        nlu=NluService(stub_parser, content.matcher),
        thresholds=Thresholds(),
    )


def publish_new_consent_text(content: ContentStore, content_copy: Path) -> None:
    fr = content_copy / "messages" / "fr.yml"
    before = fr.read_text(encoding="utf-8")
    assert before.count(EDIT[0]) == 1
    fr.write_text(before.replace(*EDIT), encoding="utf-8")
    assert content.reload()


async def ledger_of(database: Database, user: str = USER) -> list[tuple[str, str, str]]:
    async with database.transaction() as session:
        record = await repo.get_user(session, channel="console", external_id=user)
        assert record is not None
        events = await ledger.consent_events(session, user_id=record.id)
    return [(e.kind, e.language, e.text_hash) for e in events]


async def rows_of(database: Database, user_id: int) -> dict[str, int]:
    """How many topics, events and quiz answers are still linked to ``user_id``."""
    async with database.transaction() as session:
        return {
            model.__tablename__: int(
                await session.scalar(
                    select(func.count()).select_from(model).where(model.user_id == user_id)
                )
                or 0
            )
            for model in (UserTopic, Event, QuizAnswer)
        }


async def test_each_consent_event_is_in_the_ledger_with_the_hash_of_the_text_shown(
    bot: Engine, database: Database
) -> None:
    catalog = bot.catalog()
    await bot.handle(command(USER, "start"))
    asked = await bot.handle(press(USER, "lang:bm"))
    shown = asked.replies[-1].text
    assert shown == catalog.text("onboarding.consent", "bm").text
    await bot.handle(press(USER, "consent:yes"))
    assert await ledger_of(database) == [("asked", "bm", sha(shown)), ("given", "bm", sha(shown))]
    # The French text has another hash: the ledger tells which text was agreed to.
    assert sha(catalog.text("onboarding.consent", "fr").text) != sha(shown)


async def test_a_new_consent_text_is_asked_again_after_the_answer_then_not_again(
    bot: Engine, content: ContentStore, content_copy: Path, database: Database
) -> None:
    await onboard(bot, USER)
    old = sha(bot.catalog().text("onboarding.consent", "fr").text)
    quiet = await bot.handle(press(USER, "action:show_menu"))
    assert "onboarding.consent" not in quiet.meta.messages

    publish_new_consent_text(content, content_copy)
    new_text = bot.catalog().text("onboarding.consent", "fr").text
    assert EDIT[1] in new_text
    asked = await bot.handle(press(USER, "topic:sahara"))
    # The answer to the message first, then the change said and the question, on its own.
    assert asked.meta.messages[0].startswith("topic.sahara")
    assert asked.meta.messages[-2:] == ["privacy.consent_changed", "onboarding.consent"]
    assert asked.replies[-1].text == new_text
    assert payloads(asked)[-2:] == ["consent:yes", "consent:no"]
    assert asked.meta.state == "topic"  # the module goes on where it was

    # Not answered: not asked at every message.
    later = await bot.handle(press(USER, "action:show_menu"))
    assert "onboarding.consent" not in later.meta.messages

    given = await bot.handle(press(USER, "consent:yes"))
    assert given.meta.messages[0] == "onboarding.consent_thanks"
    assert "subscribe.ask" not in given.meta.messages  # answered at onboarding already
    assert await ledger_of(database) == [
        ("asked", "fr", old),
        ("given", "fr", old),
        ("asked", "fr", sha(new_text)),
        ("given", "fr", sha(new_text)),
    ]
    calm = await bot.handle(press(USER, "topic:sea"))
    assert "onboarding.consent" not in calm.meta.messages


async def test_an_emergency_is_answered_without_the_new_consent_question(
    bot: Engine,
    content: ContentStore,
    content_copy: Path,
    database: Database,
    stub_parser: StubParser,
) -> None:
    await onboard(bot, USER)
    publish_new_consent_text(content, content_copy)
    stub_parser.table["on nous frappe aidez nous"] = ("emergency", 0.97)
    urgent = await bot.handle(text(USER, "on nous frappe aidez nous"))
    assert urgent.meta.intent == "emergency"
    assert "onboarding.consent" not in urgent.meta.messages
    # The button of the emergency's services, then calmer moments: still not while the
    # emergency is going on (the same emergency lasts a few hours).
    menu = await bot.handle(press(USER, "action:show_menu"))
    assert "onboarding.consent" not in menu.meta.messages
    kinds = [kind for kind, _, _ in await ledger_of(database)]
    assert kinds == ["asked", "given"]


async def test_someone_who_consented_before_the_ledger_is_asked_at_their_next_message(
    bot: Engine, database: Database
) -> None:
    await onboard(bot, USER)
    async with database.transaction() as session:
        await session.execute(ConsentEvent.__table__.delete())
    answer = await bot.handle(press(USER, "topic:sahara"))
    assert answer.meta.messages[-1] == "onboarding.consent"
    assert [kind for kind, _, _ in await ledger_of(database)] == ["asked"]


async def test_saying_no_keeps_nothing_optional(
    bot: Engine, database: Database, stub_parser: StubParser
) -> None:
    catalog = bot.catalog()
    await bot.handle(command(USER, "start", "radio_kayes"))
    await bot.handle(press(USER, "lang:fr"))
    await bot.handle(press(USER, "consent:yes"))
    await bot.handle(press(USER, "sub:yes"))
    await bot.handle(press(USER, "age:18-24"))
    await bot.handle(press(USER, "sit:returnee"))
    stub_parser.table["je suis a Kayes"] = ("inform_location", 0.9)
    await bot.handle(text(USER, "je suis a Kayes"))
    await bot.handle(press(USER, "topic:sahara"))
    question = catalog.topics["sahara"].quiz[0]
    await bot.handle(press(USER, f"quiz:sahara:{question.id}:0"))
    before = await stored_user(database, USER)
    assert (before.acquisition_source, before.age_bracket, before.situation) == (
        "radio_kayes",
        "18-24",
        "returnee",
    )
    assert before.region == "kayes"
    linked = await rows_of(database, before.id)
    assert linked["user_topics"] == 1 and linked["events"] > 0 and linked["quiz_answers"] == 1

    # The consent button is still in the chat: "no" now.
    declined = await bot.handle(press(USER, "consent:no"))
    assert declined.meta.messages[0] == "onboarding.consent_declined"

    after = await stored_user(database, USER)
    assert (after.region, after.country, after.age_bracket, after.situation) == (None,) * 4
    assert after.acquisition_source is None and after.consent is False
    assert after.language == "fr" and after.subscribed is True  # asked for, kept (/stop)
    assert await rows_of(database, after.id) == {"user_topics": 0, "events": 0, "quiz_answers": 0}
    assert [kind for kind, _, _ in await ledger_of(database)][-1] == "refused"
    # Nothing new is linked or kept afterwards either.
    await bot.handle(press(USER, "topic:sea"))
    assert await rows_of(database, after.id) == {"user_topics": 0, "events": 0, "quiz_answers": 0}


async def test_a_deep_link_is_counted_before_consent_and_kept_only_after(
    bot: Engine, database: Database
) -> None:
    await bot.handle(command(USER, "start", "radio_kayes"))
    await bot.handle(command("other", "start", "radio_kayes"))
    async with database.transaction() as session:
        assert await ledger.acquisition_counts(session) == {"radio_kayes": 2}
        waiting = await repo.load_conversation(
            session, user_id=(await stored_user(database, USER)).id
        )
    assert (await stored_user(database, USER)).acquisition_source is None
    assert waiting is not None and waiting.data["pending_source"] == "radio_kayes"

    await bot.handle(press(USER, "lang:fr"))
    await bot.handle(press(USER, "consent:yes"))
    assert (await stored_user(database, USER)).acquisition_source == "radio_kayes"

    await bot.handle(press("other", "lang:fr"))
    await bot.handle(press("other", "consent:no"))
    declined = await stored_user(database, "other")
    assert declined.acquisition_source is None
    async with database.transaction() as session:
        memory = await repo.load_conversation(session, user_id=declined.id)
        assert await ledger.acquisition_counts(session) == {"radio_kayes": 2}
    assert memory is not None and "pending_source" not in memory.data


async def test_privacy_shows_what_is_kept_and_withdrawing_clears_it_at_once(
    bot: Engine, database: Database
) -> None:
    catalog = bot.catalog()
    await bot.handle(command(USER, "start", "radio_kayes"))
    await bot.handle(press(USER, "lang:bm"))
    await bot.handle(press(USER, "consent:yes"))
    await bot.handle(press(USER, "sub:yes"))
    await bot.handle(press(USER, "age:25-34"))
    await bot.handle(press(USER, "topic:libya"))
    given_hash = (await ledger_of(database))[-1][2]

    screen = await bot.handle(command(USER, "privacy"))
    assert screen.meta.messages == ["privacy.kept_consent"]
    assert screen.replies[0].text == catalog.text("privacy.kept_consent", "bm").text
    assert payloads(screen) == [
        "action:change_language",
        "mydata:show",
        "privacy:withdraw",
        "action:forget",
        "action:show_menu",
    ]
    # The menu's entry opens the same screen.
    from_menu = await bot.handle(press(USER, "action:privacy"))
    assert from_menu.replies[0].text == screen.replies[0].text
    assert payloads(from_menu) == payloads(screen)

    explained = await bot.handle(press(USER, "privacy:withdraw"))
    assert explained.meta.messages == ["privacy.withdraw_explain"]
    assert payloads(explained) == ["privacy:withdraw_yes", "privacy:keep"]
    assert (await stored_user(database, USER)).consent is True  # nothing before "yes"

    done = await bot.handle(press(USER, "privacy:withdraw_yes"))
    assert done.replies[0].text == catalog.text("privacy.withdrawn", "bm").text
    user = await stored_user(database, USER)
    assert user.consent is False and user.language == "bm"
    assert (user.age_bracket, user.acquisition_source) == (None, None)
    assert await rows_of(database, user.id) == {"user_topics": 0, "events": 0, "quiz_answers": 0}
    assert (await ledger_of(database))[-1] == ("withdrawn", "bm", given_hash)

    # Without consent: the shorter list, and the consent question to read again.
    again = await bot.handle(command(USER, "privacy"))
    assert again.meta.messages == ["privacy.kept_no_consent"]
    assert "privacy:consent" in payloads(again) and "privacy:withdraw" not in payloads(again)
    refused = await bot.handle(press(USER, "privacy:withdraw_yes"))  # an old button
    assert refused.meta.messages == ["privacy.kept_no_consent"]
    asked = await bot.handle(press(USER, "privacy:consent"))
    assert asked.meta.messages == ["onboarding.consent"]
    back = await bot.handle(press(USER, "consent:yes"))
    assert back.meta.messages[-1] == "menu.title"
    assert (await stored_user(database, USER)).consent is True
    assert [kind for kind, _, _ in await ledger_of(database)][-2:] == ["asked", "given"]


async def test_keeping_consent_changes_nothing(bot: Engine, database: Database) -> None:
    await onboard(bot, USER)
    await bot.handle(press(USER, "privacy:withdraw"))
    kept = await bot.handle(press(USER, "privacy:keep"))
    assert kept.meta.messages == ["privacy.kept"]
    assert (await stored_user(database, USER)).consent is True
    assert [kind for kind, _, _ in await ledger_of(database)] == ["asked", "given"]


async def test_a_forged_privacy_payload_is_refused(bot: Engine, database: Database) -> None:
    await onboard(bot, USER)
    refused = await bot.handle(press(USER, "privacy:withdraw_everything"))
    assert "privacy.withdrawn" not in refused.meta.messages
    assert (await stored_user(database, USER)).consent is True


async def test_erasure_takes_the_ledger_with_it(bot: Engine, database: Database) -> None:
    await onboard(bot, USER)
    await bot.handle(command(USER, "forget"))
    await bot.handle(press(USER, "forget:yes"))
    async with database.transaction() as session:
        left = await session.scalar(select(func.count()).select_from(ConsentEvent))
    assert left == 0


def test_privacy_is_a_command_of_the_menu_and_of_help() -> None:
    from bot.dialogue.engine import COMMANDS

    assert "privacy" in COMMANDS and "forget" in COMMANDS


async def test_the_privacy_answer_opens_the_privacy_screen(
    bot: Engine, stub_parser: StubParser
) -> None:
    await onboard(bot, USER)
    stub_parser.table["qui lit ce que j ecris"] = ("privacy_question", 0.95)
    answer = await bot.handle(text(USER, "qui lit ce que j ecris"))
    assert payloads(answer)[:2] == ["action:privacy", "action:forget"]
    screen = await bot.handle(press(USER, "action:privacy"))
    assert screen.meta.messages == ["privacy.kept_consent"]


#: The sentence on the messages the bot did not understand, added to the consent texts when
#: the NLU review queue was turned on, per language.
REVIEW_SENTENCE = {
    "fr": "Les messages que je ne comprends pas, sans noms ni numéros, sont gardés 30 jours",
    "bm": "N ma i ka cikan minnu faamu, an b'olu mara tile 30 dɔrɔn",
}


@pytest.mark.parametrize("lang", ["fr", "bm"])
async def test_who_agreed_before_the_review_queue_sentence_is_asked_again(
    bot: Engine, content: ContentStore, content_copy: Path, database: Database, lang: str
) -> None:
    user = f"{USER}{lang}"
    path = content_copy / "messages" / f"{lang}.yml"
    published = path.read_text(encoding="utf-8")
    current = bot.catalog().text("onboarding.consent", lang).text
    start = current.index(REVIEW_SENTENCE[lang])
    end = current.index(". ", start) + 2
    sentence = current[start:end]
    assert published.count(sentence) == 1  # only in the consent text
    # The text as it was before: the same without the sentence.
    path.write_text(published.replace(sentence, ""), encoding="utf-8")
    assert content.reload()
    before = bot.catalog().text("onboarding.consent", lang).text
    assert REVIEW_SENTENCE[lang] not in before
    await onboard(bot, user, lang=lang)

    path.write_text(published, encoding="utf-8")
    assert content.reload()
    asked = await bot.handle(press(user, "action:show_menu"))
    assert asked.meta.messages[-2:] == ["privacy.consent_changed", "onboarding.consent"]
    assert asked.replies[-1].text == current and REVIEW_SENTENCE[lang] in current
    await bot.handle(press(user, "consent:yes"))
    assert await ledger_of(database, user) == [
        ("asked", lang, sha(before)),
        ("given", lang, sha(before)),
        ("asked", lang, sha(current)),
        ("given", lang, sha(current)),
    ]
