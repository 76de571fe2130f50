"""/mydata: what is kept about the person, in their language, and as a JSON file."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from bot.content.catalog import Catalog
from bot.dialogue.engine import Engine
from bot.dialogue.types import Outcome
from bot.store import referrals as referral_repo
from bot.store import repositories as repo
from bot.store.db import Database
from bot.store.models import utcnow
from tests.support.conversation import command, onboard, payloads, press, stored_user

USER = "7070"
OTHER = "8080"


async def _profile(database: Database, user: str, *, reference: str, phone: str) -> None:
    """A consenting person with a place, a profile, a subscription, a module seen and a
    referral, written as the flows would have."""
    stored = await stored_user(database, user)
    async with database.transaction() as s:
        await repo.update_user(
            s,
            user_id=stored.id,
            region="kayes",
            country="mali",
            age_bracket="18-24",
            situation="returnee",
            subscribed=True,
            subscribed_at=utcnow(),
            acquisition_source="kayes_radio",
        )
        await repo.record_topic_seen(s, user_id=stored.id, topic="sea")
        await referral_repo.create_referral(
            s,
            reference=reference,
            user_id=stored.id,
            service_id="iom_mali",
            need="return_help",
            status="sent",
            language="fr",
            first_name="Awa",
            phone=phone,
            location="Kayes",
            description="je veux rentrer",
        )


def _text(outcome: Outcome) -> str:
    return "\n".join(r.text for r in outcome.replies)


async def test_the_summary_names_every_field_in_french(engine: Engine, database: Database) -> None:
    catalog = engine.catalog()
    await onboard(engine, USER)
    await _profile(database, USER, reference="K-AAAA", phone="+22370000001")
    shown = await engine.handle(command(USER, "mydata"))
    assert shown.meta.messages == ["mydata.intro"]
    said = _text(shown)

    def line(key: str, value: str) -> str:
        return catalog.text(key, "fr").text.format(value=value)

    assert line("mydata.language", "Français") in said
    assert line("mydata.place", "Kayes") in said
    assert line("mydata.age", "18-24 ans") in said
    assert line("mydata.situation", catalog.text("subscribe.situation_returnee", "fr").text) in said
    assert line("mydata.topics", catalog.text("topic.sea.title", "fr").text) in said
    assert line("mydata.source", "kayes_radio") in said
    assert "K-AAAA" in said
    assert catalog.text("referral.status.sent", "fr").text in said
    assert f"{datetime.now():%Y}" in said  # the consent's and the referral's dates
    # What was typed into the form is for the file, not the chat.
    assert "+22370000001" not in said and "Awa" not in said
    assert payloads(shown) == ["mydata:file", "action:forget", "action:show_menu"]
    assert "{" not in said


async def test_the_summary_is_in_bambara_for_a_bambara_speaker(
    engine: Engine, database: Database
) -> None:
    catalog = engine.catalog()
    await onboard(engine, USER, lang="bm")
    await _profile(database, USER, reference="K-BBBB", phone="+22370000002")
    shown = await engine.handle(command(USER, "mydata"))
    said = _text(shown)
    assert said.startswith(catalog.text("mydata.intro", "bm").text)
    place = catalog.text("place.kayes", "bm").text
    assert catalog.text("mydata.place", "bm").text.format(value=place) in said
    assert catalog.text("mydata.referrals", "bm").text.format(value=1) in said
    assert catalog.text("referral.status.sent", "bm").text in said
    assert catalog.text("topic.sea.title", "bm").text in said
    assert shown.replies[0].buttons[0].label == catalog.text("mydata.file_button", "bm").text


@pytest.mark.parametrize("lang", ["fr", "bm", "snk", "ff", "ses"])
async def test_every_language_gets_a_whole_summary_and_file(
    engine: Engine, database: Database, lang: str
) -> None:
    catalog: Catalog = engine.catalog()
    await onboard(engine, USER, lang=lang)
    await _profile(database, USER, reference="K-CCCC", phone="+22370000003")
    shown = await engine.handle(command(USER, "mydata"))
    said = _text(shown)
    assert "{" not in said and "mydata." not in said
    assert catalog.languages[lang].name in said
    assert "18-24" in said  # the age bracket, in that language's words around it
    sent = await engine.handle(press(USER, "mydata:file"))
    assert sent.replies[0].document is not None
    assert sent.meta.messages == ["mydata.file_caption"]


async def test_the_file_is_json_with_stable_keys_and_iso_times(
    engine: Engine, database: Database
) -> None:
    await onboard(engine, USER)
    await _profile(database, USER, reference="K-DDDD", phone="+22370000004")
    await onboard(engine, OTHER)
    await _profile(database, OTHER, reference="K-EEEE", phone="+22370000005")

    sent = await engine.handle(press(USER, "mydata:file"))
    document = sent.replies[0].document
    assert document is not None
    assert document.mime == "application/json"
    assert document.filename.startswith("kunnafoni-mydata-") and document.filename.endswith(".json")
    raw = document.content.decode("utf-8")
    data = json.loads(raw)
    assert raw == json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    assert list(data) == sorted(data)
    assert data["format"] == "kunnafoni-mydata/1"
    assert data["account"]["id"] == USER and data["account"]["came_through"] == "kayes_radio"
    assert data["language"] == "fr"
    assert data["consent"]["given"] is True
    assert datetime.fromisoformat(data["consent"]["at"]).utcoffset() is not None
    assert data["place"] == {"region": "kayes", "country": "mali"}
    assert data["profile"] == {"age_bracket": "18-24", "situation": "returnee"}
    assert data["subscription"]["subscribed"] is True
    assert [t["topic"] for t in data["topics_seen"]] == ["sea"]
    datetime.fromisoformat(data["topics_seen"][0]["first_seen_at"])
    (referral,) = data["referrals"]
    assert referral["reference"] == "K-DDDD" and referral["status"] == "sent"
    assert referral["you_gave"]["phone"] == "+22370000004"
    datetime.fromisoformat(referral["created_at"])
    assert data["statistics_linked_to_you"]["events"] > 0
    assert "+22370000004" not in repr(sent.replies[0])  # never printed by accident
    # Never another person's data.
    assert "K-EEEE" not in raw and "+22370000005" not in raw and OTHER not in raw
    # chat --json shows the file's content under "document".
    shown = sent.as_json()["replies"][0]
    assert shown["document"]["content"]["referrals"][0]["reference"] == "K-DDDD"
    assert shown["document"]["filename"] == document.filename
    assert "document" not in (await engine.handle(command(USER, "mydata"))).as_json()["replies"][0]


async def test_a_new_person_is_told_nothing_is_kept(engine: Engine) -> None:
    shown = await engine.handle(command(USER, "mydata"))
    assert shown.meta.messages == ["mydata.nothing"]
    assert "mydata:file" not in payloads(shown)


async def test_without_consent_only_what_is_kept_all_the_same(
    engine: Engine, database: Database
) -> None:
    catalog = engine.catalog()
    await engine.handle(command(USER, "start"))
    await engine.handle(press(USER, "lang:fr"))
    await engine.handle(press(USER, "consent:no"))
    shown = await engine.handle(command(USER, "mydata"))
    assert shown.meta.messages == ["mydata.intro_no_consent"]
    said = _text(shown)
    assert catalog.text("mydata.language", "fr").text.format(value="Français") in said
    for absent in ("mydata.place", "mydata.age", "mydata.situation", "mydata.topics"):
        assert catalog.text(absent, "fr").text.partition("{")[0] not in said, absent
    data = json.loads((await engine.handle(press(USER, "mydata:file"))).replies[0].document.content)  # type: ignore[union-attr]
    assert data["consent"]["given"] is False
    assert data["topics_seen"] == [] and data["referrals"] == []


async def test_the_summary_changes_nothing(engine: Engine, database: Database) -> None:
    await onboard(engine, USER)
    before = await stored_user(database, USER)
    await engine.handle(command(USER, "mydata"))
    await engine.handle(press(USER, "mydata:file"))
    after = await stored_user(database, USER)
    assert (after.consent, after.language, after.subscribed) == (
        before.consent,
        before.language,
        before.subscribed,
    )


async def test_a_forged_mydata_payload_is_refused(engine: Engine) -> None:
    await onboard(engine, USER)
    refused = await engine.handle(press(USER, "mydata:everyone"))
    assert refused.meta.messages[0] == "fallback.stale_button"
