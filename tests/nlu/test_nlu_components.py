"""Our Rasa components (``nlu/kunnafoni_nlu``), checked in the Rasa environment.

They run inside Rasa (Python 3.10), not in the bot's environment, so the checks live in
``tests/rasa_env/check_components.py`` and run with the Rasa interpreter next to
``KUNNAFONI_RASA_BIN`` (set by ``./dev test``). They prove that its linear part gives the
same probabilities as the scikit-learn TF-IDF + logistic regression it reimplements, that
a stored model loads without pickle and answers the same, that the blend is the
configured weighted mean, that bad options are refused, and that the folding tokenizer
folds Bambara letters and accents while keeping each token's position in the text.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.support.environment import IN_CI

pytestmark = pytest.mark.rasa

CHECK = Path(__file__).resolve().parents[1] / "rasa_env" / "check_components.py"


def test_component_checks_pass_in_the_rasa_environment() -> None:
    rasa_bin = Path(os.environ.get("KUNNAFONI_RASA_BIN", "") or "/nonexistent")
    python = rasa_bin.parent / "python"
    if not python.exists():
        if IN_CI:
            pytest.fail("the Rasa environment is missing in CI", pytrace=False)
        pytest.skip("no Rasa environment: run the suite with ./dev test")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "RASA_TELEMETRY_ENABLED": "false"}
    result = subprocess.run(
        [str(python), str(CHECK)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert result.stdout.strip().splitlines()[-1] == "ok", output[-4000:]
