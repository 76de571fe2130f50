"""Button payloads: one module makes and reads them; the strings never change."""

from __future__ import annotations

import pytest

from bot.content.catalog import Catalog, payload_for
from bot.content.models import Action
from bot.dialogue import payloads as p
from bot.dialogue.engine import Engine
from tests.support.conversation import USER, onboard, payloads, press

#: Each kind, and the exact string Telegram stores on messages already sent.
MADE = [
    (p.Lang("bm"), "lang:bm"),
    (p.Consent(True), "consent:yes"),
    (p.Consent(False), "consent:no"),
    (p.Subscribe(True), "sub:yes"),
    (p.Subscribe(False), "sub:no"),
    (p.Age("15-17"), "age:15-17"),
    (p.Age("35+"), "age:35+"),
    (p.Age("skip"), "age:skip"),
    (p.Situation("returnee"), "sit:returnee"),
    (p.Situation("skip"), "sit:skip"),
    (p.OpenTopic("sahara"), "topic:sahara"),
    (p.Card("sahara", 2), "card:sahara:2"),
    (p.QuizStart("sahara"), "quiz:sahara"),
    (p.QuizQuestion("sahara", "q1"), "quiz:sahara:q1"),
    (p.QuizAnswer("sahara", "q1", 0), "quiz:sahara:q1:0"),
    (p.Where("ml"), "where:ml"),
    (p.Where("abroad"), "where:abroad"),
    (p.Where("skip"), "where:skip"),
    (p.WherePlace(region="kayes"), "where:r:kayes"),
    (p.WherePlace(country="algeria"), "where:c:algeria"),
    (p.Refer("iom_mali", "return_help"), "refer:iom_mali:return_help"),
    (p.FormPress("send"), "ref:send"),
    (p.Human(True), "human:yes"),
    (p.Human(False), "human:no"),
    (p.Intent("ask_human"), "intent:ask_human"),
    (p.Do(Action.SHOW_MENU), "action:show_menu"),
    (p.Do(Action.UNSUBSCRIBE), "action:unsubscribe"),
    (p.MyData("show"), "mydata:show"),
    (p.MyData("file"), "mydata:file"),
]

#: Payloads the bot never made: refused by the parser itself.
NOT_MADE = [
    "",
    "pref:12:received",  # a partner's button: never valid in a user's conversation
    "garbage",
    "nokind:value",
    "consent:maybe",
    "sub:",
    "human:yes:no",
    "card:sahara",
    "card:sahara:x",
    "quiz:sahara:q1:x",
    "quiz:sahara:q1:0:1",
    # Digits the bot never writes: isdigit() accepts them, int() refuses some.
    "quiz:sahara:q1:\u00b2",
    "quiz:sahara:q1:\u0663",
    "card:sahara:\u00b9",
    "card:sahara:\uff11",
    "quiz:sahara:q1:" + "9" * 40,
    "where:zz",
    "where:ml:x",
    "action:fly",
    "mydata:",
    "mydata:someone_else",
]


@pytest.mark.parametrize(("payload", "string"), MADE)
def test_each_kind_packs_to_the_string_already_in_use(payload: p.Payload, string: str) -> None:
    assert payload.pack() == string
    assert p.parse(string) == payload


@pytest.mark.parametrize("string", NOT_MADE)
def test_a_payload_the_bot_did_not_make_is_refused(string: str) -> None:
    assert p.parse(string) is None


def test_partner_buttons_are_made_and_read_here_too() -> None:
    assert p.PartnerMove(12, "received").pack() == "pref:12:received"
    assert p.parse_partner("pref:12:in_progress") == p.PartnerMove(12, "in_progress")
    for stranger in (
        "pref:x:received",
        "pref:12",
        "lang:fr",
        "pref:1:2:3",
        "pref:\u00b2:received",
        "pref:\u0661\u0662:received",
    ):
        assert p.parse_partner(stranger) is None


def test_content_buttons_keep_their_payloads(catalog: Catalog) -> None:
    specs = [
        *catalog.menu.items,
        *(b for t in catalog.topics.values() for c in t.cards for b in c.buttons),
        *(b for i in catalog.intents.values() for b in i.buttons),
    ]
    assert specs
    for spec in specs:
        assert p.for_target(spec).pack() == payload_for(spec)
        assert p.parse(payload_for(spec)) == p.for_target(spec)


async def test_every_button_the_engine_sends_parses(engine: Engine, catalog: Catalog) -> None:
    seen = payloads(await onboard(engine))
    for topic in catalog.topics.values():
        seen += payloads(await engine.handle(press(USER, p.OpenTopic(topic.id).pack())))
    seen += payloads(await engine.handle(press(USER, "intent:return_help")))
    seen += payloads(await engine.handle(press(USER, "where:ml")))
    assert len(seen) > 20
    for string in seen:
        parsed = p.parse(string)
        assert parsed is not None and parsed.pack() == string


@pytest.mark.parametrize("string", [*NOT_MADE, "lang:xx", "topic:unknown", "where:r:atlantis"])
async def test_refused_payloads_get_the_stale_answer_and_the_menu(
    engine: Engine, catalog: Catalog, string: str
) -> None:
    menu = payloads(await onboard(engine))
    outcome = await engine.handle(press(USER, string))
    assert [r.text for r in outcome.replies] == [catalog.text("fallback.stale_button", "fr").text]
    assert payloads(outcome) == menu
