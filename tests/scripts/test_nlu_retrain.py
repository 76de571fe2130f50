"""Retrain and compare, with a fake trainer, predictor and server at the process boundary."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import pytest

from bot.cli import main
from bot.nlu.runs import RUN_FILE, read_runs
from scripts.nlu_eval.errors import ReportError
from scripts.nlu_eval.retrain import (
    RetrainSetup,
    decide,
    render,
    retrain,
    rollback,
    score,
)

TRAIN = """version: "3.1"
nlu:
- intent: greet
  metadata: {lang: fr}
  examples: |
    - bonjour
    - salut
- intent: emergency
  metadata: {lang: fr}
  examples: |
    - au secours
    - aidez moi
"""
REVIEWED = """version: "3.1"
nlu:
- intent: greet
  metadata: {lang: bm}
  examples: |
    - i ni ce
    - i ni sogoma
- intent: emergency
  metadata: {lang: mixed}
  examples: |
    - an dɛmɛ svp
    - danger n bɛ yen
"""
HELDOUT = {
    "fr": ("greet", ["bonsoir", "coucou"], "emergency", ["sos", "urgence"]),
    "bm": ("greet", ["aw ni ce", "i ka kɛnɛ"], "emergency", ["n dɛmɛ", "farati"]),
}

Rule = Callable[[str], str]


def heldout_yaml(group: str) -> str:
    greet, greets, other, others = HELDOUT[group]
    lines = ['version: "3.1"', "nlu:"]
    for intent, texts in ((greet, greets), (other, others)):
        lines += [f"- intent: {intent}", "  examples: |"] + [f"    - {t}" for t in texts]
    return "\n".join(lines) + "\n"


@pytest.fixture
def nlu_dir(tmp_path: Path) -> Path:
    root = tmp_path / "nlu"
    (root / "data").mkdir(parents=True)
    (root / "tests").mkdir()
    (root / "config.yml").write_text("language: mul\n", encoding="utf-8")
    (root / "domain.yml").write_text("intents: [greet, emergency]\n", encoding="utf-8")
    (root / "data" / "nlu.yml").write_text(TRAIN, encoding="utf-8")
    (root / "data" / "reviewed.yml").write_text(REVIEWED, encoding="utf-8")
    for group in HELDOUT:
        (root / "tests" / f"test_{group}.yml").write_text(heldout_yaml(group), encoding="utf-8")
    return root


EMERGENCY_WORDS = ("sos", "urgence", "dɛmɛ", "farati", "danger", "secours")


def right(text: str) -> str:
    return "emergency" if any(w in text for w in EMERGENCY_WORDS) else "greet"


def deaf_to_bambara(text: str) -> str:
    return "greet" if "dɛmɛ" in text or "farati" in text else right(text)


class FakeTrainer:
    """Writes a "model" whose content names the rule the fake predictor applies."""

    def __init__(self, rule: str) -> None:
        self.rule = rule
        self.trained: list[list[str]] = []

    def train(self, data_dir: Path, out_dir: Path) -> Path:
        out_dir.mkdir(parents=True, exist_ok=True)
        self.trained.append(sorted(p.read_text(encoding="utf-8") for p in data_dir.rglob("*.yml")))
        model = out_dir / "model.tar.gz"
        model.write_text(self.rule, encoding="utf-8")
        return model


class FakePredictor:
    RULES: ClassVar[dict[str, Rule]] = {"right": right, "deaf": deaf_to_bambara}

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    def predict(self, model: Path, texts: Sequence[str]) -> list[str]:
        rule = model.read_text(encoding="utf-8")
        self.calls.append((rule, len(texts)))
        return [self.RULES[rule](t) for t in texts]


class FakeServer:
    def __init__(self, current: Path | None) -> None:
        self.served = current
        self.loads: list[Path] = []
        self.fail = False

    def loaded(self) -> str | None:
        return self.served.name if self.served else None

    def load(self, model: Path) -> None:
        if self.fail:
            raise ReportError("HTTP 500")
        assert model.is_file()
        self.loads.append(model)
        self.served = model


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 4, 18, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def make_setup(
    tmp_path: Path, nlu_dir: Path, *, current: str, candidate: str, **kw: Any
) -> tuple[RetrainSetup, FakeServer, FakeTrainer, Path]:
    models = tmp_path / "models"
    models.mkdir(exist_ok=True)
    served = models / "nlu-0000000000000000.tar.gz"
    served.write_text(current, encoding="utf-8")
    server = FakeServer(served)
    trainer = FakeTrainer(candidate)
    setup = RetrainSetup(
        nlu_dir=nlu_dir,
        runs_dir=tmp_path / "runs",
        models_dir=models,
        trainer=trainer,
        predictor=FakePredictor(),
        server=server,
        by="admin-a",
        clock=Clock(),
        **kw,
    )
    return setup, server, trainer, served


def test_a_better_candidate_is_promoted_and_recorded(tmp_path: Path, nlu_dir: Path) -> None:
    setup, server, trainer, _ = make_setup(tmp_path, nlu_dir, current="deaf", candidate="right")
    record = retrain(setup)
    assert record["status"] == "promoted"
    candidate = Path(record["candidate_model"])
    assert server.loads == [candidate] and candidate.read_text() == "right"
    # ./dev finds it under its hash name and serves it at its next start without training.
    assert (setup.models_dir / candidate.name).read_text() == "right"
    assert candidate.name == f"nlu-{record['data_hash']}.tar.gz"
    stored = json.loads((setup.runs_dir / record["id"] / RUN_FILE).read_text())
    assert stored["by"] == "admin-a" and stored["started_at"].startswith("2026-12-04T18:00")
    assert stored["heldout"]["current"]["groups"]["bm"]["macro_f1"] < 1.0
    assert stored["heldout"]["candidate"]["groups"]["bm"]["macro_f1"] == 1.0
    assert stored["decision"] == {"promote": True, "reasons": []}
    assert Path(stored["previous_model"]).read_text() == "deaf"
    # The candidate trains on nlu/data with the reviewed examples, then once per fold
    # without the fold it is scored on.
    assert REVIEWED in trainer.trained[0]
    assert len(trainer.trained) == 1 + 3
    texts = ["i ni ce", "i ni sogoma", "an dɛmɛ svp", "danger n bɛ yen"]
    left_out = [t for files in trainer.trained[1:] for t in texts if not any(t in f for f in files)]
    assert sorted(left_out) == sorted(texts)  # each example held back exactly once
    reviewed = stored["reviewed"]
    assert reviewed["examples"] == 4
    assert reviewed["current"]["groups"]["mixed"]["macro_f1"] < 1.0  # "an dɛmɛ" missed
    assert reviewed["candidate_cv"]["groups"]["overall"]["accuracy"] == 1.0


def test_a_worse_candidate_is_refused_and_nothing_is_loaded(tmp_path: Path, nlu_dir: Path) -> None:
    setup, server, _, served = make_setup(tmp_path, nlu_dir, current="right", candidate="deaf")
    record = retrain(setup)
    assert record["status"] == "refused"
    assert server.loads == [] and server.served == served
    reasons = " ".join(record["decision"]["reasons"])
    assert "bm: macro-F1" in reasons and "emergency: recall" in reasons
    assert "fr" not in reasons  # French is as good as before
    assert not (setup.models_dir / Path(record["candidate_model"]).name).exists()
    assert "decision: worse" in render(record)


def test_no_promote_compares_only(tmp_path: Path, nlu_dir: Path) -> None:
    setup, server, _, _ = make_setup(
        tmp_path, nlu_dir, current="deaf", candidate="right", promote=False, folds=0
    )
    record = retrain(setup)
    assert record["status"] == "not_promoted" and server.loads == []
    assert "candidate_cv" not in record["reviewed"]


def test_a_failed_load_is_recorded_as_failed(tmp_path: Path, nlu_dir: Path) -> None:
    setup, server, _, served = make_setup(tmp_path, nlu_dir, current="deaf", candidate="right")
    server.fail = True
    with pytest.raises(ReportError):
        retrain(setup)
    [run] = read_runs(setup.runs_dir)
    assert run["status"] == "failed" and "HTTP 500" in run["error"]
    assert server.served == served


def test_a_server_without_a_model_stops_the_run_before_training(
    tmp_path: Path, nlu_dir: Path
) -> None:
    setup, server, trainer, _ = make_setup(tmp_path, nlu_dir, current="right", candidate="right")
    server.served = None
    with pytest.raises(ReportError, match="serves no model"):
        retrain(setup)
    assert trainer.trained == []


def test_rollback_loads_the_replaced_model_and_records_it(tmp_path: Path, nlu_dir: Path) -> None:
    setup, server, _, _ = make_setup(tmp_path, nlu_dir, current="deaf", candidate="right")
    record = retrain(setup)
    undone = rollback(setup.runs_dir, server, "admin-b", clock=Clock())
    assert undone["id"] == record["id"] and undone["status"] == "rolled_back"
    assert server.served is not None and server.served.read_text() == "deaf"
    assert read_runs(setup.runs_dir)[0]["rolled_back_by"] == "admin-b"
    with pytest.raises(ReportError, match="no promoted run"):
        rollback(setup.runs_dir, server, "admin-b")


def test_decide_tolerance_targets_and_crisis_recall() -> None:
    gold = {"other": ["greet", "greet", "emergency", "emergency"]}  # no F1 target
    current = score(gold, {"other": ["greet", "greet", "emergency", "emergency"]})
    assert decide(current, score(gold, gold)).promote
    one_miss = score(gold, {"other": ["greet", "greet", "emergency", "greet"]})
    verdict = decide(current, one_miss, tolerance=0.5)  # F1 within tolerance, but...
    assert verdict.reasons == ["emergency: recall 0.500 < 1.000 (current)"]
    greet_miss = score(gold, {"other": ["greet", "emergency", "emergency", "emergency"]})
    assert decide(current, greet_miss, tolerance=0.5).promote  # crisis recall kept
    assert not decide(current, greet_miss, tolerance=0.1).promote
    fr = {"fr": gold["other"]}
    fr_miss = score(fr, {"fr": ["greet", "emergency", "emergency", "emergency"]})
    reasons = decide(score(fr, fr), fr_miss, tolerance=0.5).reasons
    assert reasons == ["fr: macro-F1 0.733 misses the target 0.92"]


def test_cli_retrain_needs_a_reachable_server(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RASA_URL", "http://127.0.0.1:9")  # discard port: nothing listens
    fake_rasa = tmp_path / "rasa"
    fake_rasa.write_text("#!/bin/sh\nexit 1\n")
    code = main(["nlu", "retrain", "--rasa-bin", str(fake_rasa), "--runs-dir", str(tmp_path)])
    assert code == 1
    assert "does not answer" in capsys.readouterr().err
    assert read_runs(tmp_path) == []


def test_cli_rollback_without_runs(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["nlu", "rollback", "--runs-dir", str(tmp_path)])
    assert code == 1 and "no promoted run" in capsys.readouterr().err
    assert main(["nlu", "runs", "--json", "--runs-dir", str(tmp_path)]) == 0
    assert json.loads(capsys.readouterr().out) == []
