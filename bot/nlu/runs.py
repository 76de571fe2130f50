"""The NLU retraining runs: where their records live, reading them, starting one.

A run (``kunnafoni nlu retrain``, :mod:`scripts.nlu_eval.retrain`) writes
``<RUNS_DIR>/<id>/run.json``; the command line and the console read them here. The
console never trains in its own process: :class:`RetrainLauncher` starts the command as a
child process, one at a time, with the bot's environment (``RASA_URL``, ``RASA_TOKEN``).
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bot.config import PROJECT_ROOT

logger = logging.getLogger(__name__)

#: Run records, candidate models and the models promotions replaced (git-ignored ``data/``).
RUNS_DIR = PROJECT_ROOT / "data" / "nlu-runs"
RUN_FILE = "run.json"
#: What a run needs besides the bot: a source checkout with the NLU folder and evaluation.
CHECKOUT_PARTS = (PROJECT_ROOT / "nlu", PROJECT_ROOT / "scripts" / "nlu_eval")


def read_runs(runs_dir: Path) -> list[dict[str, Any]]:
    """Every run record, oldest first; an unreadable record is skipped with a warning."""
    runs = []
    for path in sorted(runs_dir.glob(f"*/{RUN_FILE}")):
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            logger.warning("run record %s unreadable: %s", path.parent.name, exc)
            continue
        if isinstance(record, dict):
            runs.append(record)
    return runs


class RetrainLauncher:
    """Starts ``kunnafoni nlu retrain`` or ``rollback`` in the background, never two at once."""

    def __init__(
        self,
        runs_dir: Path = RUNS_DIR,
        *,
        command: Sequence[str] = (sys.executable, "-m", "bot"),
        checkout: Sequence[Path] = CHECKOUT_PARTS,
    ) -> None:
        self.runs_dir = runs_dir
        self._command = tuple(command)
        self._checkout = tuple(checkout)
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def available(self) -> bool:
        """False where the bot runs without the NLU sources (the image): no button then."""
        return all(part.is_dir() for part in self._checkout)

    @property
    def busy(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, action: str, by: str) -> bool:
        """Start ``action`` (``retrain`` or ``rollback``) for ``by``; False if one runs."""
        if action not in ("retrain", "rollback"):
            raise ValueError(f"unknown NLU run action {action!r}")
        if self.busy or not self.available:
            return False
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        command = [*self._command, "nlu", action, "--by", by, "--runs-dir", str(self.runs_dir)]
        with (self.runs_dir / f"console-{action}.log").open("wb") as log:
            self._process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, cwd=PROJECT_ROOT
            )
        logger.info("NLU %s started from the console", action)
        return True
