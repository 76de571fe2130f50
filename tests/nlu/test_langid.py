"""Language identification learnt from the project's own text."""

from __future__ import annotations

from pathlib import Path

from bot.config import PROJECT_ROOT
from bot.nlu.langid import LanguageIdentifier, _clean_example, build_identifier, nlu_samples


def identifier() -> LanguageIdentifier:
    return build_identifier(PROJECT_ROOT / "content", PROJECT_ROOT / "nlu" / "data")


def test_french_and_bambara_in_both_spellings() -> None:
    li = identifier()
    assert set(li.languages) >= {"fr", "bm"}
    for text in (
        "je veux rentrer au pays",
        "jveu partir en europe cmt faire",
        "c koi les risques en libye",
    ):
        assert li.predict(text).language == "fr", text
    for text in (
        "n b'a fɛ ka segin so",
        "n ba fe ka segin so",
        "ne tɛ se ka baara sɔrɔ yan",
        "n balima taara, an t'a kibaru sɔrɔ",
    ):
        assert li.predict(text).language == "bm", text


def test_short_text_is_not_guessed() -> None:
    guess = identifier().predict("ok")
    assert guess.language is None


def test_code_switching_is_flagged() -> None:
    li = identifier()
    assert li.predict("n bɛ bloqué en Algérie n b'a fɛ ka segin, je veux rentrer").mixed
    assert not li.predict("je voudrais savoir comment partir legalement en Europe").mixed


def test_training_reads_tagged_rasa_blocks(tmp_path: Path) -> None:
    (tmp_path / "nlu.yml").write_text(
        'version: "3.1"\nnlu:\n'
        "- intent: greet\n  metadata:\n    lang: xx\n  examples: |\n"
        "    - zork blarg [Kayi](place_ml)\n    - blarg zork zork\n"
        "- intent: greet\n  metadata:\n    lang: mixed\n  examples: |\n    - ignored text\n"
        "- intent: greet\n  examples: |\n    - untagged\n"
        "- synonym: kayes\n  examples: |\n    - Kayi\n",
        encoding="utf-8",
    )
    assert list(nlu_samples(tmp_path)) == [("zork blarg Kayi", "xx"), ("blarg zork zork", "xx")]


def test_entity_markup_is_removed() -> None:
    assert (
        _clean_example('je suis a [Kayi]{"entity": "place_ml", "value": "kayes"} ok')
        == "je suis a Kayi ok"
    )
    assert _clean_example("[Libi](country) kɔnɔ [x]") == "Libi kɔnɔ [x]"
