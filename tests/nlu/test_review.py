"""The NLU review queue's pure parts: names masked, similar messages grouped, and the
reviewed file valid Rasa NLU data (read by the project's readers, and by Rasa itself when
its environment is there)."""

from __future__ import annotations

import os
import subprocess
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from bot.nlu.langid import nlu_samples
from bot.nlu.review import (
    NAME_MASK,
    Domain,
    LabelError,
    Labelled,
    ReviewedFile,
    Span,
    check_label,
    group,
    held_out,
    leaks,
    markup,
    mask_names,
    shift_entities,
    similarity,
)
from bot.nlu.types import Entity
from scripts.nlu_eval.data import load_nlu_dir
from tests.support.environment import IN_CI

ROOT = Path(__file__).resolve().parents[2]
DOMAIN = Domain.load(ROOT / "nlu" / "domain.yml")


@pytest.mark.parametrize(
    "said,masked",
    [
        ("je m'appelle Moussa Traoré et je veux partir", "je m'appelle [name] et je veux partir"),
        ("jm appelle fanta", "jm appelle [name]"),
        ("Moi c'est Aminata, j'ai 19 ans", "Moi c'est [name], j'ai 19 ans"),
        ("mon nom est diallo", "mon nom est [name]"),
        ("n tɔgɔ ye Seydou, n bɛ Kayi", "n tɔgɔ ye [name], n bɛ Kayi"),
        ("n togo ko Drissa Sangaré", "n togo ko [name]"),
        ("mon frère Issa est parti en Libye", "mon frère [name] est parti en Libye"),
        ("n balima Bakary taara Alizeri", "n balima [name] taara Alizeri"),
        # Common names anywhere, in any case or spelling.
        ("keita m'a dit de partir", "[name] m'a dit de partir"),
        ("c est KEÏTA qui paie", "c est [name] qui paie"),
    ],
)
def test_names_are_masked(said: str, masked: str) -> None:
    assert mask_names(said).text == masked


@pytest.mark.parametrize(
    "said",
    [
        "mon frère est parti en Libye",  # a relative without a name
        "n ba fe ka taa Espagne",  # Bambara words that look like nothing
        "je suis à Kita, je cherche du travail",
        "a nana Bamako kunu",
        "c koi le visa pour la France",
    ],
)
def test_ordinary_words_and_places_are_kept(said: str) -> None:
    assert mask_names(said).text == said


def test_a_name_the_nlu_marks_is_masked_and_other_entities_move_with_the_text() -> None:
    said = "Fatoumata wants to go to Libi"
    found = (Entity("person", "X", 0, 9), Entity("country", "libya", 25, 29))
    masked = mask_names(said, found)
    assert masked.text == f"{NAME_MASK} wants to go to Libi"
    (country,) = shift_entities(found, masked)
    assert masked.text[country["start"] : country["end"]] == "Libi"


def test_an_entity_inside_a_masked_name_is_dropped() -> None:
    said = "je m'appelle Kayes"
    masked = mask_names(said, (Entity("place_ml", "kayes", 13, 18),))
    assert masked.text == "je m'appelle [name]"
    assert shift_entities((Entity("place_ml", "kayes", 13, 18),), masked) == []


def test_similar_messages_group_together_and_others_apart() -> None:
    texts = [
        "jveu partir en espagne cmt faire",
        "quel temps fait il a bamako",
        "je veux partir en Espagne comment faire",
        "n b'a fɛ ka taa Espagne",
        "jveu partir en espagne comment faire stp",
    ]
    groups = group(texts, lambda t: t)
    assert groups[0] == [texts[0], texts[2], texts[4]]
    assert [texts[1]] in groups and [texts[3]] in groups
    assert similarity("a", "a") == pytest.approx(1.0)
    assert similarity("", "abc") == 0.0
    # Masks say nothing about meaning: messages alike but for a mask are one.
    assert similarity("aide moi [name] stp", "aide moi [phone] stp") == pytest.approx(1.0)


def label(**changes: object) -> Labelled:
    values: dict[str, object] = {
        "text": "n b'a fɛ ka taa Espanie kurun na",
        "intent": "risks_sea",
        "language": "bm",
        "entities": (Span("country", 16, 23),),
        "labelled_by": "eddie",
        "labelled_at": datetime(2026, 12, 4, 17, 30, tzinfo=UTC),
    }
    values.update(changes)
    return Labelled(**values)  # type: ignore[arg-type]


def test_markup_annotates_spans_and_keeps_masks_as_plain_text() -> None:
    assert markup(label()) == "n b'a fɛ ka taa [Espanie](country) kurun na"
    masked = label(text="[name](moi) va en Libye", entities=(Span("country", 18, 23),))
    assert markup(masked) == "[name] (moi) va en [Libye](country)"


@pytest.mark.parametrize(
    "changes,problem",
    [
        ({"intent": "weather"}, "review.error.intent"),
        ({"language": "en"}, "review.error.language"),
        ({"text": "  "}, "review.error.text"),
        ({"text": "deux\nlignes"}, "review.error.text"),
        ({"entities": (Span("city", 16, 23),)}, "review.error.entity"),
        ({"entities": (Span("country", 16, 99),)}, "review.error.span"),
        ({"entities": (Span("country", 16, 23), Span("place_ml", 20, 25))}, "review.error.span"),
    ],
)
def test_labels_rasa_would_refuse_are_refused(changes: dict[str, object], problem: str) -> None:
    with pytest.raises(LabelError) as refused:
        check_label(label(**changes), DOMAIN)
    assert str(refused.value) == problem


def test_out_of_scope_is_an_intent_of_the_domain() -> None:
    check_label(label(intent="out_of_scope", entities=()), DOMAIN)


def test_the_reviewed_file_is_rasa_nlu_data_with_who_and_when(tmp_path: Path) -> None:
    reviewed = ReviewedFile(tmp_path / "data" / "reviewed.yml")
    reviewed.add(label())
    reviewed.add(
        label(
            text="je veux partir en [name] : no",
            intent="intent_to_leave",
            language="fr",
            entities=(),
        )
    )
    reviewed.add(
        label(
            text="jveu aller Libi vi la mer",
            intent="risks_sea",
            language="mixed",
            entities=(Span("country", 10, 14),),
        )
    )
    doc = yaml.safe_load(reviewed.path.read_text(encoding="utf-8"))
    assert doc["version"] == "3.1"
    first = doc["nlu"][0]
    assert first["intent"] == "risks_sea"
    assert first["metadata"] == {
        "lang": "bm",
        "labelled_by": "eddie",
        "labelled_at": "2026-12-04T17:30:00+00:00",
    }
    # The project's own readers: the evaluation's and the language identifier's.
    data = load_nlu_dir(tmp_path / "data")
    assert [(e.intent, e.lang) for e in data.examples] == [
        ("risks_sea", "bm"),
        ("intent_to_leave", "fr"),
        ("risks_sea", "mixed"),
    ]
    assert [(e.entity, e.value) for e in data.examples[0].entities] == [("country", "Espanie")]
    assert data.examples[1].text == "je veux partir en [name] : no"
    reviewed.add(
        label(text="wie geht es dir heute", intent="out_of_scope", language="other", entities=())
    )
    samples = list(nlu_samples(tmp_path / "data"))
    assert ("n b'a fɛ ka taa Espanie kurun na", "bm") in samples
    assert {language for _, language in samples} == {"bm", "fr"}  # never "mixed" nor "other"
    assert not list(tmp_path.glob("data/.reviewed-*"))  # no temporary file left


def test_two_reviewers_saving_at_once_lose_nothing(tmp_path: Path) -> None:
    reviewed = ReviewedFile(tmp_path / "reviewed.yml")
    threads = [
        threading.Thread(
            target=reviewed.add, args=(label(text=f"message numero {i}", entities=()),)
        )
        for i in range(12)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(reviewed.blocks()) == 12


RASA_CHECK = """
import sys
from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader
data = RasaYAMLReader().read(sys.argv[1])
for m in data.training_examples:
    ents = [(e["entity"], e["value"], e["start"], e["end"]) for e in m.get("entities") or []]
    print(m.get("intent"), m.get("text"), ents, sep="|")
"""


def test_rasa_reads_the_reviewed_file(tmp_path: Path) -> None:
    """Rasa's own YAML reader (schema checked) reads our file: run where the Rasa
    environment is (``KUNNAFONI_RASA_BIN``, set by ``./dev test``)."""
    rasa_bin = Path(os.environ.get("KUNNAFONI_RASA_BIN", "") or "/nonexistent")
    python = rasa_bin.parent / "python"
    if not python.exists():
        if IN_CI:
            pytest.fail("the Rasa environment is missing in CI", pytrace=False)
        pytest.skip("no Rasa environment: run the suite with ./dev test")
    reviewed = ReviewedFile(tmp_path / "reviewed.yml")
    reviewed.add(label())
    reviewed.add(label(text="[name] (moi) va en Libye", entities=(Span("country", 19, 24),)))
    result = subprocess.run(
        [str(python), "-c", RASA_CHECK, str(reviewed.path)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "3"},
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = [line for line in result.stdout.splitlines() if line.count("|") == 2]
    assert lines == [
        "risks_sea|n b'a fɛ ka taa Espanie kurun na|[('country', 'Espanie', 16, 23)]",
        "risks_sea|[name] (moi) va en Libye|[('country', 'Libye', 19, 24)]",
    ]


def test_a_held_out_sentence_is_recognised_whatever_its_markup_and_case(tmp_path: Path) -> None:
    (tmp_path / "test_fr.yml").write_text(
        'version: "3.1"\nnlu:\n- intent: goodbye\n  examples: |\n'
        "    - bon je vous laisse, bonne nuit\n    - ciao\n",
        encoding="utf-8",
    )
    sentences = held_out(tmp_path)
    assert sentences == {"bon je vous laisse bonne nuit"}  # "ciao" is too short to count
    assert leaks(label(text="Bon, je vous laisse : bonne nuit !", entities=()), sentences)
    assert not leaks(label(text="je vous laisse", entities=()), sentences)
    # The project's own held-out sets are read.
    assert len(held_out(ROOT / "nlu" / "tests")) > 500
