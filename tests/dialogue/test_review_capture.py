"""Capture for the NLU review queue: only unclear texts of people who consented, masked,
linked to nobody, never a form's answer nor a crisis; erased with the person."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.content.store import ContentStore
from bot.dialogue.decision import Thresholds
from bot.dialogue.engine import Engine
from bot.nlu.service import NluService
from bot.nlu.types import Entity, NluResult, NluSource
from bot.store.db import Database
from bot.store.models import Conversation, NluReviewItem
from bot.store.review import REVIEW_KEY
from tests.support.conversation import command, onboard, press, stored_user, text
from tests.support.nlu import StubParser
from tests.support.referrals import SERVICE, enable_referrals


@pytest.fixture
def reviewing(content_copy: Path, database: Database, stub_parser: StubParser) -> Engine:
    partners = enable_referrals(content_copy)
    store = ContentStore(content_copy)
    return Engine(
        database=database,
        content=store.current,
        nlu=NluService(stub_parser, store.matcher),
        thresholds=Thresholds(),
        partners=partners,
        review=True,
    )


async def queued(database: Database, user: str) -> list[NluReviewItem]:
    """The queued rows of ``user`` (by the key in their conversation: only this test's)."""
    record = await stored_user(database, user)
    async with database.reading() as session:
        data = await session.scalar(
            select(Conversation.data).where(Conversation.user_id == record.id)
        )
        key = (data or {}).get(REVIEW_KEY)
        if key is None:
            return []
        rows = await session.scalars(
            select(NluReviewItem).where(NluReviewItem.person_key == key).order_by(NluReviewItem.id)
        )
        return list(rows)


async def test_an_unclear_text_is_queued_masked_and_linked_to_nobody(
    reviewing: Engine, database: Database
) -> None:
    await onboard(reviewing, "rv1")
    await reviewing.handle(text("rv1", "je m'appelle Moussa Traoré, appelle au 76 12 34 56 stp"))
    (item,) = await queued(database, "rv1")
    assert item.text == "je m'appelle [name], appelle au [phone] stp"
    assert item.reason == "clarify"  # the stub's out_of_scope at 0.2: the menu, asked again
    assert item.intent == "out_of_scope" and item.confidence == pytest.approx(0.2)
    columns = {c.name for c in NluReviewItem.__table__.columns}
    assert not {"user_id", "external_id", "chat_id"} & columns
    # A random token, not derived from the person: another text keeps it, someone else
    # gets another.
    assert len(item.person_key) == 32 and int(item.person_key, 16) >= 0
    await reviewing.handle(text("rv1", "c koi ce truc bizarre"))
    await onboard(reviewing, "rv1b")
    await reviewing.handle(text("rv1b", "c koi ce truc bizarre"))
    first, second = await queued(database, "rv1")
    (other,) = await queued(database, "rv1b")
    assert first.person_key == second.person_key != other.person_key


async def test_nothing_is_queued_without_consent(reviewing: Engine, database: Database) -> None:
    await reviewing.handle(command("rv2", "start"))
    await reviewing.handle(press("rv2", "lang:fr"))
    await reviewing.handle(press("rv2", "consent:no"))
    await reviewing.handle(text("rv2", "c koi ce truc bizarre"))
    assert await queued(database, "rv2") == []


async def test_nothing_is_queued_when_capture_is_off(engine: Engine, database: Database) -> None:
    await onboard(engine, "rv3")
    await engine.handle(text("rv3", "c koi ce truc bizarre"))
    assert await queued(database, "rv3") == []


async def test_a_text_understood_surely_is_not_queued_a_low_confidence_one_is(
    reviewing: Engine, database: Database, stub_parser: StubParser
) -> None:
    stub_parser.table["comment aller en Espagne par la mer"] = ("risks_sea", 0.93)
    stub_parser.table["la mer la bas cest comment"] = NluResult(
        text="la mer la bas cest comment",
        intent="risks_sea",
        confidence=0.45,
        source=NluSource.RASA,
        ranking=(("risks_sea", 0.45), ("life_abroad", 0.3), ("risks_libya", 0.2)),
    )
    await onboard(reviewing, "rv4")
    await reviewing.handle(text("rv4", "comment aller en Espagne par la mer"))
    assert await queued(database, "rv4") == []
    await reviewing.handle(text("rv4", "la mer la bas cest comment"))
    (item,) = await queued(database, "rv4")
    assert item.reason == "clarify" and item.intent == "risks_sea"


async def test_rasa_abstaining_keeps_its_best_real_intent_and_shifted_entities(
    reviewing: Engine, database: Database, stub_parser: StubParser
) -> None:
    said = "mon frere Issa est en Libi"
    stub_parser.table[said] = NluResult(
        text=said,
        intent="nlu_fallback",
        confidence=0.38,
        source=NluSource.RASA,
        ranking=(("nlu_fallback", 0.4), ("missing_person", 0.38), ("risks_libya", 0.35)),
        entities=(Entity("country", "libya", 22, 26),),
    )
    await onboard(reviewing, "rv5")
    await reviewing.handle(text("rv5", said))
    (item,) = await queued(database, "rv5")
    assert item.text == "mon frere [name] est en Libi"
    assert item.intent == "missing_person" and item.confidence == pytest.approx(0.38)
    (entity,) = item.entities
    assert item.text[entity["start"] : entity["end"]] == "Libi"


async def test_a_crisis_is_never_queued_however_unsure(
    reviewing: Engine, database: Database, stub_parser: StubParser
) -> None:
    said = "jsuis pas bien du tout ce soir"
    stub_parser.table[said] = NluResult(
        text=said,
        intent="psychosocial",
        confidence=0.3,
        source=NluSource.RASA,
        ranking=(("psychosocial", 0.3), ("self_harm", 0.28)),
    )
    await onboard(reviewing, "rv6")
    outcome = await reviewing.handle(text("rv6", said))
    assert outcome.meta.intent == "self_harm"  # put first from lower in the ranking
    assert await queued(database, "rv6") == []


async def test_a_number_typed_for_a_button_is_not_queued(
    reviewing: Engine, database: Database
) -> None:
    await onboard(reviewing, "rv7")
    await reviewing.handle(text("rv7", "1"))
    await reviewing.handle(text("rv7", "ok"))
    assert await queued(database, "rv7") == []


async def test_the_forms_answers_are_never_queued(
    reviewing: Engine, database: Database, stub_parser: StubParser
) -> None:
    await onboard(reviewing, "rv8")
    await reviewing.handle(press("rv8", "intent:return_help"))
    await reviewing.handle(press("rv8", "where:skip"))
    await reviewing.handle(press("rv8", f"refer:{SERVICE}:return_help"))
    await reviewing.handle(press("rv8", "ref:yes"))
    stub_parser.calls.clear()
    for answer in ("Awa Bagayoko", "76 12 34 56", "Kati vers le marche", "je suis bloque"):
        await reviewing.handle(text("rv8", answer))
    assert stub_parser.calls == []
    assert await queued(database, "rv8") == []


async def test_forget_and_a_withdrawn_consent_take_the_texts_out_of_the_queue(
    reviewing: Engine, database: Database
) -> None:
    await onboard(reviewing, "rv9")
    await reviewing.handle(text("rv9", "c koi ce truc bizarre"))
    await onboard(reviewing, "rv10")
    await reviewing.handle(text("rv10", "c koi ce machin bizarre"))
    assert len(await queued(database, "rv9")) == 1
    async with database.reading() as session:
        key = (
            await session.scalar(
                select(Conversation.data).where(
                    Conversation.user_id == (await stored_user(database, "rv9")).id
                )
            )
        )[REVIEW_KEY]

    await reviewing.handle(command("rv9", "forget"))
    await reviewing.handle(press("rv9", "forget:yes"))
    async with database.reading() as session:
        left = await session.scalars(
            select(NluReviewItem.id).where(NluReviewItem.person_key == key)
        )
        assert list(left) == []

    await reviewing.handle(command("rv10", "privacy"))
    await reviewing.handle(press("rv10", "privacy:withdraw"))
    await reviewing.handle(press("rv10", "privacy:withdraw_yes"))
    assert await queued(database, "rv10") == []
    # Without consent now, nothing more is queued.
    await reviewing.handle(text("rv10", "c koi ce machin bizarre"))
    assert await queued(database, "rv10") == []


async def test_mydata_lists_the_person_s_queued_texts_masked_in_summary_and_file(
    reviewing: Engine, database: Database
) -> None:
    await onboard(reviewing, "rv20")
    await reviewing.handle(text("rv20", "je m'appelle Moussa Traoré, appelle au 76 12 34 56 stp"))
    await reviewing.handle(text("rv20", "c koi ce truc bizarre"))
    await onboard(reviewing, "rv21")
    await reviewing.handle(text("rv21", "un autre truc bizarre de quelqu'un d'autre"))
    assert len(await queued(database, "rv20")) == 2

    shown = await reviewing.handle(command("rv20", "mydata"))
    said = "\n".join(r.text for r in shown.replies)
    assert "📝 Messages que je n'ai pas compris" in said and ": 2" in said
    assert "« je m'appelle [name], appelle au [phone] stp »" in said
    assert "« c koi ce truc bizarre »" in said
    assert "Moussa" not in said and "76 12 34 56" not in said
    assert "quelqu'un d'autre" not in said

    sent = await reviewing.handle(press("rv20", "mydata:file"))
    document = sent.replies[0].document
    assert document is not None
    data = json.loads(document.content)
    texts = [m["text"] for m in data["messages_not_understood"]]
    assert texts == ["je m'appelle [name], appelle au [phone] stp", "c koi ce truc bizarre"]
    assert all(m["kept_since"].endswith("+00:00") for m in data["messages_not_understood"])
    assert "quelqu'un d'autre" not in document.content.decode("utf-8")


async def test_mydata_shows_the_queued_texts_label_in_bambara(
    reviewing: Engine, database: Database
) -> None:
    await onboard(reviewing, "rv22", lang="bm")
    await reviewing.handle(text("rv22", "c koi ce truc bizarre"))
    assert len(await queued(database, "rv22")) == 1
    shown = await reviewing.handle(command("rv22", "mydata"))
    said = "\n".join(r.text for r in shown.replies)
    assert "📝 N ma i ka cikan minnu faamu" in said and "« c koi ce truc bizarre »" in said


async def test_mydata_after_forget_lists_no_queued_text(
    reviewing: Engine, database: Database
) -> None:
    await onboard(reviewing, "rv23")
    await reviewing.handle(text("rv23", "c koi ce truc bizarre"))
    await reviewing.handle(command("rv23", "privacy"))
    await reviewing.handle(press("rv23", "privacy:withdraw"))
    await reviewing.handle(press("rv23", "privacy:withdraw_yes"))
    shown = await reviewing.handle(command("rv23", "mydata"))
    said = "\n".join(r.text for r in shown.replies)
    assert "📝" not in said and "truc bizarre" not in said
