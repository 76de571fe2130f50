"""Retrain and compare with the real Rasa: a tiny candidate trained, compared, promoted.

Its own Rasa server (not the session one: the test swaps its model) serves the trained
model of ``./dev test`` (KUNNAFONI_RASA_MODEL). A candidate trained on two intents only is
compared with it on a held-out set both read right, promoted with ``PUT /model``, and the
running server then answers with the candidate's two intents; rolling back restores the
full model. One training and three server start-ups: a few minutes.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from bot.config import PROJECT_ROOT
from bot.nlu.rasa import RasaClient
from scripts.nlu_eval.rasa_server import RasaServer
from scripts.nlu_eval.retrain import (
    RasaModelServer,
    RasaPredictor,
    RasaTrainer,
    RetrainSetup,
    retrain,
    rollback,
)
from tests.support.environment import IN_CI
from tests.support.rasa import MISSING, rasa_paths

pytestmark = pytest.mark.rasa

TINY_DATA = """version: "3.1"
nlu:
- intent: greet
  metadata: {lang: fr}
  examples: |
    - bonjour
    - salut
    - bonsoir
    - coucou
    - bonjour à tous
    - salut ça va
- intent: emergency
  metadata: {lang: fr}
  examples: |
    - au secours
    - aidez moi
    - sos
    - urgence
    - au secours aidez moi
    - c'est une urgence
"""
HELDOUT = """version: "3.1"
nlu:
- intent: greet
  examples: |
    - bonjour
    - salut
- intent: emergency
  examples: |
    - au secours
    - aidez moi
"""


def tiny_nlu_dir(root: Path) -> Path:
    nlu = root / "nlu"
    (nlu / "data").mkdir(parents=True)
    (nlu / "tests").mkdir()
    for name in ("config.yml", "domain.yml", "requirements.txt"):
        shutil.copyfile(PROJECT_ROOT / "nlu" / name, nlu / name)
    (nlu / "data" / "nlu.yml").write_text(TINY_DATA, encoding="utf-8")
    (nlu / "tests" / "test_fr.yml").write_text(HELDOUT, encoding="utf-8")
    return nlu


async def ranked_intents(url: str, token: str, text: str) -> set[str]:
    client = RasaClient(url, token, timeout=30)
    try:
        result = await client.parse(text)
    finally:
        await client.aclose()
    return {name for name, _ in result.ranking}


def test_a_tiny_candidate_is_trained_compared_promoted_and_rolled_back(tmp_path: Path) -> None:
    paths = rasa_paths()
    if paths is None:
        if IN_CI:
            pytest.fail(f"Rasa integration tests must run in CI: {MISSING}", pytrace=False)
        pytest.skip(MISSING)
    rasa_bin, model = paths
    nlu_dir = tiny_nlu_dir(tmp_path)
    with RasaServer(rasa_bin, model, tmp_path / "rasa.log", tmp_path) as server:
        before = asyncio.run(ranked_intents(server.url, server.token, "je veux partir en Libye"))
        assert "risks_libya" in before
        served = RasaModelServer(server.url, server.token)
        assert served.loaded() == model.name
        setup = RetrainSetup(
            nlu_dir=nlu_dir,
            runs_dir=tmp_path / "runs",
            models_dir=tmp_path / "models",
            trainer=RasaTrainer(rasa_bin, nlu_dir),
            predictor=RasaPredictor(rasa_bin),
            server=served,
            by="integration-test",
            folds=0,
            current_model=model,
        )
        record = retrain(setup)
        assert record["status"] == "promoted", record.get("decision")
        candidate = Path(record["candidate_model"])
        assert served.loaded() == candidate.name
        after = asyncio.run(ranked_intents(server.url, server.token, "je veux partir en Libye"))
        assert after <= {"greet", "emergency", "nlu_fallback"}  # what it understands changed

        undone = rollback(setup.runs_dir, served, "integration-test")
        assert undone["status"] == "rolled_back"
        again = asyncio.run(ranked_intents(server.url, server.token, "je veux partir en Libye"))
        assert "risks_libya" in again
