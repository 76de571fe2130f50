"""Cross-validation scores: pooled macro-F1 per system and group, fold spread, the mix.

Also the errors worth reading (training examples a model that did not see them misread)
and the Markdown summary printed at the end of a run. Pure functions.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from typing import Any

from scripts.nlu_eval.data import NO_INTENT, OVERALL, group_order
from scripts.nlu_eval.metrics import intent_scores, with_overall


def cv_figures(
    groups: Sequence[str],
    gold: Sequence[str],
    folds: Sequence[int],
    predictions: Mapping[str, Sequence[str]],
) -> dict[str, Any]:
    """Pooled intent scores per system and group, and the spread of macro-F1 over folds."""
    names = group_order(set(groups))
    index = with_overall({name: [i for i, g in enumerate(groups) if g == name] for name in names})
    pooled = {
        system: {
            name: intent_scores([gold[i] for i in rows], [predicted[i] for i in rows])
            for name, rows in index.items()
        }
        for system, predicted in predictions.items()
    }
    per_fold: dict[str, dict[str, list[float]]] = {}
    for system, predicted in predictions.items():
        per_fold[system] = {}
        for name, rows in index.items():
            values = []
            for fold in sorted(set(folds)):
                chosen = [i for i in rows if folds[i] == fold]
                f1 = intent_scores([gold[i] for i in chosen], [predicted[i] for i in chosen])
                if f1["macro_f1"] is not None:
                    values.append(float(f1["macro_f1"]))
            per_fold[system][name] = values
    spread = {
        system: {
            name: {
                "mean": statistics.fmean(values) if values else None,
                "sd": statistics.stdev(values) if len(values) > 1 else None,
            }
            for name, values in by_group.items()
        }
        for system, by_group in per_fold.items()
    }
    return {"groups": [*names, OVERALL], "intent": pooled, "fold_macro_f1": spread}


def mix_predictions(
    rankings: Sequence[Mapping[str, float]],
    probabilities: Sequence[Mapping[str, float]],
    weight: float,
) -> list[str]:
    """Best intent of ``weight * ranking + (1 - weight) * probability`` (ties by name).

    What ``kunnafoni_nlu.blend`` does inside Rasa, simulated outside it: with the blend
    dropped from the config, ``rankings`` are DIET's and ``probabilities`` the ``tfidf_lr``
    baseline's (scikit-learn's features rather than Rasa's, so close, not identical).
    """
    out = []
    for ranking, probability in zip(rankings, probabilities, strict=True):
        names = set(ranking) | set(probability)
        if not names:
            out.append(NO_INTENT)
            continue
        mixed = {
            n: weight * ranking.get(n, 0.0) + (1.0 - weight) * probability.get(n, 0.0)
            for n in names
        }
        out.append(min(names, key=lambda n: (-mixed[n], n)))
    return out


def disagreements(
    gold: Sequence[str], first: Sequence[str], second: Sequence[str], mixed: Sequence[str]
) -> dict[str, int]:
    """Where two systems disagree: how often each, neither, and the mix is right."""
    rows = [(g, a, b, m) for g, a, b, m in zip(gold, first, second, mixed, strict=True) if a != b]
    return {
        "examples": len(gold),
        "disagree": len(rows),
        "first_right": sum(a == g for g, a, _b, _m in rows),
        "second_right": sum(b == g for g, _a, b, _m in rows),
        "neither_right": sum(a != g and b != g for g, a, b, _m in rows),
        "mix_right": sum(m == g for g, _a, _b, m in rows),
    }


def misread_examples(
    texts: Sequence[str],
    groups: Sequence[str],
    gold: Sequence[str],
    folds: Sequence[int],
    predictions: Mapping[str, Sequence[str]],
) -> list[dict[str, Any]]:
    """Every example at least one system got wrong, with what each system said.

    These are training examples, predicted by a model that did not see them: reading them
    is how weak spots in the data show (a wording no other example covers, two intents
    whose examples overlap, a label that contradicts the rules), without looking at the
    held-out sets. Sorted by group, gold intent and text so two runs diff cleanly.
    """
    systems = sorted(predictions)
    rows = []
    for i, text in enumerate(texts):
        said = {system: predictions[system][i] for system in systems}
        if all(label == gold[i] for label in said.values()):
            continue
        rows.append(
            {"group": groups[i], "gold": gold[i], "text": text, "fold": folds[i]}
            | {system: said[system] for system in systems}
        )
    return sorted(rows, key=lambda row: (row["group"], row["gold"], row["text"]))


def _table_start(title: str, columns: Sequence[str]) -> list[str]:
    """A title line, then the head of a Markdown table with one column per group."""
    return [title, "", "| system | " + " | ".join(columns) + " |", "|---|" + "---:|" * len(columns)]


def render_dev(result: Mapping[str, Any]) -> str:
    """A Markdown table: macro-F1 per system and group on the ``--dev`` examples."""
    dev = result["dev"]
    columns = dev["groups"]
    lines = _table_start(
        f"{result['name']}: trained on all {result['examples']} training examples,"
        f" {dev['examples']} fresh examples: {dev['source']}",
        columns,
    )
    for system, by_group in dev["intent"].items():
        cells = [
            "n/a" if by_group[c]["macro_f1"] is None else f"{by_group[c]['macro_f1']:.3f}"
            for c in columns
        ]
        lines.append(f"| {system} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def render_summary(result: Mapping[str, Any]) -> str:
    """A Markdown table: macro-F1 per system and group (pooled; fold mean ± sd)."""
    if "folds" not in result:  # --dev-only
        return render_dev(result)
    columns = result["groups"]
    run_folds = result.get("folds_run", result["folds"])
    scope = (
        f"{result['folds']}-fold CV"
        if run_folds == result["folds"]
        else f"{run_folds} of {result['folds']} folds of CV"
    )
    lines = _table_start(
        f"{result['name']}: {scope} on the training data, seed {result['seed']},"
        f" {result.get('examples_tested', result['examples'])} examples tested",
        columns,
    )
    for system, by_group in result["intent"].items():
        cells = []
        for column in columns:
            f1 = by_group[column]["macro_f1"]
            sd = result["fold_macro_f1"][system][column]["sd"]
            cell = "n/a" if f1 is None else f"{f1:.3f}"
            if f1 is not None and sd is not None:
                cell += f" ± {sd:.3f}"
            cells.append(cell)
        lines.append(f"| {system} | " + " | ".join(cells) + " |")
    split = result.get("disagreements") or {}
    if split.get("disagree") is not None:
        lines += [
            "",
            f"rasa and tfidf_lr disagree on {split['disagree']} of {split['examples']}:"
            f" rasa right {split['first_right']}, tfidf_lr right {split['second_right']},"
            f" neither {split['neither_right']}; mix-{split['mix']:g} right {split['mix_right']}",
        ]
    seconds = result.get("training_seconds") or []
    if seconds:
        lines += ["", f"training: {statistics.fmean(seconds):.1f} s per fold on average"]
    if "dev" in result:
        lines += ["", render_dev(result)]
    return "\n".join(lines)
