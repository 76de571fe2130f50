"""The NLU report's pure parts: Rasa YAML parsing, metrics, crises first, targets, rendering,
latency maths.

No Rasa server and no training here: the report itself is run by ``./dev nlu-report``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from bot.nlu.keywords import KeywordMatcher
from bot.nlu.types import Entity, NluResult, NluSource
from scripts.nlu_eval.crisis import (
    CRISIS_SETS,
    CrisisCase,
    crisis_cases,
    crisis_errors,
    crisis_scores,
    heldout_items,
    load_crisis_sets,
)
from scripts.nlu_eval.data import (
    NO_INTENT,
    ROOT,
    Example,
    discover_groups,
    parse_example,
    parse_nlu_yaml,
    train_counts,
)
from scripts.nlu_eval.errors import ReportError
from scripts.nlu_eval.latency import measure, percentiles
from scripts.nlu_eval.metrics import (
    RasaOutput,
    Scored,
    canonical_entities,
    collect_errors,
    compute_figures,
    decision_scores,
    entity_scores,
    intent_scores,
    langid_scores,
    rasa_output,
    with_overall,
)
from scripts.nlu_eval.render import render_markdown
from scripts.nlu_eval.targets import check_targets

# --- YAML examples ----------------------------------------------------------------------------


def test_example_without_markup_is_unchanged() -> None:
    assert parse_example("c quoi les risques") == ("c quoi les risques", ())


def test_short_form_entity_takes_its_text_as_value() -> None:
    text, entities = parse_example("je suis a [Kayes](place_ml) depuis hier")
    assert text == "je suis a Kayes depuis hier"
    assert entities == (Entity("place_ml", "Kayes", 10, 15),)
    assert text[10:15] == "Kayes"


def test_long_form_entity_keeps_its_value_and_offsets() -> None:
    line = 'n tora [Libi]{"entity": "country", "value": "libya"} ni [Alizeri](country:algeria)'
    text, entities = parse_example(line)
    assert text == "n tora Libi ni Alizeri"
    assert entities == (
        Entity("country", "libya", 7, 11),
        Entity("country", "algeria", 15, 22),
    )
    assert [text[e.start : e.end] for e in entities] == ["Libi", "Alizeri"]


def test_broken_long_form_is_an_error() -> None:
    with pytest.raises(ValueError, match="bad entity annotation"):
        parse_example('[Libi]{"entity": country}')


NLU_YAML = """
version: "3.1"
nlu:
- intent: return_help
  metadata:
    lang: fr
  examples: |
    - je veux rentrer de [Lybie](country)
    - bloqué en [Algérie]{"entity": "country", "value": "algeria"}, aidez moi
- intent: greet
  examples: |
    - i ni ce
    -
- intent: thank
  examples:
    - text: |
        merci [Kayi](place_ml)
      metadata:
        sentiment: positive
- synonym: libya
  examples: |
    - lybie
    - Libi
- lookup: country
  examples: |
    - Libye
- regex: phone
  examples: |
    - \\d{8}
"""


def test_nlu_yaml_keeps_intent_examples_only() -> None:
    data = parse_nlu_yaml(NLU_YAML)
    assert [(e.intent, e.text, e.lang) for e in data.examples] == [
        ("return_help", "je veux rentrer de Lybie", "fr"),
        ("return_help", "bloqué en Algérie, aidez moi", "fr"),
        ("greet", "i ni ce", None),
        ("thank", "merci Kayi", None),
    ]
    assert data.examples[1].entities == (Entity("country", "algeria", 10, 17),)


def test_nlu_yaml_collects_synonyms_from_blocks_and_annotations() -> None:
    data = parse_nlu_yaml(NLU_YAML)
    assert data.synonyms == {"lybie": "libya", "libi": "libya", "algérie": "algeria"}
    gold = [canonical_entities(e, data.synonyms) for e in data.examples]
    assert gold == [(("country", "libya"),), (("country", "algeria"),), (), (("place_ml", "Kayi"),)]


def test_invalid_yaml_names_its_file() -> None:
    with pytest.raises(ValueError, match=r"test_fr\.yml"):
        parse_nlu_yaml("nlu: [", "test_fr.yml")


def test_groups_are_discovered_by_file_name_in_report_order(tmp_path: Path) -> None:
    for name in ("test_mixed.yml", "test_zz.yml", "test_fr.yml", "test_bm.yml", "other.yml"):
        (tmp_path / name).write_text("nlu: []\n", encoding="utf-8")
    assert list(discover_groups(tmp_path)) == ["fr", "bm", "mixed", "zz"]


def test_training_examples_are_counted_per_language() -> None:
    train = [Example("a", "greet", lang="fr"), Example("b", "greet", lang="bm"), Example("c", "x")]
    assert train_counts(train, ["fr", "bm", "mixed"]) == {
        "fr": 1,
        "bm": 1,
        "mixed": 0,
        "untagged": 1,
        "overall": 3,
    }


# --- metrics ----------------------------------------------------------------------------------


def test_intent_scores_on_a_known_case() -> None:
    # a: P=1, R=1/2, F1=2/3; b: P=2/3, R=1, F1=4/5; macro = 11/15.
    scores = intent_scores(["a", "a", "b", "b"], ["a", "b", "b", "b"])
    assert scores["accuracy"] == pytest.approx(0.75)
    assert scores["macro_f1"] == pytest.approx(11 / 15)
    assert scores["n"] == 4


def test_macro_f1_averages_over_gold_labels_only() -> None:
    # "none" and "c" are wrong answers, not classes of their own: a F1=1, b F1=0.
    scores = intent_scores(["a", "b", "b"], ["a", NO_INTENT, "c"])
    assert scores["macro_f1"] == pytest.approx(0.5)
    assert scores["accuracy"] == pytest.approx(1 / 3)


def test_intent_scores_of_an_empty_group() -> None:
    assert intent_scores([], []) == {"accuracy": None, "macro_f1": None, "n": 0}


def test_entity_scores_are_exact_micro_averages_with_types() -> None:
    gold = [
        [("country", "libya")],
        [("place_ml", "kayes"), ("country", "mali")],
        [],
    ]
    predicted = [
        [("country", "libya")],
        [("place_ml", "kayes")],
        [("country", "niger")],
    ]
    scores = entity_scores(gold, predicted)
    assert scores["precision"] == pytest.approx(2 / 3)
    assert scores["recall"] == pytest.approx(2 / 3)
    assert scores["f1"] == pytest.approx(2 / 3)
    assert scores["support"] == 3
    assert scores["by_type"]["country"]["f1"] == pytest.approx(0.5)
    assert scores["by_type"]["place_ml"] == {
        "precision": 1.0,
        "recall": 1.0,
        "f1": 1.0,
        "support": 1,
    }


def test_entity_with_the_wrong_value_is_both_a_miss_and_a_false_alarm() -> None:
    scores = entity_scores([[("country", "libya")]], [[("country", "Libi")]])
    assert (scores["precision"], scores["recall"], scores["f1"]) == (0.0, 0.0, 0.0)


def _rasa(intent: str | None, ranking: Sequence[tuple[str, float]]) -> NluResult:
    return NluResult(
        text="t",
        intent=intent,
        confidence=ranking[0][1] if ranking else 0.0,
        source=NluSource.RASA,
        ranking=tuple(ranking),
        entities=(Entity("country", "libya", 0, 4),),
    )


def test_rasa_fallback_counts_apart_and_the_best_real_intent_is_scored() -> None:
    out = rasa_output(
        _rasa("nlu_fallback", [("nlu_fallback", 0.4), ("risks_libya", 0.35), ("emergency", 0.3)])
    )
    assert (out.intent, out.fallback, out.confidence) == ("risks_libya", True, 0.35)
    assert out.entities == (("country", "libya"),)
    sure = rasa_output(_rasa("greet", [("greet", 0.9)]))
    assert (sure.intent, sure.fallback) == ("greet", False)
    assert rasa_output(_rasa("nlu_fallback", [("nlu_fallback", 1.0)])).intent == NO_INTENT


def test_rasa_output_carries_the_bot_decision_and_its_buttons() -> None:
    sure = rasa_output(_rasa("greet", [("greet", 0.9), ("thank", 0.05)]))
    assert (sure.action, sure.offered) == ("act", ("greet",))
    torn = rasa_output(_rasa("risks_sea", [("risks_sea", 0.5), ("risks_libya", 0.45)]))
    assert (torn.action, torn.offered) == ("ask", ("risks_sea", "risks_libya"))
    urgent = rasa_output(
        _rasa("return_help", [("return_help", 0.6), ("risks_libya", 0.2), ("emergency", 0.2)])
    )
    assert urgent.action == "emergency"


def test_decision_scores_are_shares_of_the_messages() -> None:
    def out(intent: str, action: str, offered: tuple[str, ...] = ()) -> RasaOutput:
        return RasaOutput(intent, False, 0.5, action=action, offered=offered)

    gold = ["greet", "thank", "risks_sea", "risks_libya", "emergency", "emergency", "greet"]
    outputs = [
        out("greet", "act"),
        out("greet", "act"),  # wrong
        out("risks_libya", "ask", ("risks_libya", "risks_sea")),  # gold offered
        out("risks_sea", "ask", ("risks_sea", "smugglers")),  # gold not offered
        out("emergency", "emergency"),
        out("return_help", "act"),  # a missed emergency, and a wrong act
        out("greet", "emergency"),  # a false alarm
    ]
    scores = decision_scores(gold, outputs)
    assert scores["count"] == 7
    assert scores["acted_right"] == 1 / 7
    assert scores["acted_wrong"] == 2 / 7
    assert scores["asked"] == 2 / 7
    assert scores["asked_offering_gold"] == 1 / 7
    assert scores["emergency"] == 2 / 7
    assert scores["emergency_recall"] == 1 / 2
    assert scores["emergency_false"] == 1 / 5
    assert decision_scores([], []) == {"count": 0}
    no_emergency = decision_scores(["greet"], [out("greet", "act")])
    assert no_emergency["emergency_recall"] is None


def test_language_id_counts_no_guess_as_wrong() -> None:
    scores = langid_scores("bm", ["bm", "bm", None, "fr"])
    assert scores["accuracy"] == pytest.approx(0.5)
    assert scores["undecided"] == 1
    assert scores["confused_with"] == {"fr": 1}


def test_overall_is_every_group_together() -> None:
    assert with_overall({"fr": [1, 2], "bm": [3]}) == {
        "fr": [1, 2],
        "bm": [3],
        "overall": [1, 2, 3],
    }


def _scored(group: str, gold: str, rasa: str, tfidf: str, keywords: str, **kw: Any) -> Scored:
    return Scored(
        group=group,
        example=Example(f"{group} {gold}", gold),
        gold_entities=kw.get("gold_entities", ()),
        rasa=RasaOutput(rasa, kw.get("fallback", False), 0.8, kw.get("entities", ())),
        tfidf_lr=tfidf,
        keywords=keywords,
        language=kw.get("language", group),
    )


def test_figures_per_group_and_overall() -> None:
    scored = [
        _scored("fr", "greet", "greet", "greet", "greet"),
        _scored("fr", "thank", "thank", "greet", NO_INTENT, fallback=True),
        _scored("bm", "greet", "thank", "greet", "greet", language=None),
        _scored(
            "bm",
            "thank",
            "thank",
            "thank",
            "thank",
            gold_entities=(("country", "mali"),),
            entities=(("country", "mali"),),
        ),
    ]
    figures = compute_figures(scored)
    assert list(figures["intent"]["rasa"]) == ["fr", "bm", "overall"]
    assert figures["intent"]["rasa"]["fr"]["accuracy"] == 1.0
    assert figures["intent"]["rasa"]["bm"]["accuracy"] == 0.5
    assert figures["intent"]["keywords"]["fr"]["accuracy"] == 0.5
    assert figures["intent"]["tfidf_lr"]["overall"]["accuracy"] == 0.75
    assert figures["fallback_rate"] == {"fr": 0.5, "bm": 0.0, "overall": 0.25}
    assert figures["entities"]["bm"]["f1"] == 1.0
    assert figures["entities"]["fr"]["support"] == 0
    assert figures["language_id"]["fr"]["accuracy"] == 1.0
    assert figures["language_id"]["bm"]["accuracy"] == 0.5
    errors = collect_errors(scored)
    assert [(e["group"], e["gold"], e["predicted"]) for e in errors["intent"]] == [
        ("bm", "greet", "thank")
    ]
    assert errors["entities"] == []
    json.dumps(errors)  # plain JSON


# --- targets and rendering --------------------------------------------------------------------


def _report(**changes: Any) -> dict[str, Any]:
    def scores(f1: float) -> dict[str, Any]:
        return {"accuracy": f1, "macro_f1": f1, "n": 10}

    report: dict[str, Any] = {
        "date": "2025-01-01T00:00:00+00:00",
        "rasa_version": "3.6.21",
        "config_sha256": "abc",
        "nlu_hash": "def",
        "training_seconds": 80.0,
        "groups": ["fr", "bm", "mixed"],
        "train_examples": {"fr": 5, "bm": 4, "mixed": 3, "overall": 12},
        "test_examples": {"fr": 10, "bm": 10, "mixed": 10, "overall": 30},
        "intent": {
            "rasa": {g: scores(0.95) for g in ("fr", "bm", "mixed", "overall")},
            "tfidf_lr": {g: scores(0.90) for g in ("fr", "bm", "mixed", "overall")},
            "keywords": {g: scores(0.40) for g in ("fr", "bm", "mixed", "overall")},
        },
        "fallback_rate": {"fr": 0.05, "bm": 0.1, "mixed": 0.0, "overall": 0.05},
        "entities": {
            g: {
                "precision": 1.0,
                "recall": 0.5,
                "f1": 2 / 3,
                "support": 2,
                "by_type": {
                    "country": {"precision": 1.0, "recall": 0.5, "f1": 2 / 3, "support": 2}
                },
            }
            for g in ("fr", "bm", "mixed", "overall")
        },
        "language_id": {"fr": {"accuracy": 0.99, "n": 10}, "bm": {"accuracy": 0.9, "n": 10}},
        "crisis": {
            "source": "tests/nlu/emergency_keywords.yml",
            "sets": {
                name: {
                    "n": 4,
                    "must_be_first": name in ("emergency", "heldout_crisis"),
                    **{
                        system: {"put_first": 0, "wrong": 0, "rate": 0.0}
                        for system in ("keywords", "rasa", "service")
                    },
                }
                for name in ("emergency", "not_emergency", "heldout_crisis", "heldout_other")
            },
        },
        "latency_ms": {
            "p50": 12.0,
            "p95": 20.0,
            "p99": 30.0,
            "max": 41.0,
            "n": 90,
            "rounds": 3,
            "warmup": 20,
            "concurrency": 1,
        },
    }
    report.update(changes)
    return report


def test_all_targets_pass_on_a_good_report() -> None:
    targets = check_targets(_report())
    assert len(targets) == 3 + 3 + 3
    assert all(t.passed for t in targets), [t for t in targets if not t.passed]


def test_missed_targets_are_named() -> None:
    report = _report(training_seconds=301.0, latency_ms={"p95": 50.5})
    report["intent"]["rasa"]["fr"] = {"accuracy": 0.9, "macro_f1": 0.91, "n": 10}
    report["intent"]["tfidf_lr"]["bm"] = {"accuracy": 0.96, "macro_f1": 0.96, "n": 10}
    failed = {t.name for t in check_targets(report) if not t.passed}
    assert failed == {
        "rasa intent macro-F1 (fr)",
        "rasa beats baselines (bm)",
        "training time (s)",
        "parse latency p95 (ms)",
    }


def test_a_tie_with_a_baseline_does_not_beat_it() -> None:
    report = _report()
    report["intent"]["tfidf_lr"]["mixed"] = {"accuracy": 0.95, "macro_f1": 0.95, "n": 10}
    failed = [t.name for t in check_targets(report) if not t.passed]
    assert failed == ["rasa beats baselines (mixed)"]


def test_a_group_without_held_out_data_fails_its_target() -> None:
    report = _report(groups=["fr", "bm"])
    del report["intent"]["rasa"]["mixed"]
    missing = [t for t in check_targets(report) if not t.passed]
    assert [(t.name, t.detail) for t in missing] == [
        ("rasa intent macro-F1 (mixed)", "no held-out data")
    ]


def test_untimed_training_fails_its_target() -> None:
    failed = [t.name for t in check_targets(_report(training_seconds=None)) if not t.passed]
    assert failed == ["training time (s)"]


def test_markdown_has_one_table_per_metric_and_the_targets() -> None:
    report = _report()
    report["intent"]["keywords"]["bm"] = {"accuracy": 0.5, "macro_f1": 0.4321, "n": 10}
    report["targets"] = [t.as_json() for t in check_targets(report)]
    report["targets"][0] |= {"passed": False, "detail": "too low"}
    report["train_examples"]["untagged"] = 2
    md = render_markdown(report)
    header = "| system | fr | bm | mixed | overall |"
    assert md.count(header) == 4  # macro-F1, accuracy, fallback rate, entities
    assert "## Intent macro-F1" in md and "## Intent accuracy" in md
    assert "| keywords | 0.400 | 0.432 | 0.400 | 0.400 |" in md
    assert "| rasa | 5.0 % | 10.0 % | 0.0 % | 5.0 % |" in md
    assert "| rasa F1 `country` (gold) | 0.667 (2) |" in md
    assert "| system | fr | bm |\n|---|---:|---:|\n| langid | 0.990 | 0.900 |" in md
    assert "| rasa | 12.0 | 20.0 | 30.0 | 41.0 |" in md
    assert "| target | value | goal | result |\n|---|---:|---|---|" in md
    assert "| rasa intent macro-F1 (fr) | 0.950 | >= 0.92 | **FAIL** too low |" in md
    assert "| training time (s) | 80.0 | < 300 s | pass |" in md
    assert "(2 carry no `lang` tag)" in md
    assert "![confusion matrix](confusion_matrix.png)" in md
    assert "## What the bot does with Rasa's answers" in md
    assert "| acts on a wrong intent |" in md
    for line in md.splitlines():
        if line.startswith("|"):
            assert line.endswith("|")


# --- crises first: misses and false alarms -------------------------------------------------

CRISIS_KNOWN = ("emergency", "self_harm", "privacy_question", "risks_sea", "greet")
CRISIS_MATCHER = KeywordMatcher(
    [("emergency", "fr", "au secours"), ("self_harm", "fr", "me tuer"), ("greet", "fr", "salut")]
)


def _model_parse(text: str, ranking: Sequence[tuple[str, float]]) -> NluResult:
    return NluResult(text, ranking[0][0], ranking[0][1], NluSource.RASA, tuple(ranking))


def _crisis_cases() -> list[CrisisCase]:
    model = {
        # a keyword emergency the model does not see: the service still puts it first
        "au secours ici": _model_parse("au secours ici", [("risks_sea", 0.9), ("greet", 0.1)]),
        # the model alone, low confidence, third: still put first
        "on coule": _model_parse(
            "on coule", [("risks_sea", 0.5), ("greet", 0.3), ("self_harm", 0.15)]
        ),
        # a real emergency nobody catches: a miss
        "il respire plus": _model_parse("il respire plus", [("greet", 0.8), ("emergency", 0.14)]),
        # the model raises an alarm on a question about the police: a false alarm
        "c pour la police ?": _model_parse(
            "c pour la police ?", [("privacy_question", 0.6), ("emergency", 0.3)]
        ),
        # fourth in the ranking: not put first
        "mon oncle est mort": _model_parse(
            "mon oncle est mort",
            [("risks_sea", 0.4), ("greet", 0.3), ("privacy_question", 0.2), ("emergency", 0.2)],
        ),
    }
    sets = {
        "emergency": [("au secours ici", True), ("on coule", True), ("il respire plus", True)],
        "not_emergency": [("c pour la police ?", False), ("mon oncle est mort", False)],
    }
    return crisis_cases(sets, model, CRISIS_MATCHER)


def test_misses_and_false_alarms_per_system() -> None:
    scores = crisis_scores(_crisis_cases(), CRISIS_KNOWN)
    emergency, other = scores["emergency"], scores["not_emergency"]
    assert (emergency["n"], emergency["must_be_first"]) == (3, True)
    assert emergency["keywords"] == {"put_first": 1, "wrong": 2, "rate": 2 / 3}
    assert emergency["rasa"] == {"put_first": 1, "wrong": 2, "rate": 2 / 3}
    assert emergency["service"] == {"put_first": 2, "wrong": 1, "rate": 1 / 3}
    assert (other["n"], other["must_be_first"]) == (2, False)
    assert other["keywords"]["wrong"] == 0
    assert other["rasa"] == {"put_first": 1, "wrong": 1, "rate": 1 / 2}
    assert other["service"]["wrong"] == 1


def test_a_crisis_without_a_reply_in_content_is_not_put_first() -> None:
    without_self_harm = [k for k in CRISIS_KNOWN if k != "self_harm"]
    scores = crisis_scores(_crisis_cases(), without_self_harm)
    assert scores["emergency"]["service"]["put_first"] == 1  # only the keyword emergency


def test_the_service_path_is_the_bots_keywords_then_the_model_parse() -> None:
    case = _crisis_cases()[0]
    assert case.service.source is NluSource.KEYWORDS
    assert case.service.intent == "emergency"
    assert case.rasa.intent == "risks_sea"


def test_errors_list_what_the_bot_or_the_model_routes_wrongly() -> None:
    rows = crisis_errors(_crisis_cases(), CRISIS_KNOWN)
    by_text = {r["text"]: r for r in rows}
    assert set(by_text) == {"au secours ici", "il respire plus", "c pour la police ?"}
    assert by_text["au secours ici"]["service_wrong"] is False
    assert by_text["au secours ici"]["rasa_wrong"] is True
    assert by_text["il respire plus"]["service_wrong"] is True
    assert by_text["c pour la police ?"]["rasa_ranking"] == {
        "privacy_question": 0.6,
        "emergency": 0.3,
    }


def test_held_out_messages_split_on_crisis_intents() -> None:
    split = heldout_items([("a", "emergency"), ("b", "self_harm"), ("c", "greet")])
    assert split == {"heldout_crisis": [("a", True), ("b", True)], "heldout_other": [("c", False)]}


def test_the_projects_sets_load(tmp_path: Path) -> None:
    sets = load_crisis_sets(CRISIS_SETS)
    assert len(sets["emergency"]) >= 40 and len(sets["not_emergency"]) >= 40
    broken = tmp_path / "sets.yml"
    broken.write_text("emergency: [a]\n", encoding="utf-8")
    with pytest.raises(ReportError, match="not_emergency"):
        load_crisis_sets(broken)


def test_a_crisis_miss_fails_its_target_and_an_unmeasured_one_too() -> None:
    report = _report()
    report["crisis"]["sets"]["heldout_crisis"]["service"]["wrong"] = 1
    failed = [(t.name, t.value, t.detail) for t in check_targets(report) if not t.passed]
    assert failed == [
        ("crisis misses, whole NLU path (messages)", 1.0, "emergency 0/4, heldout_crisis 1/4")
    ]
    # false alarms are reported, not a target
    report = _report()
    report["crisis"]["sets"]["not_emergency"]["service"]["wrong"] = 3
    assert all(t.passed for t in check_targets(report))
    del report["crisis"]
    unmeasured = [(t.name, t.detail) for t in check_targets(report) if not t.passed]
    assert unmeasured == [("crisis misses, whole NLU path (messages)", "not measured")]


def test_markdown_has_the_crisis_table() -> None:
    report = _report()
    report["crisis"]["sets"]["not_emergency"]["rasa"] = {"put_first": 1, "wrong": 1, "rate": 0.25}
    report["targets"] = [t.as_json() for t in check_targets(report)]
    md = render_markdown(report)
    assert "## Crises first: misses and false alarms" in md
    assert "`tests/nlu/emergency_keywords.yml`" in md
    assert "| set | messages | keywords | rasa | service |" in md
    assert "| emergencies missed | 4 | 0 (0.0 %) | 0 (0.0 %) | 0 (0.0 %) |" in md
    assert "| false alarms: police, prison, death, money | 4 | 0 (0.0 %) | 1 (25.0 %) |" in md
    assert "| crisis misses, whole NLU path (messages) | 0 | = 0 | pass |" in md


# --- latency ----------------------------------------------------------------------------------


def test_percentiles_interpolate_between_ranks() -> None:
    samples = [float(v) for v in range(1, 101)]  # 1..100 ms
    result = percentiles(samples)
    assert result["p50"] == pytest.approx(50.5)
    assert result["p95"] == pytest.approx(95.05)
    assert result["p99"] == pytest.approx(99.01)
    assert result["max"] == 100.0
    assert percentiles([7.0])["p99"] == 7.0
    with pytest.raises(ValueError):
        percentiles([])


class _CountingParser:
    def __init__(self) -> None:
        self.texts: list[str] = []

    async def parse(self, text: str) -> NluResult:
        self.texts.append(text)
        return NluResult.nothing(text)

    async def aclose(self) -> None:
        return None


@pytest.mark.parametrize("concurrency", [1, 4])
async def test_measure_parses_every_text_each_round_after_the_warm_up(concurrency: int) -> None:
    parser = _CountingParser()
    result = await measure(parser, ["a", "b", "c"], rounds=2, warmup=5, concurrency=concurrency)
    assert parser.texts[:5] == ["a", "b", "c", "a", "b"]
    assert sorted(parser.texts[5:]) == ["a", "a", "b", "b", "c", "c"]
    assert result["n"] == 6 and result["concurrency"] == concurrency
    assert 0 <= result["p50"] <= result["p95"] <= result["p99"] <= result["max"]


# --- entry points -----------------------------------------------------------------------------


@pytest.mark.parametrize("module", ["scripts.nlu_report", "scripts.nlu_cv", "bench.nlu_latency"])
def test_entry_points_run_as_modules_from_the_repository_root(module: str) -> None:
    """Documented as ``python -m``: they import ``bot`` and ``scripts`` without sys.path edits."""
    result = subprocess.run(
        [sys.executable, "-m", module, "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage:")


def test_the_nlu_evaluation_does_not_edit_sys_path() -> None:
    files = [*sorted((ROOT / "scripts").rglob("*.py")), ROOT / "bench" / "nlu_latency.py"]
    edits = [
        str(path.relative_to(ROOT))
        for path in files
        if "sys.path.insert" in path.read_text(encoding="utf-8")
    ]
    assert edits == []
