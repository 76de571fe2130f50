"""Train the Rasa NLU model and measure it on the held-out test sets, against two baselines.

Run from the repository root with the bot's environment (``./dev nlu-report`` does it)::

    .venv/bin/python -m scripts.nlu_report --rasa-bin .venv-rasa/bin/rasa [--out DIR] [--check]

Steps:

1. train a model from ``nlu/config.yml``, ``nlu/domain.yml`` and ``nlu/data`` into a
   temporary folder, timing it (Rasa's output goes to ``rasa-train.log`` in the output folder);
2. serve it with ``rasa run`` on a free loopback port with a random token and parse every
   held-out example through the bot's own :class:`~bot.nlu.rasa.RasaClient`;
3. score three systems on the same held-out examples, per language group (one group per
   ``nlu/tests/test_<group>.yml``) and overall: ``rasa`` (best intent other than
   ``nlu_fallback``; how often Rasa abstained is reported apart as the fallback rate), a
   ``tfidf_lr`` baseline (TF-IDF word and character n-grams + logistic regression, trained on
   the same training examples) and the ``keywords`` baseline (the bot's keyword triggers);
   plus Rasa's entity extraction, the bot's language identifier and the parse latency;
   and crises first: how many emergencies the bot would miss and how many other messages
   it would put first as emergencies, through its keywords, the model and both together
   (:mod:`scripts.nlu_eval.crisis`, on ``tests/nlu/emergency_keywords.yml`` and the
   held-out sets);
4. write ``report.json``, ``report.md``, ``confusion_matrix.png`` and ``errors.json``.

With ``--check`` the exit status is 1 when a target is missed (see
:mod:`scripts.nlu_eval.targets`). Nothing leaves the loopback interface.

This module only reads the options; the work is done in the :mod:`scripts.nlu_eval`
package, whose parsing, figures, targets and rendering are pure functions, tested in
``tests/test_nlu_report.py``.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from scripts.nlu_eval.crisis import CRISIS_SETS
from scripts.nlu_eval.data import ROOT
from scripts.nlu_eval.errors import ReportError
from scripts.nlu_eval.render import log_summary
from scripts.nlu_eval.report import Paths, run

logger = logging.getLogger("nlu_report")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--rasa-bin", type=Path, required=True, help="the rasa executable")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "nlu" / "reports", help="output folder (nlu/reports)"
    )
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    parser.add_argument("--tests", type=Path, default=None, help="held-out folder (nlu/tests)")
    parser.add_argument(
        "--crisis-sets",
        type=Path,
        default=CRISIS_SETS,
        help="emergency / not_emergency messages (tests/nlu/emergency_keywords.yml)",
    )
    parser.add_argument(
        "--latency-rounds", type=int, default=3, help="rounds over the held-out set (0: skip)"
    )
    parser.add_argument(
        "--model", default=None, help="evaluate this trained model instead of training one"
    )
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser.parse_args(argv)


def _exit_on_sigterm(signum: int, _frame: object) -> None:
    # SystemExit unwinds through the finally blocks that stop the Rasa server.
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
        datefmt="%H:%M:%S",
    )
    for noisy in ("httpx", "httpcore", "matplotlib"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    args.rasa_bin = args.rasa_bin.absolute()
    if not args.rasa_bin.exists():
        logger.error("rasa executable %s not found (run ./dev setup)", args.rasa_bin)
        return 2
    nlu_dir = ROOT / "nlu"
    paths = Paths(
        nlu_dir=nlu_dir,
        tests_dir=(args.tests or nlu_dir / "tests").resolve(),
        content_dir=ROOT / "content",
        out_dir=args.out.resolve(),
        crisis_sets=args.crisis_sets.resolve(),
    )
    try:
        report = run(args, paths)
    except ReportError as exc:
        logger.error("%s", exc)
        return 2
    log_summary(report)
    failed = [t["name"] for t in report["targets"] if not t["passed"]]
    if args.check and failed:
        logger.error("%d target(s) missed: %s", len(failed), "; ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
