"""The content loader, its checks, and the fallback chains, over real and broken trees."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main
from bot.content.catalog import REQUIRED_KEYS, Catalog
from bot.content.loader import ContentError, Problem, check_content, load_catalog
from bot.content.store import ContentStore
from tests.support.environment import CONTENT_DIR
from tests.support.files import edit, line_of


def test_real_content_is_valid() -> None:
    assert check_content(CONTENT_DIR) == []


def test_real_content_has_every_required_key_in_french_and_bambara(catalog: Catalog) -> None:
    for key in REQUIRED_KEYS:
        assert key in catalog.messages["fr"], key
        assert key in catalog.messages["bm"], key


def test_no_french_key_lacks_a_bambara_text(catalog: Catalog) -> None:
    missing = sorted(set(catalog.messages["fr"]) - set(catalog.messages["bm"]))
    assert missing == []


def test_every_text_with_a_figure_or_phone_has_a_source(catalog: Catalog) -> None:
    import re

    for language, messages in catalog.messages.items():
        for key, entry in messages.items():
            if re.search(r"\d{2}", entry.text):
                assert entry.source and entry.verified_on, f"{language}:{key} has no source"


def test_fallback_chain_serves_french_when_bambara_is_missing(tree: Path) -> None:
    bm = tree / "messages" / "bm.yml"
    lines = bm.read_text(encoding="utf-8").splitlines(keepends=True)
    start = line_of(bm, "  help.text:") - 1
    end = start + 1
    while end < len(lines) and lines[end].startswith("    "):
        end += 1  # the entry's continuation lines
    bm.write_text("".join(lines[:start] + lines[end:]), encoding="utf-8")
    catalog = load_catalog(tree)
    text = catalog.text("help.text", "bm")
    assert text.language == "fr" and text.fell_back
    assert text.text == catalog.messages["fr"]["help.text"].text
    assert catalog.misses[("bm", "help.text")] == 1
    assert catalog.chain("bm") == ["bm", "fr"]
    assert catalog.chain("xx") == ["fr"]


def problems_of(tree: Path) -> list[str]:
    with pytest.raises(ContentError) as caught:
        load_catalog(tree)
    return [str(p) for p in caught.value.problems]


def test_unknown_key_is_reported_with_file_and_line(tree: Path) -> None:
    menu = tree / "menu.yml"
    edit(menu, "items:", "colour: red\nitems:")
    assert f"{menu}:{line_of(menu, 'colour')}: unknown key 'colour'" in problems_of(tree)


def test_dangling_topic_reference(tree: Path) -> None:
    menu = tree / "menu.yml"
    edit(menu, "topic: sahara", "topic: atlantis")
    line = line_of(menu, "atlantis")
    assert f"{menu}:{line}: bad button: unknown topic 'atlantis'" in problems_of(tree)


def test_missing_french_text(tree: Path) -> None:
    intents = tree / "intents.yml"
    edit(intents, "reply: intent.greet", "reply: intent.greet_nowhere")
    line = line_of(intents, "intent.greet_nowhere")
    assert f"{intents}:{line}: message 'intent.greet_nowhere' has no fr text" in problems_of(tree)


def test_translation_of_an_unknown_key(tree: Path) -> None:
    bm = tree / "messages" / "bm.yml"
    edit(bm, "messages:\n", "messages:\n  ghost.key: i ni ce\n")
    line = line_of(bm, "ghost.key")
    assert f"{bm}:{line}: unknown key 'ghost.key': it has no text in fr.yml" in problems_of(tree)


def test_bad_button_without_target_and_with_unknown_action(tree: Path) -> None:
    menu = tree / "menu.yml"
    edit(menu, "action: privacy", "action: fly_away")
    found = problems_of(tree)
    line = line_of(menu, "fly_away")
    assert any(p.startswith(f"{menu}:{line}: ") and "action" in p for p in found), found


def test_yaml_syntax_error_has_a_line(tree: Path) -> None:
    fr = tree / "messages" / "fr.yml"
    fr.write_text(fr.read_text(encoding="utf-8") + "  broken: [unclosed\n", encoding="utf-8")
    found = problems_of(tree)
    assert any(p.startswith(f"{fr}:") and "YAML syntax" in p for p in found), found


def test_problems_are_sorted_and_printable() -> None:
    problem = Problem("content/menu.yml", 3, "unknown key 'x'")
    assert str(problem) == "content/menu.yml:3: unknown key 'x'"


def test_cli_content_check_exit_codes(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["content", "check", str(tree)]) == 0
    edit(tree / "menu.yml", "topic: sahara", "topic: atlantis")
    assert main(["content", "check", str(tree)]) == 1
    out = capsys.readouterr().out
    assert "menu.yml:" in out and "unknown topic 'atlantis'" in out


def test_store_keeps_serving_when_a_change_is_invalid(tree: Path) -> None:
    store = ContentStore(tree)
    before = store.current()
    edit(tree / "menu.yml", "topic: sahara", "topic: atlantis")
    assert store.reload() is False
    assert store.current() is before
    edit(tree / "menu.yml", "topic: atlantis", "topic: sahara")
    edit(tree / "messages" / "fr.yml", "messages:\n", "messages:\n  extra.note: Bonjour\n")
    assert store.reload() is True
    assert store.current().version != before.version


# --- issue: the campaign content --------------------------------------------------------------


def test_every_topic_and_intent_is_reachable(catalog: Catalog) -> None:
    """From the menu, a card button or the intents map; nothing written is unreachable."""
    targets = list(catalog.menu.items)
    for topic in catalog.topics.values():
        for card in topic.cards:
            targets += card.buttons
    for spec in catalog.intents.values():
        targets += spec.buttons
    topics = {t.topic for t in targets if t.topic} | {
        spec.topic for spec in catalog.intents.values() if spec.topic
    }
    assert set(catalog.topics) <= topics
    menu_topics = {item.topic for item in catalog.menu.items if item.topic}
    assert menu_topics <= set(catalog.topics)  # every awareness module is one tap from the menu
    # The other topics are conversations an intent opens ("I want to leave": one per route,
    # "is it true that...?"): reached from that intent's reply or its own topic.
    from_intents = {b.topic for s in catalog.intents.values() for b in s.buttons if b.topic} | {
        s.topic for s in catalog.intents.values() if s.topic
    }
    assert set(catalog.topics) - menu_topics <= from_intents
    # Intents are reached by what people type (NLU, keywords) and by buttons.
    for name, spec in catalog.intents.items():
        assert spec.keywords or name == "out_of_scope" or any(t.intent == name for t in targets)


def test_key_languages_translate_every_key_message(catalog: Catalog) -> None:
    key_languages = [code for code in catalog.languages if code not in ("fr", "bm")]
    assert {"snk", "ff", "ses"} <= set(key_languages)
    for code in key_languages:
        expected = catalog.expected_keys(code)
        assert "intent.emergency" in expected and "onboarding.consent" in expected
        missing = [key for key in expected if key not in catalog.messages[code]]
        assert missing == [], f"{code} lacks {missing}"
        assert catalog.chain(code) == [code, "bm", "fr"]
        # Everything else comes through the chain, never a blank.
        for key in catalog.keys():
            assert catalog.text(key, code).text


def test_every_translation_is_draft_or_reviewed_and_tracks_its_source(catalog: Catalog) -> None:
    from bot.content.catalog import TranslationState

    for code in catalog.languages:
        if code == catalog.default_language:
            continue
        states = {key: catalog.state(code, key) for key in catalog.messages[code]}
        untracked = [k for k, s in states.items() if s is TranslationState.UNTRACKED]
        assert untracked == [], f"{code}: no source hash on {untracked[:5]}"
        stale = [k for k, s in states.items() if s is TranslationState.STALE]
        assert stale == [], f"{code}: stale translations {stale[:5]}"


def test_returnee_stories_are_labelled_and_never_pass_for_real_people(catalog: Catalog) -> None:
    from bot.content.models import StoryKind

    stories = [
        card for topic in catalog.topics.values() for card in topic.cards if card.story is not None
    ]
    assert stories, "the returnee-stories module has no story cards"
    for card in stories:
        if card.story is StoryKind.TESTIMONY:
            assert card.consent_ref
            continue
        # A composite says so in every language it is written in.
        for code, messages in catalog.messages.items():
            if card.text in messages and code in ("fr", "bm"):
                assert messages[card.text].text.strip(), card.text
    fr_texts = [catalog.text(card.text, "fr").text.lower() for card in stories]
    assert all("plusieurs" in text for text in fr_texts), fr_texts


def test_quiz_and_story_mistakes_are_reported(tree: Path) -> None:
    sea = tree / "topics" / "sea.yml"
    edit(sea, "feedback: quiz.sea.q1.myth", "feedback: quiz.sea.nowhere")
    libya = tree / "topics" / "libya.yml"
    edit(libya, "quiz:\n", "quiz:\n  - id: q9\n    question: quiz.libya.q1\n    answers: []\n")
    stories = tree / "topics" / "returnee_stories.yml"
    edit(stories, "    story: composite", "    story: testimony")
    found = problems_of(tree)
    line = line_of(sea, "quiz.sea.nowhere")
    assert f"{sea}:{line}: message 'quiz.sea.nowhere' has no fr text" in found
    assert any(p.startswith(f"{libya}:") and "answers" in p for p in found), found
    assert any(p.startswith(f"{stories}:") and "consent_ref" in p for p in found), found


def test_placeholders_must_match_the_source(tree: Path) -> None:
    from bot.content.editing import MessageFile

    messages = MessageFile(tree, "bm")
    messages.update("quiz.score", text="I ka jaabi {nombre} sɔrɔla.")
    messages.save()
    bm = messages.path
    line = line_of(bm, "quiz.score:")
    expected = f"{bm}:{line}: text of 'quiz.score' must use the same placeholders as the source"
    found = problems_of(tree)
    assert any(p.startswith(expected) for p in found), found


def test_key_messages_must_name_real_keys(tree: Path) -> None:
    languages = tree / "languages.yml"
    edit(languages, "key_messages: [", "key_messages: [nothing.here., ")
    line = line_of(languages, "nothing.here.")
    assert f"{languages}:{line}: key_messages: 'nothing.here.' matches no message of fr.yml" in (
        problems_of(tree)
    )


def test_a_card_stating_a_figure_needs_its_sources(tree: Path) -> None:
    """The content guide's rule, enforced by the loader: a card whose French text gives a
    figure names its sources (title, url) and verified_on, or its text has a source."""
    fr = tree / "messages" / "fr.yml"
    edit(fr, '    source: "IOM Missing Migrants Project (report, 2019)"\n', "")
    edit(fr, "    verified_on: 2026-11-29\n  topic.sahara.card5:", "  topic.sahara.card5:")
    sahara = tree / "topics" / "sahara.yml"
    line = line_of(sahara, "- text: topic.sahara.card4")
    assert (
        f"{sahara}:{line}: card 4 ('topic.sahara.card4') states a figure: it needs sources "
        "(title, url) and verified_on"
    ) in problems_of(tree)
    # Sources without the day they were read are refused too.
    edit(
        sahara,
        "  - text: topic.sahara.card4\n",
        "  - text: topic.sahara.card4\n    sources:\n"
        "      - title: IOM Missing Migrants Project\n"
        "        url: https://missingmigrants.iom.int/\n",
    )
    assert any("sources need verified_on" in p for p in problems_of(tree))
    edit(
        sahara,
        "        url: https://missingmigrants.iom.int/\n",
        "        url: https://missingmigrants.iom.int/\n    verified_on: 2026-11-29\n",
    )
    card = load_catalog(tree).topics["sahara"].cards[3]
    assert card.sources[0].url == "https://missingmigrants.iom.int/"
