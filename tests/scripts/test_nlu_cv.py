"""Cross-validation's pure parts: folds, per-fold training data, config overrides, scoring.

No Rasa here: training and serving are the NLU report's, tested by running it.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from scripts.nlu_cv import main, parse_args
from scripts.nlu_eval.cv_scores import (
    cv_figures,
    disagreements,
    misread_examples,
    mix_predictions,
    render_summary,
)
from scripts.nlu_eval.data import ROOT, parse_nlu_yaml
from scripts.nlu_eval.folds import (
    added_examples,
    added_since,
    assign_folds,
    load_document,
    training_document,
)
from scripts.nlu_eval.variants import apply_overrides, drop_components

NLU_YAML = """
version: "3.1"
nlu:
- intent: return_help
  metadata:
    lang: fr
  examples: |
    - je veux rentrer de [Lybie](country)
    - bloqué en [Algérie]{"entity": "country", "value": "algeria"}, aidez moi
    - comment revenir au pays
- intent: return_help
  metadata:
    lang: bm
  examples: |
    - n b'a fɛ ka segin so
- intent: greet
  examples: |
    - i ni ce
- synonym: libya
  examples: |
    - lybie
- lookup: country
  examples: |
    - Libye
- regex: phone
  examples: |
    - \\d{8}
"""


def test_document_keeps_raw_lines_blocks_and_groups() -> None:
    doc = load_document(NLU_YAML)
    assert doc.version == "3.1"
    assert len(doc.blocks) == 6
    assert [(e.block, e.group, e.example.intent) for e in doc.examples] == [
        (0, "fr", "return_help"),
        (0, "fr", "return_help"),
        (0, "fr", "return_help"),
        (1, "bm", "return_help"),
        (2, "untagged", "greet"),
    ]
    assert doc.examples[0].line == "je veux rentrer de [Lybie](country)"
    assert doc.examples[0].example.text == "je veux rentrer de Lybie"


def test_list_form_examples_are_refused() -> None:
    with pytest.raises(ValueError, match=r"only `examples: \|`"):
        load_document("nlu:\n- intent: greet\n  examples:\n  - text: hi\n")


def test_folds_are_stratified_balanced_and_seeded() -> None:
    strata = ["a"] * 10 + ["b"] * 7 + ["c"] * 3
    folds = assign_folds(strata, 5, seed=1)
    assert sorted(Counter(folds).values()) == [4, 4, 4, 4, 4]
    for stratum, size in (("a", 10), ("b", 7)):
        per_fold = Counter(f for s, f in zip(strata, folds, strict=True) if s == stratum)
        assert max(per_fold.values()) - min(per_fold.values()) <= 1
        assert sum(per_fold.values()) == size
    assert assign_folds(strata, 5, seed=1) == folds
    assert assign_folds(strata, 5, seed=2) != folds


def test_one_fold_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        assign_folds(["a", "b"], 1, seed=0)


def test_training_document_drops_held_back_lines_and_keeps_other_blocks() -> None:
    doc = load_document(NLU_YAML)
    keep = [True, False, True, False, True]
    text = training_document(doc, keep)
    data = parse_nlu_yaml(text)
    assert [(e.intent, e.text, e.lang) for e in data.examples] == [
        ("return_help", "je veux rentrer de Lybie", "fr"),
        ("return_help", "comment revenir au pays", "fr"),
        ("greet", "i ni ce", None),
    ]
    assert data.examples[0].entities[0].entity == "country"
    blocks = YAML(typ="safe").load(text)["nlu"]
    # The Bambara block lost its only example and is dropped; the others stay as written.
    assert [next(iter(b)) for b in blocks] == ["intent", "intent", "synonym", "lookup", "regex"]
    assert blocks[4]["examples"] == "- \\d{8}\n"
    assert "examples: |" in text
    assert "bloqué" not in text


def test_training_document_keeps_non_ascii_letters() -> None:
    doc = load_document(NLU_YAML)
    assert "n b'a fɛ ka segin so" in training_document(doc, [True] * 5)


CONFIG = {
    "language": "mul",
    "pipeline": [
        {"name": "WhitespaceTokenizer"},
        {"name": "CountVectorsFeaturizer", "analyzer": "word"},
        {"name": "CountVectorsFeaturizer", "analyzer": "char_wb", "max_ngram": 4},
        {"name": "DIETClassifier", "epochs": 100},
    ],
}


def test_overrides_set_values_read_as_yaml() -> None:
    out = apply_overrides(
        CONFIG,
        [
            "DIETClassifier.epochs=60",
            "DIETClassifier.constrain_similarities=true",
            "CountVectorsFeaturizer#2.max_ngram=5",
            "CountVectorsFeaturizer.use_shared_vocab=false",
        ],
    )
    pipeline = out["pipeline"]
    assert pipeline[3] == {"name": "DIETClassifier", "epochs": 60, "constrain_similarities": True}
    assert pipeline[2]["max_ngram"] == 5
    assert pipeline[1]["use_shared_vocab"] is False
    assert CONFIG["pipeline"][3] == {"name": "DIETClassifier", "epochs": 100}  # copy, not edit


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("DIETClassifier.epochs", "expected COMPONENT"),
        ("epochs=3", "expected COMPONENT"),
        ("CountVectorsFeaturizer#3.max_ngram=5", "has 2 CountVectorsFeaturizer"),
        ("SpacyNLP.model=x", "has 0 SpacyNLP"),
        ("CountVectorsFeaturizer#x.max_ngram=5", "bad component number"),
    ],
)
def test_bad_overrides_are_explained(override: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        apply_overrides(CONFIG, [override])


def test_drop_removes_every_occurrence_and_refuses_an_absent_component() -> None:
    out = drop_components(CONFIG, ["CountVectorsFeaturizer"])
    assert [c["name"] for c in out["pipeline"]] == ["WhitespaceTokenizer", "DIETClassifier"]
    assert len(CONFIG["pipeline"]) == 4  # copy, not edit
    with pytest.raises(ValueError, match="no such component"):
        drop_components(CONFIG, ["SpacyNLP"])


def test_cv_figures_pool_predictions_and_give_the_fold_spread() -> None:
    groups = ["fr", "fr", "bm", "bm"]
    gold = ["a", "b", "a", "b"]
    folds = [0, 1, 0, 1]
    predictions = {"rasa": ["a", "b", "a", "a"], "tfidf_lr": ["a", "b", "b", "a"]}
    result = cv_figures(groups, gold, folds, predictions)
    assert result["groups"] == ["fr", "bm", "overall"]
    assert result["intent"]["rasa"]["fr"]["macro_f1"] == pytest.approx(1.0)
    assert result["intent"]["rasa"]["bm"]["accuracy"] == pytest.approx(0.5)
    assert result["intent"]["tfidf_lr"]["bm"]["accuracy"] == 0.0
    assert result["intent"]["rasa"]["overall"]["accuracy"] == pytest.approx(0.75)
    # Fold 0 holds the two "a" examples (both right: F1 1), fold 1 the "b" ones (one found:
    # F1 of b = 2/3; "a" is not a gold label of that fold).
    spread = result["fold_macro_f1"]["rasa"]["overall"]
    assert spread["mean"] == pytest.approx((1.0 + 2 / 3) / 2)
    result["name"], result["folds"], result["seed"], result["examples"] = "v", 2, 0, 4
    summary = render_summary(result)
    assert "| rasa | 1.000 ± 0.000 |" in summary
    assert "| tfidf_lr |" in summary


def test_baseline_only_run_writes_its_figures(tmp_path: Path) -> None:
    """The whole run on the real training data, Rasa left out: one fold of five."""
    code = main(["--baseline-only", "--max-folds", "1", "--name", "t", "--out", str(tmp_path)])
    assert code == 0
    result = json.loads((tmp_path / "cv-t.json").read_text(encoding="utf-8"))
    assert result["folds_run"] == 1
    assert "rasa" not in result["intent"]
    tested = result["examples_tested"]
    assert result["examples"] // 5 <= tested <= result["examples"] // 5 + 1
    assert result["intent"]["tfidf_lr"]["overall"]["n"] == tested
    assert result["intent"]["tfidf_lr"]["overall"]["macro_f1"] > 0.5


def test_mix_weighs_the_ranking_against_the_probabilities() -> None:
    rankings = [{"a": 0.9, "b": 0.1}, {"a": 0.6, "b": 0.4}, {}, {"b": 0.5}]
    probabilities = [{"a": 0.2, "b": 0.8}, {"a": 0.1, "b": 0.9}, {}, {"a": 0.5}]
    assert mix_predictions(rankings, probabilities, 1.0) == ["a", "a", "none", "b"]
    assert mix_predictions(rankings, probabilities, 0.0) == ["b", "b", "none", "a"]
    # 0.5: a = 0.55 vs b = 0.45; a = 0.35 vs b = 0.65; a tie is broken by name
    assert mix_predictions(rankings, probabilities, 0.5) == ["a", "b", "none", "a"]


def test_disagreements_count_who_is_right() -> None:
    gold = ["a", "b", "c", "d", "e"]
    first = ["a", "b", "x", "d", "y"]
    second = ["a", "z", "c", "w", "q"]
    mixed = ["a", "b", "c", "w", "q"]
    assert disagreements(gold, first, second, mixed) == {
        "examples": 5,
        "disagree": 4,
        "first_right": 2,
        "second_right": 1,
        "neither_right": 1,
        "mix_right": 2,
    }


@pytest.mark.parametrize("bad", ["1.5", "a,b", ","])
def test_mix_weights_are_checked(bad: str) -> None:
    with pytest.raises(SystemExit):
        parse_args(["--mix", bad])
    assert parse_args(["--mix", "0.3,0.5"]).mix == [0.3, 0.5]


def test_misread_examples_list_what_each_system_said() -> None:
    rows = misread_examples(
        ["b text", "a text", "right"],
        ["fr", "bm", "fr"],
        ["x", "y", "z"],
        [0, 1, 2],
        {"rasa": ["x", "q", "z"], "tfidf_lr": ["w", "q", "z"]},
    )
    # sorted by group first; the example both systems got right is left out
    assert rows == [
        {"group": "bm", "gold": "y", "text": "a text", "fold": 1, "rasa": "q", "tfidf_lr": "q"},
        {"group": "fr", "gold": "x", "text": "b text", "fold": 0, "rasa": "x", "tfidf_lr": "w"},
    ]


def test_errors_file_is_written_only_when_asked(tmp_path: Path) -> None:
    base = ["--baseline-only", "--max-folds", "1", "--out", str(tmp_path)]
    assert main([*base, "--name", "quiet"]) == 0
    assert not (tmp_path / "cv-quiet-errors.json").exists()
    assert "misread" not in json.loads((tmp_path / "cv-quiet.json").read_text("utf-8"))
    assert main([*base, "--name", "loud", "--errors"]) == 0
    rows = json.loads((tmp_path / "cv-loud-errors.json").read_text(encoding="utf-8"))
    assert rows and all(row["tfidf_lr"] != row["gold"] for row in rows)
    assert {"group", "gold", "text", "fold"} <= set(rows[0])


DEV_YAML = """version: "3.1"
nlu:
- intent: risks_libya
  metadata:
    lang: fr
  examples: |
    - c'est comment la prison en [Libye](country)
- intent: emergency
  metadata:
    lang: mixed
  examples: |
    - aidez moi, u bɛ n gosi
"""


def test_dev_only_scores_fresh_examples_with_the_baselines(tmp_path: Path) -> None:
    dev = tmp_path / "dev"
    dev.mkdir()
    (dev / "fresh.yml").write_text(DEV_YAML, encoding="utf-8")
    out = tmp_path / "out"
    argv = ["--baseline-only", "--dev", str(dev), "--dev-only", "--name", "d", "--out", str(out)]
    assert main([*argv, "--errors"]) == 0
    result = json.loads((out / "cv-d.json").read_text(encoding="utf-8"))
    assert "folds" not in result and result["dev"]["examples"] == 2
    assert result["examples"] > 1000  # the project's training data by default
    # --data trains on another version of the data: two intents here, neither of the dev
    # set's, so every dev example is misread
    data = tmp_path / "old.yml"
    data.write_text(NLU_YAML, encoding="utf-8")
    assert main([*argv, "--errors", "--data", str(data), "--name", "old"]) == 0
    old = json.loads((out / "cv-old.json").read_text(encoding="utf-8"))
    assert old["examples"] == 5
    assert old["dev"]["intent"]["tfidf_lr"]["overall"]["accuracy"] == 0.0
    assert result["dev"]["groups"] == ["fr", "mixed", "overall"]
    assert result["dev"]["intent"]["tfidf_lr"]["overall"]["n"] == 2
    assert not (out / "cv-d-errors.json").exists()  # no cross-validation was run
    rows = json.loads((out / "cv-d-dev-errors.json").read_text(encoding="utf-8"))
    assert all(row["tfidf_lr"] != row["gold"] for row in rows)
    assert "trained on all" in render_summary(result)


def test_dev_set_is_checked(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        parse_args(["--dev-only"])
    held_out = ROOT / "nlu" / "tests"
    for folder in (held_out, held_out / "sub", held_out / ".." / "tests"):
        with pytest.raises(SystemExit):  # the held-out sets judge the final model only
            parse_args(["--dev", str(folder)])
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["--baseline-only", "--dev", str(empty), "--dev-only", "--out", str(tmp_path)]) == 2


def test_added_examples_are_new_lines_of_an_intent_with_their_group() -> None:
    old = load_document(NLU_YAML)
    extra = NLU_YAML.replace(
        "    - i ni ce\n", "    - i ni ce\n    - i ni sɔgɔma\n    - comment revenir au pays\n"
    )
    added = added_examples(old, load_document(extra))
    # the same words under another intent count as new
    assert [(e.text, e.intent, e.lang) for e in added] == [
        ("i ni sɔgɔma", "greet", "untagged"),
        ("comment revenir au pays", "greet", "untagged"),
    ]
    assert added_examples(old, old) == []


def test_added_since_reads_the_data_at_a_git_revision() -> None:
    with pytest.raises(ValueError, match=r"no nlu/data/nlu\.yml"):
        added_since("no-such-revision", load_document(NLU_YAML))
    with pytest.raises(SystemExit):  # two dev sets at once
        parse_args(["--added-since", "HEAD", "--dev", "somewhere"])
    assert parse_args(["--added-since", "HEAD"]).dev_only
    old, added = added_since("HEAD", load_document(NLU_YAML))
    assert len(old.examples) > 1000  # the project's data as committed
    assert {e.intent for e in added} <= {"return_help", "greet"}
