"""One report run: baselines, the Rasa model trained and served, every figure, the outputs.

:func:`run` is what ``python -m scripts.nlu_report`` does between parsing its options and
logging the summary; see that module for the steps and the files written.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import hashlib
import logging
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.content.loader import load_catalog
from bot.nlu.keywords import KeywordMatcher
from bot.nlu.rasa import RasaClient
from bot.nlu.types import NluResult, NluUnavailable
from scripts.nlu_eval.baselines import keyword_predictions, language_guesses, train_tfidf_lr
from scripts.nlu_eval.crisis import (
    SET_NAMES,
    crisis_cases,
    crisis_errors,
    crisis_scores,
    heldout_items,
    load_crisis_sets,
)
from scripts.nlu_eval.data import (
    OVERALL,
    domain_intents,
    load_heldout,
    load_nlu_dir,
    train_counts,
)
from scripts.nlu_eval.errors import ReportError
from scripts.nlu_eval.latency import measure
from scripts.nlu_eval.metrics import (
    Scored,
    canonical_entities,
    compute_figures,
    rasa_output,
)
from scripts.nlu_eval.rasa_server import PARSE_TIMEOUT, RasaServer, train_model
from scripts.nlu_eval.render import write_outputs
from scripts.nlu_eval.targets import check_targets

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Paths:
    nlu_dir: Path
    tests_dir: Path
    content_dir: Path
    out_dir: Path
    crisis_sets: Path


async def parse_with_rasa(
    url: str,
    token: str,
    texts: Sequence[str],
    *,
    latency_rounds: int,
    concurrency: int = 1,
    extra: Sequence[str] = (),
) -> tuple[list[NluResult], dict[str, Any] | None]:
    """Every text, then every ``extra`` one, through the bot's RasaClient; then the latency
    benchmark on ``texts`` (the held-out examples) only."""
    client = RasaClient(url, token, timeout=PARSE_TIMEOUT)
    everything = [*texts, *extra]
    try:
        results = []
        for i, text in enumerate(everything, 1):
            try:
                results.append(await client.parse(text))
            except NluUnavailable as exc:
                raise ReportError(f"parse of example {i} failed: {exc}") from exc
            if i % 100 == 0:
                logger.info("parsed %d/%d examples", i, len(everything))
        latency = None
        if latency_rounds > 0:
            logger.info("measuring parse latency (%d rounds)", latency_rounds)
            latency = await measure(
                client, texts, rounds=latency_rounds, warmup=20, concurrency=concurrency
            )
        return results, latency
    finally:
        await client.aclose()


def run(args: argparse.Namespace, paths: Paths) -> dict[str, Any]:
    heldout = load_heldout(paths.tests_dir)
    try:
        training = load_nlu_dir(paths.nlu_dir / "data")
    except ValueError as exc:
        raise ReportError(str(exc)) from exc
    if not training.examples:
        raise ReportError(f"no training example in {paths.nlu_dir / 'data'}")
    logger.info("%d training examples", len(training.examples))
    items = [(name, ex) for name, examples in heldout.items() for ex in examples]
    texts = [ex.text for _name, ex in items]
    crisis_sets = load_crisis_sets(paths.crisis_sets)
    crisis_texts = [text for messages in crisis_sets.values() for text in messages]

    # Baselines first: cheap, and a broken one fails before a long training.
    logger.info("training the tfidf_lr baseline")
    baseline = train_tfidf_lr(
        [ex.text for ex in training.examples], [ex.intent for ex in training.examples]
    )
    tfidf = [str(label) for label in baseline.predict(texts)]
    keywords = keyword_predictions(texts, paths.content_dir)
    languages = language_guesses(texts, paths.content_dir, paths.nlu_dir / "data")

    paths.out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="nlu-report-") as tmp:
        workdir = Path(tmp)
        if args.model:
            model, seconds = Path(args.model).resolve(), None
            logger.warning("using %s: training time is not measured", model)
        else:
            model, seconds = train_model(
                args.rasa_bin, paths.nlu_dir, workdir, paths.out_dir / "rasa-train.log"
            )
        with RasaServer(args.rasa_bin, model, paths.out_dir / "rasa-server.log", workdir) as server:
            version = server.version()
            parses, latency = asyncio.run(
                parse_with_rasa(
                    server.url,
                    server.token,
                    texts,
                    latency_rounds=args.latency_rounds,
                    extra=crisis_texts,
                )
            )
    outputs = [rasa_output(result) for result in parses[: len(texts)]]
    catalog = load_catalog(paths.content_dir)
    cases = crisis_cases(
        {
            **{name: [(t, must) for t in crisis_sets[name]] for name, must in SET_NAMES.items()},
            **heldout_items([(ex.text, ex.intent) for _name, ex in items]),
        },
        dict(zip([*texts, *crisis_texts], parses, strict=True)),
        KeywordMatcher(catalog.keywords()),
    )

    scored = [
        Scored(name, ex, canonical_entities(ex, training.synonyms), out, tf, kw, lang)
        for (name, ex), out, tf, kw, lang in zip(
            items, outputs, tfidf, keywords, languages, strict=True
        )
    ]
    groups = list(heldout)
    report: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        "rasa_version": version,
        "config_sha256": file_hash([paths.nlu_dir / "config.yml"], paths.nlu_dir.parent),
        "nlu_hash": nlu_hash(paths.nlu_dir),
        "training_seconds": seconds,
        "groups": groups,
        "train_examples": train_counts(training.examples, groups),
        "test_examples": {**{g: len(heldout[g]) for g in groups}, OVERALL: len(items)},
        **compute_figures(scored),
        "latency_ms": latency,
        "crisis": {
            "sets": crisis_scores(cases, catalog.intents),
            "source": _shown(paths.crisis_sets, paths.nlu_dir.parent),
        },
    }
    report["targets"] = [t.as_json() for t in check_targets(report)]
    write_outputs(
        report,
        scored,
        domain_intents(paths.nlu_dir / "domain.yml"),
        paths.out_dir,
        crisis=crisis_errors(cases, catalog.intents),
    )
    return report


def file_hash(paths: Sequence[Path], root: Path) -> str:
    """Like ``./dev``: sha256 of the ``sha256sum`` lines of the files, sorted by path."""
    lines = []
    for path in sorted(paths, key=lambda p: p.relative_to(root).as_posix().encode()):
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        lines.append(f"{digest}  {path.relative_to(root).as_posix()}\n")
    return hashlib.sha256("".join(lines).encode()).hexdigest()[:16]


def nlu_hash(nlu_dir: Path) -> str:
    """The hash ``./dev`` names models after (config, domain, requirements, data, components)."""
    files = [nlu_dir / "config.yml", nlu_dir / "domain.yml", nlu_dir / "requirements.txt"]
    for folder in ("data", "kunnafoni_nlu"):
        files += [p for p in (nlu_dir / folder).rglob("*") if p.is_file() and p.suffix != ".pyc"]
    return file_hash([p for p in files if p.exists()], nlu_dir.parent)


def _shown(path: Path, root: Path) -> str:
    """``path`` relative to the repository when it is inside it (no machine path in reports)."""
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else path.name
