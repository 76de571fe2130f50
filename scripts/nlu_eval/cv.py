"""One cross-validation run: baselines and Rasa per fold, or trained on all and scored on dev.

:func:`run` is what ``python -m scripts.nlu_cv`` does between parsing its options and
writing ``cv-<name>.json``; see that module for the steps and the options.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bot.content.loader import ContentError
from bot.nlu.rasa import RasaClient
from bot.nlu.types import RASA_FALLBACK_INTENT
from scripts.nlu_eval.baselines import keyword_predictions, tfidf_lr_answers
from scripts.nlu_eval.cv_scores import cv_figures, disagreements, misread_examples, mix_predictions
from scripts.nlu_eval.data import ROOT, UNTAGGED, Example, load_nlu_dir
from scripts.nlu_eval.folds import (
    NluDocument,
    added_since,
    assign_folds,
    load_document,
    training_document,
)
from scripts.nlu_eval.metrics import SYSTEMS, intent_scores, rasa_output
from scripts.nlu_eval.rasa_server import PARSE_TIMEOUT, RasaServer, train_model
from scripts.nlu_eval.variants import dump_yaml, load_config

logger = logging.getLogger(__name__)

# Systems whose misreadings --errors lists; the keywords baseline misreads too many to help.
ERROR_SYSTEMS = ("rasa", "tfidf_lr")


async def _parse_rankings(
    url: str, token: str, texts: Sequence[str]
) -> tuple[list[str], list[dict[str, float]]]:
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


def keyword_answers(texts: Sequence[str]) -> list[str] | None:
    """The ``keywords`` baseline's intents, or None while content/ does not load."""
    try:
        return keyword_predictions(texts, ROOT / "content")
    except ContentError as exc:  # content/ being edited: the other systems still compare
        logger.warning("keywords baseline skipped, content/ does not load: %s", exc)
        return None


def _shown(path: Path) -> str:
    return str(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)


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
