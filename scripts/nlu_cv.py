"""Cross-validate an NLU pipeline on the training data only, against the same baselines.

The held-out sets (``nlu/tests/``) judge the final model once; choosing between pipeline
variants on them would make their figures optimistic. This script compares variants on
``nlu/data`` alone. Run from the repository root with the bot's environment::

    .venv/bin/python scripts/nlu_cv.py --rasa-bin .venv-rasa/bin/rasa [--folds 5] \\
        [--config FILE] [--set COMPONENT.KEY=VALUE ...] [--drop COMPONENT ...] \\
        [--data FILE] [--dev DIR [--dev-only] | --added-since REV] [--errors] \\
        [--name NAME] [--out DIR]

Steps:

1. split the training examples into ``--folds`` folds, stratified by (intent, language
   group), with a fixed ``--seed``: every example is tested exactly once;
2. for each fold, write the other folds as Rasa NLU data (synonym, regex and lookup blocks
   kept whole), train the pipeline (``--config``, default ``nlu/config.yml``, with the
   ``--set`` overrides applied) on it, serve it and parse the fold's examples through the
   bot's ``RasaClient``, as ``scripts/nlu_report.py`` does for the held-out sets;
3. train the ``tfidf_lr`` baseline on the same folds and run the ``keywords`` baseline;
4. score the pooled predictions (each example predicted by the model that did not see it)
   with the report's metrics, per language group and overall, and write
   ``<out>/cv-<name>.json`` and a summary table on standard output.

``--set`` overrides one option of one component: ``DIETClassifier.epochs=60``; the n-th
component of a name is ``CountVectorsFeaturizer#2.max_ngram=5``; the value is read as YAML
(``true``, ``0.2``, ``[1, 2]``). ``--drop NAME`` removes a component, e.g. the blend to
score DIET alone: ``--drop kunnafoni_nlu.blend.BlendedIntentClassifier``.
``--mix 0.3,0.5,0.7`` also scores, per weight W, the average W x Rasa's ranking +
(1 - W) x ``tfidf_lr``'s probabilities, and counts where Rasa and ``tfidf_lr`` disagree and
who is right; with the blend dropped, that simulates the blend's weight on DIET in one
run. ``--baseline-only`` skips Rasa (seconds instead of minutes).

The splitting, config overrides and scoring are pure functions, tested in
``tests/test_nlu_cv.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import io
import json
import logging
import random
import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `bot`, `bench` and `scripts` live at the repository root
    sys.path.insert(0, str(ROOT))

from ruamel.yaml import YAML  # noqa: E402
from ruamel.yaml.error import YAMLError  # noqa: E402
from ruamel.yaml.scalarstring import LiteralScalarString  # noqa: E402

from bot.content.loader import ContentError  # noqa: E402
from bot.nlu.types import RASA_FALLBACK_INTENT  # noqa: E402
from scripts.nlu_report import (  # noqa: E402
    NO_INTENT,
    OVERALL,
    PARSE_TIMEOUT,
    SYSTEMS,
    Example,
    RasaServer,
    ReportError,
    _example_lines,
    group_order,
    intent_scores,
    keyword_predictions,
    load_nlu_dir,
    parse_example,
    rasa_output,
    train_model,
    train_tfidf_lr,
    with_overall,
)

logger = logging.getLogger("nlu_cv")

UNTAGGED = "untagged"
# Systems whose misreadings --errors lists; the keywords baseline misreads too many to help.
ERROR_SYSTEMS = ("rasa", "tfidf_lr")


# --- data and folds -----------------------------------------------------------------------


@dataclass(frozen=True)
class CvExample:
    """One training example: where it stands in the data, its raw line and its parse."""

    block: int  # index of its intent block in the ``nlu:`` list
    line: str  # as written, entity markup included
    example: Example

    @property
    def group(self) -> str:
        return self.example.lang or UNTAGGED


@dataclass(frozen=True)
class NluDocument:
    """One Rasa NLU YAML document: its blocks and its intent examples."""

    version: str
    blocks: list[dict[str, Any]]
    examples: list[CvExample]


def load_document(text: str, source: str = "<string>") -> NluDocument:
    """Blocks and intent examples of a Rasa NLU YAML document (``examples: |`` form)."""
    try:
        doc = YAML(typ="safe").load(text)
    except YAMLError as exc:
        raise ValueError(f"{source}: not valid YAML: {exc}") from exc
    if not isinstance(doc, dict):
        raise ValueError(f"{source}: not a Rasa NLU document")
    blocks = [b for b in doc.get("nlu") or [] if isinstance(b, dict)]
    examples = []
    for index, block in enumerate(blocks):
        if "intent" not in block:
            continue
        if not isinstance(block.get("examples"), str):
            raise ValueError(f"{source}: intent {block['intent']}: only `examples: |` is handled")
        metadata = block.get("metadata")
        lang = metadata.get("lang") if isinstance(metadata, dict) else None
        for line in _example_lines(block["examples"]):
            text, entities = parse_example(line)
            example = Example(text, str(block["intent"]), entities, str(lang) if lang else None)
            examples.append(CvExample(index, line, example))
    return NluDocument(str(doc.get("version", "3.1")), blocks, examples)


def assign_folds(strata: Sequence[str], folds: int, seed: int) -> list[int]:
    """A fold per item: each stratum shuffled (seeded) and dealt round the folds in turn.

    Dealing continues where the previous stratum stopped, so fold sizes differ by at most one
    and every stratum is spread as evenly as its size allows.
    """
    if folds < 2:
        raise ValueError("cross-validation needs at least 2 folds")
    rng = random.Random(seed)
    by_stratum: dict[str, list[int]] = defaultdict(list)
    for index, stratum in enumerate(strata):
        by_stratum[stratum].append(index)
    assigned = [0] * len(strata)
    position = 0
    for stratum in sorted(by_stratum):
        members = by_stratum[stratum]
        rng.shuffle(members)
        for index in members:
            assigned[index] = position % folds
            position += 1
    return assigned


def training_document(doc: NluDocument, keep: Sequence[bool]) -> str:
    """The document with only the kept intent examples; other blocks (synonyms...) whole."""
    lines: dict[int, list[str]] = defaultdict(list)
    for item, kept in zip(doc.examples, keep, strict=True):
        if kept:
            lines[item.block].append(item.line)
    blocks = []
    for index, block in enumerate(doc.blocks):
        out = copy.deepcopy(block)
        if "intent" in block:
            if not lines[index]:
                continue
            out["examples"] = "".join(f"- {line}\n" for line in lines[index])
        if isinstance(out.get("examples"), str):
            out["examples"] = LiteralScalarString(out["examples"])
        blocks.append(out)
    yaml = YAML()
    yaml.allow_unicode = True
    yaml.width = 4096
    buffer = io.StringIO()
    yaml.dump({"version": doc.version, "nlu": blocks}, buffer)
    return buffer.getvalue()


# --- config variants ----------------------------------------------------------------------


def apply_overrides(config: Mapping[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """A copy of a Rasa config with ``COMPONENT[#N].KEY=VALUE`` overrides applied."""
    out = copy.deepcopy(dict(config))
    pipeline = out.get("pipeline")
    if not isinstance(pipeline, list):
        raise ValueError("the config has no pipeline")
    for override in overrides:
        target, sep, raw = override.partition("=")
        component, dot, key = target.rpartition(".")
        if not sep or not dot or not component or not key:
            raise ValueError(f"override {override!r}: expected COMPONENT[#N].KEY=VALUE")
        name, _hash, nth = component.partition("#")
        try:
            occurrence = int(nth) if nth else 1
        except ValueError as exc:
            raise ValueError(f"override {override!r}: bad component number {nth!r}") from exc
        matches = [c for c in pipeline if isinstance(c, dict) and c.get("name") == name]
        if not 1 <= occurrence <= len(matches):
            raise ValueError(
                f"override {override!r}: the pipeline has {len(matches)} {name} component(s)"
            )
        value = YAML(typ="safe").load(raw) if raw.strip() else None
        matches[occurrence - 1][key] = value
    return out


def drop_components(config: Mapping[str, Any], names: Sequence[str]) -> dict[str, Any]:
    """A copy of a Rasa config without the components of these names (all occurrences)."""
    out = copy.deepcopy(dict(config))
    pipeline = out.get("pipeline")
    if not isinstance(pipeline, list):
        raise ValueError("the config has no pipeline")
    present = {c.get("name") for c in pipeline if isinstance(c, dict)}
    for name in names:
        if name not in present:
            raise ValueError(f"--drop {name}: the pipeline has no such component")
    out["pipeline"] = [
        c for c in pipeline if not (isinstance(c, dict) and c.get("name") in set(names))
    ]
    return out


def load_config(path: Path, overrides: Sequence[str], drop: Sequence[str] = ()) -> dict[str, Any]:
    doc = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
    if not isinstance(doc, dict):
        raise ValueError(f"{path}: not a Rasa config")
    return apply_overrides(drop_components(doc, drop), overrides)


def dump_yaml(data: Any) -> str:
    yaml = YAML()
    yaml.allow_unicode = True
    buffer = io.StringIO()
    yaml.dump(data, buffer)
    return buffer.getvalue()


# --- scoring ------------------------------------------------------------------------------


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


# --- the run ------------------------------------------------------------------------------


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


async def _parse_rankings(
    url: str, token: str, texts: Sequence[str]
) -> tuple[list[str], list[dict[str, float]]]:
    from bot.nlu.rasa import RasaClient

    client = RasaClient(url, token, timeout=PARSE_TIMEOUT)
    intents, rankings = [], []
    try:
        for text in texts:
            result = await client.parse(text)
            intents.append(rasa_output(result).intent)
            rankings.append({n: c for n, c in result.ranking if n != RASA_FALLBACK_INTENT})
    finally:
        await client.aclose()
    return intents, rankings


def run_rasa_fold(
    rasa_bin: Path, config_text: str, train_text: str, texts: Sequence[str], workdir: Path
) -> tuple[list[str], list[dict[str, float]], float]:
    """Train one fold's model, serve it, parse its held-back texts.

    The best intents, the full rankings (without ``nlu_fallback``) and the training seconds.
    """
    data_dir = workdir / "data"
    data_dir.mkdir()
    (data_dir / "nlu.yml").write_text(train_text, encoding="utf-8")
    config = workdir / "config.yml"
    config.write_text(config_text, encoding="utf-8")
    model, seconds = train_model(
        rasa_bin,
        ROOT / "nlu",
        workdir,
        workdir / "rasa-train.log",
        config=config,
        data=data_dir,
    )
    with RasaServer(rasa_bin, model, workdir / "rasa-server.log", workdir) as server:
        intents, rankings = asyncio.run(_parse_rankings(server.url, server.token, texts))
    return intents, rankings, seconds


def tfidf_lr_answers(
    train_texts: Sequence[str], train_gold: Sequence[str], texts: Sequence[str]
) -> tuple[list[str], list[dict[str, float]]]:
    """Train the ``tfidf_lr`` baseline; its best intent and its probabilities per text."""
    baseline = train_tfidf_lr(train_texts, train_gold)
    classes = [str(c) for c in baseline.classes_]
    labels = [str(label) for label in baseline.predict(texts)]
    probabilities = [
        dict(zip(classes, map(float, row), strict=True)) for row in baseline.predict_proba(texts)
    ]
    return labels, probabilities


def keyword_answers(texts: Sequence[str]) -> list[str] | None:
    """The ``keywords`` baseline's intents, or None while content/ does not load."""
    try:
        return keyword_predictions(texts, ROOT / "content")
    except ContentError as exc:  # content/ being edited: the other systems still compare
        logger.warning("keywords baseline skipped, content/ does not load: %s", exc)
        return None


def _shown(path: Path) -> str:
    return str(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)


def added_since(revision: str, doc: NluDocument) -> tuple[NluDocument, list[Example]]:
    """The training data as it was at git ``revision``, and the examples added since.

    An example counts as added when its line (entity markup included) is not in the same
    intent at ``revision``; its language group is the block's.
    """
    try:
        shown = subprocess.run(
            ["git", "show", f"{revision}:nlu/data/nlu.yml"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError) as exc:
        detail = getattr(exc, "stderr", "") or str(exc)
        raise ValueError(f"no nlu/data/nlu.yml at {revision!r}: {detail.strip()}") from exc
    old = load_document(shown.stdout, f"{revision}:nlu/data/nlu.yml")
    return old, added_examples(old, doc)


def added_examples(old: NluDocument, new: NluDocument) -> list[Example]:
    """Examples of ``new`` whose line is not in the same intent in ``old``, group kept."""
    before = {(item.example.intent, item.line) for item in old.examples}
    return [
        replace(item.example, lang=item.group)
        for item in new.examples
        if (item.example.intent, item.line) not in before
    ]


def run_dev(
    args: argparse.Namespace,
    doc: NluDocument,
    config: Mapping[str, Any],
    examples: Sequence[Example],
    source: str,
) -> dict[str, Any]:
    """Train on all of ``doc``, score fresh ``examples`` it does not hold (``--dev``).

    Cross-validation tests each example against folds written in the same sessions, often
    in the same words, so it flatters a model that memorises. Examples written later and
    never trained on are a fairer guess at how a variant meets new messages; they must not
    come from the held-out sets.
    """
    if not examples:
        raise ValueError(f"{source}: no examples to score")
    texts = [e.text for e in examples]
    gold = [e.intent for e in examples]
    groups = [e.lang or UNTAGGED for e in examples]
    train_texts = [item.example.text for item in doc.examples]
    train_gold = [item.example.intent for item in doc.examples]
    predictions: dict[str, list[str]] = {}
    keywords = keyword_answers(texts)
    if keywords is not None:
        predictions["keywords"] = keywords
    predictions["tfidf_lr"], probabilities = tfidf_lr_answers(train_texts, train_gold, texts)
    seconds = None
    if not args.baseline_only:
        logger.info(
            "dev: training on all %d examples, %d dev examples", len(train_texts), len(texts)
        )
        with tempfile.TemporaryDirectory(prefix="nlu-dev-") as tmp:
            intents, rankings, seconds = run_rasa_fold(
                args.rasa_bin,
                dump_yaml(config),
                training_document(doc, [True] * len(doc.examples)),
                texts,
                Path(tmp),
            )
        predictions["rasa"] = intents
        for weight in args.mix:
            predictions[f"mix-{weight:g}"] = mix_predictions(rankings, probabilities, weight)
    figures = cv_figures(groups, gold, [0] * len(texts), predictions)
    return {
        "source": source,
        "examples": len(texts),
        "training_seconds": round(seconds, 1) if seconds is not None else None,
        "groups": figures["groups"],
        "intent": figures["intent"],
        "misread": misread_examples(
            texts,
            groups,
            gold,
            [-1] * len(texts),
            {k: v for k, v in predictions.items() if k in ERROR_SYSTEMS},
        ),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    data_file = args.data
    doc = load_document(data_file.read_text(encoding="utf-8"), str(data_file))
    config = load_config(args.config, args.set, args.drop)
    dev: dict[str, Any] | None = None
    if args.added_since:
        doc, added = added_since(args.added_since, doc)
        source = f"the examples added to nlu/data/nlu.yml since {args.added_since}"
        dev = run_dev(args, doc, config, added, source)
    elif args.dev:
        fresh = load_nlu_dir(args.dev).examples
        dev = run_dev(args, doc, config, fresh, _shown(args.dev))
    items = doc.examples
    head = {
        "name": args.name,
        "config": _shown(args.config),
        "data": args.added_since or _shown(args.data),
        "overrides": list(args.set),
        "dropped": list(args.drop),
    }
    if args.dev_only:
        assert dev is not None  # parse_args refuses --dev-only without a dev set
        return head | {"examples": len(items), "dev": dev}
    gold = [item.example.intent for item in items]
    groups = [item.group for item in items]
    folds = assign_folds(
        [f"{g}|{lang}" for g, lang in zip(gold, groups, strict=True)], args.folds, args.seed
    )
    texts = [item.example.text for item in items]
    predictions: dict[str, list[str]] = {system: [""] * len(items) for system in SYSTEMS}
    keywords = keyword_answers(texts)
    if keywords is None:
        del predictions["keywords"]
    else:
        predictions["keywords"] = keywords
    seconds: list[float] = []
    rankings: list[dict[str, float]] = [{} for _ in items]
    probabilities: list[dict[str, float]] = [{} for _ in items]
    run_folds = min(args.max_folds or args.folds, args.folds)
    for fold in range(run_folds):
        test = [i for i, f in enumerate(folds) if f == fold]
        train = [i for i, f in enumerate(folds) if f != fold]
        labels, fold_probabilities = tfidf_lr_answers(
            [texts[i] for i in train], [gold[i] for i in train], [texts[i] for i in test]
        )
        for i, label, probability in zip(test, labels, fold_probabilities, strict=True):
            predictions["tfidf_lr"][i] = label
            probabilities[i] = probability
        if args.baseline_only:
            continue
        logger.info(
            "fold %d/%d: %d training, %d test examples", fold + 1, run_folds, len(train), len(test)
        )
        with tempfile.TemporaryDirectory(prefix="nlu-cv-") as tmp:
            intents, fold_rankings, fold_seconds = run_rasa_fold(
                args.rasa_bin,
                dump_yaml(config),
                training_document(doc, [f != fold for f in folds]),
                [texts[i] for i in test],
                Path(tmp),
            )
        seconds.append(fold_seconds)
        for i, intent, ranking in zip(test, intents, fold_rankings, strict=True):
            predictions["rasa"][i] = intent
            rankings[i] = ranking
        fold_scores = intent_scores([gold[i] for i in test], intents)
        logger.info("fold %d: rasa macro-F1 %.3f", fold + 1, fold_scores["macro_f1"])
    if args.baseline_only:
        del predictions["rasa"]
    tested = [i for i, f in enumerate(folds) if f < run_folds]
    mixes: dict[str, Any] = {}
    if not args.baseline_only:
        for weight in args.mix:
            predictions[f"mix-{weight:g}"] = mix_predictions(rankings, probabilities, weight)
        if args.mix:
            middle = min(args.mix, key=lambda w: abs(w - 0.5))
            mixes = disagreements(
                [gold[i] for i in tested],
                [predictions["rasa"][i] for i in tested],
                [predictions["tfidf_lr"][i] for i in tested],
                [predictions[f"mix-{middle:g}"][i] for i in tested],
            ) | {"mix": middle}
    result: dict[str, Any] = head | {
        "folds": args.folds,
        "folds_run": run_folds,
        "seed": args.seed,
        "examples": len(items),
        "training_seconds": [round(s, 1) for s in seconds],
        "examples_tested": len(tested),
        "disagreements": mixes,
        "misread": misread_examples(
            [texts[i] for i in tested],
            [groups[i] for i in tested],
            [gold[i] for i in tested],
            [folds[i] for i in tested],
            {
                system: [labels[i] for i in tested]
                for system, labels in predictions.items()
                if system in ERROR_SYSTEMS
            },
        ),
        **cv_figures(
            [groups[i] for i in tested],
            [gold[i] for i in tested],
            [folds[i] for i in tested],
            {system: [labels[i] for i in tested] for system, labels in predictions.items()},
        ),
    }
    if dev is not None:
        result["dev"] = dev
    return result


def _weights(text: str) -> list[float]:
    try:
        weights = [float(part) for part in text.split(",") if part.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a list of numbers: {text!r}") from exc
    if not weights or not all(0.0 <= w <= 1.0 for w in weights):
        raise argparse.ArgumentTypeError(f"weights must be between 0 and 1: {text!r}")
    return weights


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--rasa-bin", type=Path, default=ROOT / ".venv-rasa" / "bin" / "rasa")
    parser.add_argument("--config", type=Path, default=ROOT / "nlu" / "config.yml")
    parser.add_argument(
        "--data", type=Path, default=ROOT / "nlu" / "data" / "nlu.yml", metavar="FILE",
        help="training data (default nlu/data/nlu.yml); an older version, with --dev set to "
        "the examples added since, asks how well a variant meets a new batch of writing",
    )  # fmt: skip
    parser.add_argument(
        "--set", action="append", default=[], metavar="COMPONENT.KEY=VALUE",
        help="override one component option (repeatable)",
    )  # fmt: skip
    parser.add_argument(
        "--drop", action="append", default=[], metavar="COMPONENT",
        help="remove a component from the pipeline (repeatable)",
    )  # fmt: skip
    parser.add_argument(
        "--mix", type=_weights, default=[], metavar="W1,W2,...",
        help="also score W x Rasa's ranking + (1 - W) x tfidf_lr's probabilities per weight",
    )  # fmt: skip
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument(
        "--max-folds", type=int, default=None, metavar="N",
        help="run only the first N folds (1: one stratified dev split of 1/FOLDS)",
    )  # fmt: skip
    parser.add_argument("--seed", type=int, default=0, help="seed of the fold split")
    parser.add_argument("--name", default="current", help="variant name (output file name)")
    parser.add_argument("--out", type=Path, default=ROOT / "nlu" / "reports" / "cv")
    parser.add_argument("--baseline-only", action="store_true", help="skip Rasa")
    parser.add_argument(
        "--errors", action="store_true",
        help="also write <out>/cv-<name>-errors.json: the training examples Rasa or "
        "tfidf_lr misread in CV, with both predictions",
    )  # fmt: skip
    parser.add_argument(
        "--dev", type=Path, default=None, metavar="DIR",
        help="also train on all the training data and score the fresh examples in DIR "
        "(Rasa NLU YAML, groups from metadata: lang); never the held-out sets",
    )  # fmt: skip
    parser.add_argument(
        "--dev-only", action="store_true", help="score --dev only, skip cross-validation"
    )
    parser.add_argument("-v", "--verbose", action="store_true")
    parser.add_argument(
        "--added-since", default=None, metavar="REV",
        help="train on nlu/data/nlu.yml as it was at git REV and score the examples added "
        "since (implies --dev-only)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.added_since:
        if args.dev is not None:
            parser.error("--added-since and --dev are two different dev sets: choose one")
        args.dev_only = True
    if args.dev_only and args.dev is None and not args.added_since:
        parser.error("--dev-only needs --dev DIR or --added-since REV")
    if args.dev is not None:
        args.dev = args.dev.resolve()
        if args.dev.is_relative_to((ROOT / "nlu" / "tests").resolve()):
            parser.error("--dev must not be the held-out sets (nlu/tests): they judge once")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
        datefmt="%H:%M:%S",
    )
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    args.rasa_bin = args.rasa_bin.absolute()
    args.config = args.config.resolve()
    if not args.baseline_only and not args.rasa_bin.exists():
        logger.error("rasa executable %s not found (run ./dev setup)", args.rasa_bin)
        return 2
    try:
        result = run(args)
    except (ReportError, ValueError, OSError) as exc:
        logger.error("%s", exc)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    # misreadings: cross-validation's ("misread"), then the dev set's; never in cv-<name>.json
    misread: dict[str, list[dict[str, Any]]] = {}
    if "misread" in result:
        misread[""] = result.pop("misread")
    if "dev" in result:
        misread["-dev"] = result["dev"].pop("misread")
    if args.errors:
        for suffix, rows in misread.items():
            errors = args.out / f"cv-{args.name}{suffix}-errors.json"
            errors.write_text(json.dumps(rows, indent=1, ensure_ascii=False) + "\n", "utf-8")
            logger.info("wrote %s (%d examples)", errors, len(rows))
    path = args.out / f"cv-{args.name}.json"
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(render_summary(result))
    logger.info("wrote %s", path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
