"""``kunnafoni nlu``: what the NLU makes of a text; retrain, compare, promote, roll back."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
import sys
from pathlib import Path
from typing import Any

from bot.cli.common import load_settings
from bot.config import PROJECT_ROOT
from bot.content.store import ContentStore
from bot.nlu.runs import RUNS_DIR, read_runs
from bot.runtime import build_nlu

MODELS_DIR = PROJECT_ROOT / "nlu" / "models"


def cmd_nlu_parse(args: argparse.Namespace) -> int:
    settings = load_settings()
    content = ContentStore(settings.content_dir, nlu_data_dir=settings.nlu_data_dir)

    async def parse() -> int:
        nlu = build_nlu(settings, content)
        try:
            result = await nlu.parse(args.text)
        finally:
            await nlu.aclose()
        output = result.as_json()
        identifier = content.language_identifier()
        if identifier is not None:
            guess = identifier.predict(args.text)
            output["language"] = {
                "language": guess.language,
                "confidence": round(guess.confidence, 4),
                "mixed": guess.mixed,
            }
        print(json.dumps(output, ensure_ascii=False, indent=2))
        return 0

    return asyncio.run(parse())


def _rasa_bin(value: str | None) -> Path:
    """``--rasa-bin``, else KUNNAFONI_RASA_BIN, else the project's Rasa environment."""
    found = value or os.environ.get("KUNNAFONI_RASA_BIN") or ""
    return Path(found) if found else PROJECT_ROOT / ".venv-rasa" / "bin" / "rasa"


def _model_server(settings: Any) -> Any:
    from scripts.nlu_eval.retrain import RasaModelServer

    token = settings.rasa_token.get_secret_value() if settings.rasa_token else None
    return RasaModelServer(settings.rasa_url, token)


def _print(record: dict[str, Any], as_json: bool) -> None:
    from scripts.nlu_eval.retrain import render

    print(json.dumps(record, ensure_ascii=False, indent=2) if as_json else render(record))


def _needs_checkout() -> bool:
    # Retraining drives nlu/ and scripts/nlu_eval/ of a source checkout, not an installed wheel.
    if (PROJECT_ROOT / "scripts" / "nlu_eval").is_dir() and (PROJECT_ROOT / "nlu").is_dir():
        return False
    print(
        "kunnafoni: nlu retrain/rollback run from a source checkout (nlu/, scripts/)",
        file=sys.stderr,
    )
    return True


def cmd_nlu_retrain(args: argparse.Namespace) -> int:
    if _needs_checkout():
        return 2
    from scripts.nlu_eval.errors import ReportError
    from scripts.nlu_eval.retrain import RasaPredictor, RasaTrainer, RetrainSetup, retrain

    settings = load_settings()
    rasa_bin = _rasa_bin(args.rasa_bin)
    if not rasa_bin.exists():
        print(f"kunnafoni: no Rasa executable at {rasa_bin} (--rasa-bin)", file=sys.stderr)
        return 2
    nlu_dir = PROJECT_ROOT / "nlu"
    optional: dict[str, Any] = {}
    if args.folds is not None:
        optional["folds"] = args.folds
    if args.tolerance is not None:
        optional["tolerance"] = args.tolerance
    setup = RetrainSetup(
        nlu_dir=nlu_dir,
        runs_dir=Path(args.runs_dir) if args.runs_dir else RUNS_DIR,
        models_dir=MODELS_DIR,
        trainer=RasaTrainer(rasa_bin, nlu_dir),
        predictor=RasaPredictor(rasa_bin),
        server=_model_server(settings),
        by=args.by or getpass.getuser(),
        promote=not args.no_promote,
        current_model=Path(args.current_model) if args.current_model else None,
        **optional,
    )
    try:
        record = retrain(setup)
    except ReportError as exc:
        print(f"kunnafoni: {exc}", file=sys.stderr)
        return 1
    _print(record, args.json)
    # Exit 0 when promoted or left aside on purpose, 3 when the candidate was worse.
    return 3 if record["status"] == "refused" else 0


def cmd_nlu_rollback(args: argparse.Namespace) -> int:
    if _needs_checkout():
        return 2
    from scripts.nlu_eval.errors import ReportError
    from scripts.nlu_eval.retrain import rollback

    settings = load_settings()
    try:
        record = rollback(
            Path(args.runs_dir) if args.runs_dir else RUNS_DIR,
            _model_server(settings),
            args.by or getpass.getuser(),
            run_id=args.run,
        )
    except ReportError as exc:
        print(f"kunnafoni: {exc}", file=sys.stderr)
        return 1
    _print(record, args.json)
    return 0


def cmd_nlu_runs(args: argparse.Namespace) -> int:
    if _needs_checkout():
        return 2
    runs = read_runs(Path(args.runs_dir) if args.runs_dir else RUNS_DIR)
    if args.json:
        print(json.dumps(runs, ensure_ascii=False, indent=2))
        return 0
    for run in runs:
        print(f"{run.get('id')}  {run.get('status')}  by {run.get('by')}")
    return 0
