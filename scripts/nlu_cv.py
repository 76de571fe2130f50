"""Cross-validate an NLU pipeline on the training data only, against the same baselines.

The held-out sets (``nlu/tests/``) judge the final model once; choosing between pipeline
variants on them would make their figures optimistic. This script compares variants on
``nlu/data`` alone. Run from the repository root with the bot's environment::

    .venv/bin/python -m scripts.nlu_cv --rasa-bin .venv-rasa/bin/rasa [--folds 5] \\
        [--config FILE] [--set COMPONENT.KEY=VALUE ...] [--drop COMPONENT ...] \\
        [--data FILE] [--dev DIR [--dev-only] | --added-since REV] [--errors] \\
        [--name NAME] [--out DIR]

Steps:

1. split the training examples into ``--folds`` folds, stratified by (intent, language
   group), with a fixed ``--seed``: every example is tested exactly once;
2. for each fold, write the other folds as Rasa NLU data (synonym, regex and lookup blocks
   kept whole), train the pipeline (``--config``, default ``nlu/config.yml``, with the
   ``--set`` overrides applied) on it, serve it and parse the fold's examples through the
   bot's ``RasaClient``, as ``scripts.nlu_report`` does for the held-out sets;
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

This module only reads the options and writes the files; the work is done in the
:mod:`scripts.nlu_eval` package, whose splitting, config overrides and scoring are pure
functions, tested in ``tests/test_nlu_cv.py``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from scripts.nlu_eval.cv import run
from scripts.nlu_eval.cv_scores import render_summary
from scripts.nlu_eval.data import ROOT
from scripts.nlu_eval.errors import ReportError

logger = logging.getLogger("nlu_cv")


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
