"""Retrain and compare: a candidate model beside the served one, promoted only if not worse.

One run (``kunnafoni nlu retrain``):

1. trains a candidate from every file of ``nlu/data`` (``reviewed.yml``, the examples
   labelled in the console's review queue, included) into its own run folder, while the
   Rasa server keeps serving the current model;
2. scores the current and the candidate model on the held-out sets (``nlu/tests``), per
   language group and per intent, each served by a private server on loopback;
3. scores the newly labelled examples: the current model on all of them (it never saw
   them), the candidate by cross-validation (trained without the fold it is scored on);
4. decides with :func:`decide` and, when the candidate is not worse, loads it into the
   running server with ``PUT /model`` (the old model serves until the new one is loaded);
5. writes every step to ``run.json`` in the run folder: when, who, data hash, paths,
   figures, decision. :func:`rollback` loads the model a promotion replaced.

Training, parsing and the server are behind three small interfaces (:class:`Trainer`,
:class:`Predictor`, :class:`ModelServer`) so the logic is tested without Rasa.
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import httpx

from bot.nlu.rasa import RasaAuth, RasaClient
from bot.nlu.runs import RUN_FILE, read_runs
from scripts.nlu_eval.data import OVERALL, UNTAGGED, Example, load_heldout
from scripts.nlu_eval.errors import ReportError
from scripts.nlu_eval.folds import assign_folds, load_document, training_document
from scripts.nlu_eval.metrics import intent_scores, rasa_output
from scripts.nlu_eval.rasa_server import PARSE_TIMEOUT, RasaServer, train_model
from scripts.nlu_eval.report import nlu_hash
from scripts.nlu_eval.targets import INTENT_F1_TARGETS

logger = logging.getLogger(__name__)

#: The file of the console's review queue; every other ``nlu/data`` file is trained whole.
REVIEWED_FILE = "reviewed.yml"
#: Intents whose recall on the held-out sets a candidate may never lower.
CRISIS_INTENTS = ("emergency", "self_harm")
#: How much lower a group's held-out macro-F1 may be and still count as "not worse": the
#: spread between two trainings of the same data with another seed is about this size.
F1_TOLERANCE = 0.01
DEFAULT_FOLDS = 3
FOLD_SEED = 13


# --- process boundaries -----------------------------------------------------------------


class Trainer(Protocol):
    def train(self, data_dir: Path, out_dir: Path) -> Path:
        """Train on the Rasa NLU files of ``data_dir``; the model file (inside ``out_dir``)."""


class Predictor(Protocol):
    def predict(self, model: Path, texts: Sequence[str]) -> list[str]:
        """The best intent ``model`` gives each text (``nlu_fallback`` kept as its answer)."""


class ModelServer(Protocol):
    def loaded(self) -> str | None:
        """The file name of the model the running server serves, None when it serves none."""

    def load(self, model: Path) -> None:
        """Make the running server serve ``model``; raise :class:`ReportError` if it fails."""


@dataclass
class RasaTrainer:
    rasa_bin: Path
    nlu_dir: Path

    def train(self, data_dir: Path, out_dir: Path) -> Path:
        out_dir.mkdir(parents=True, exist_ok=True)
        model, _ = train_model(
            self.rasa_bin, self.nlu_dir, out_dir, out_dir / "rasa-train.log", data=data_dir
        )
        return model


async def _parse_all(url: str, token: str, texts: Sequence[str]) -> list[str]:
    client = RasaClient(url, token, timeout=PARSE_TIMEOUT)
    try:
        return [rasa_output(await client.parse(text)).intent for text in texts]
    finally:
        await client.aclose()


@dataclass
class RasaPredictor:
    """Serves a model on a private loopback port for the time of one batch of parses."""

    rasa_bin: Path

    def predict(self, model: Path, texts: Sequence[str]) -> list[str]:
        with tempfile.TemporaryDirectory(prefix="nlu-eval-") as tmp:
            workdir = Path(tmp)
            with RasaServer(self.rasa_bin, model, workdir / "rasa.log", workdir) as server:
                return asyncio.run(_parse_all(server.url, server.token, texts))


@dataclass
class RasaModelServer:
    """The Rasa server the bot uses (``RASA_URL``), driven with the bot's JWT secret.

    Rasa's ``PUT /model`` loads the new model and only then replaces the old one, so no
    request meets a server without a model; but it loads inside its event loop, so parses
    wait while it loads (docs/nlu.md, "Retrain and compare").
    """

    url: str
    token: str | None
    timeout: float = 300.0

    def _headers(self) -> dict[str, str]:
        return RasaAuth(self.token).headers() if self.token else {}

    def loaded(self) -> str | None:
        try:
            response = httpx.get(f"{self.url}/status", headers=self._headers(), timeout=10)
        except httpx.HTTPError as exc:
            raise ReportError(f"the Rasa server at {self.url} does not answer: {exc}") from exc
        if response.status_code in (401, 403):
            raise ReportError(f"the Rasa server refused the token (HTTP {response.status_code})")
        if response.status_code == 409:  # no agent loaded
            return None
        if response.status_code != 200:
            raise ReportError(f"the Rasa server answered HTTP {response.status_code} to /status")
        name = response.json().get("model_file")
        return str(name) if name else None

    def load(self, model: Path) -> None:
        try:
            response = httpx.put(
                f"{self.url}/model",
                json={"model_file": str(model.resolve())},
                headers=self._headers(),
                timeout=self.timeout,
            )
        except httpx.HTTPError as exc:
            raise ReportError(f"loading {model.name} failed: {exc}") from exc
        if response.status_code != 204:
            raise ReportError(
                f"the Rasa server did not load {model.name} (HTTP {response.status_code}):"
                f" {response.text[:300]}"
            )
        if self.loaded() != model.name:
            raise ReportError(f"the Rasa server does not report {model.name} after loading it")


# --- figures and decision ----------------------------------------------------------------


def score(
    gold: Mapping[str, Sequence[str]], predicted: Mapping[str, Sequence[str]]
) -> dict[str, Any]:
    """Per group (and overall): accuracy and macro-F1; per intent (pooled): F1 and recall."""
    from sklearn.metrics import precision_recall_fscore_support  # type: ignore[import-untyped]

    groups = {g: intent_scores(gold[g], predicted[g]) for g in gold}
    all_gold = [label for g in gold for label in gold[g]]
    all_pred = [label for g in gold for label in predicted[g]]
    groups[OVERALL] = intent_scores(all_gold, all_pred)
    labels = sorted(set(all_gold))
    intents: dict[str, Any] = {}
    if labels:
        precision, recall, f1, support = precision_recall_fscore_support(
            all_gold, all_pred, labels=labels, zero_division=0
        )
        for i, label in enumerate(labels):
            intents[label] = {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "n": int(support[i]),
            }
    return {"groups": groups, "intents": intents}


@dataclass(frozen=True)
class Decision:
    promote: bool
    reasons: list[str]

    def as_json(self) -> dict[str, Any]:
        return {"promote": self.promote, "reasons": self.reasons}


def decide(
    current: Mapping[str, Any], candidate: Mapping[str, Any], *, tolerance: float = F1_TOLERANCE
) -> Decision:
    """Not worse on the held-out sets means all three conditions hold:

    - every language group's macro-F1 is at least the current one minus ``tolerance``;
    - the recall of each crisis intent (:data:`CRISIS_INTENTS`) is never lower;
    - a macro-F1 target of ``scripts/nlu_eval/targets.py`` the current model meets, the
      candidate meets too.
    """
    reasons = []
    cur_groups, cand_groups = current["groups"], candidate["groups"]
    for group, figures in cur_groups.items():
        if group == OVERALL:
            continue
        before = figures.get("macro_f1")
        after = (cand_groups.get(group) or {}).get("macro_f1")
        if before is None:
            continue
        if after is None:
            reasons.append(f"{group}: no figure for the candidate")
        elif after < before - tolerance:
            reasons.append(
                f"{group}: macro-F1 {after:.3f} < {before:.3f} - {tolerance:g} (current)"
            )
        minimum = INTENT_F1_TARGETS.get(group)
        if minimum is not None and after is not None and before >= minimum > after:
            reasons.append(f"{group}: macro-F1 {after:.3f} misses the target {minimum:.2f}")
    for intent in CRISIS_INTENTS:
        before = (current["intents"].get(intent) or {}).get("recall")
        after = (candidate["intents"].get(intent) or {}).get("recall")
        if before is None:
            continue
        if after is None or after < before:
            shown = "none" if after is None else f"{after:.3f}"
            reasons.append(f"{intent}: recall {shown} < {before:.3f} (current)")
    return Decision(not reasons, reasons)


# --- newly labelled examples -------------------------------------------------------------


def reviewed_examples(data_dir: Path) -> list[Example]:
    path = data_dir / REVIEWED_FILE
    if not path.exists():
        return []
    try:
        doc = load_document(path.read_text(encoding="utf-8"), str(path))
    except ValueError as exc:
        raise ReportError(str(exc)) from exc
    return [item.example for item in doc.examples]


Labels = dict[str, list[str]]


def _by_group(examples: Sequence[Example], answers: Sequence[str]) -> tuple[Labels, Labels]:
    gold: Labels = {}
    predicted: Labels = {}
    for example, answer in zip(examples, answers, strict=True):
        group = example.lang or UNTAGGED
        gold.setdefault(group, []).append(example.intent)
        predicted.setdefault(group, []).append(answer)
    return gold, predicted


def cross_validate_reviewed(
    data_dir: Path, folds: int, trainer: Trainer, predictor: Predictor, workdir: Path
) -> list[str]:
    """Each reviewed example's intent by a model trained on everything but its fold."""
    path = data_dir / REVIEWED_FILE
    doc = load_document(path.read_text(encoding="utf-8"), str(path))
    strata = [f"{item.example.intent}/{item.group}" for item in doc.examples]
    assigned = assign_folds(strata, min(folds, len(doc.examples)), FOLD_SEED)
    answers = [""] * len(doc.examples)
    for fold in sorted(set(assigned)):
        fold_dir = workdir / f"fold-{fold}"
        fold_data = fold_dir / "data"
        fold_data.mkdir(parents=True)
        for source in data_dir.rglob("*.yml"):
            if source.name != REVIEWED_FILE:
                target = fold_data / source.relative_to(data_dir)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, target)
        keep = [f != fold for f in assigned]
        (fold_data / REVIEWED_FILE).write_text(training_document(doc, keep), encoding="utf-8")
        logger.info("reviewed examples: training fold %d of %d", fold + 1, len(set(assigned)))
        model = trainer.train(fold_data, fold_dir)
        held = [i for i, f in enumerate(assigned) if f == fold]
        for index, answer in zip(
            held,
            predictor.predict(model, [doc.examples[i].example.text for i in held]),
            strict=True,
        ):
            answers[index] = answer
        shutil.rmtree(fold_dir, ignore_errors=True)  # a fold's model is not kept
    return answers


# --- runs --------------------------------------------------------------------------------


def now_utc() -> datetime:
    return datetime.now(UTC)


def write_run(run_dir: Path, record: Mapping[str, Any]) -> None:
    tmp = run_dir / f"{RUN_FILE}.tmp"
    tmp.write_text(json.dumps(record, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    tmp.replace(run_dir / RUN_FILE)


@dataclass
class RetrainSetup:
    nlu_dir: Path
    runs_dir: Path
    models_dir: Path
    trainer: Trainer
    predictor: Predictor
    server: ModelServer
    by: str
    folds: int = DEFAULT_FOLDS
    tolerance: float = F1_TOLERANCE
    promote: bool = True
    current_model: Path | None = None
    clock: Callable[[], datetime] = now_utc


def _current_model(setup: RetrainSetup) -> Path:
    if setup.current_model is not None:
        if not setup.current_model.is_file():
            raise ReportError(f"current model {setup.current_model} not found")
        return setup.current_model
    name = setup.server.loaded()
    if name is None:
        raise ReportError("the Rasa server serves no model: nothing to compare with")
    for folder in (setup.models_dir, *sorted(setup.runs_dir.glob("*"))):
        if (folder / name).is_file():
            return folder / name
    raise ReportError(
        f"the served model {name} is not in {setup.models_dir}: give it with --current-model"
    )


def retrain(setup: RetrainSetup) -> dict[str, Any]:
    """One whole run; its record (also written to ``<runs_dir>/<id>/run.json``)."""
    data_dir = setup.nlu_dir / "data"
    heldout = load_heldout(setup.nlu_dir / "tests")
    current_model = _current_model(setup)
    started = setup.clock()
    data_hash = nlu_hash(setup.nlu_dir)
    run_id = f"{started:%Y%m%dT%H%M%SZ}-{data_hash[:8]}"
    run_dir = setup.runs_dir / run_id
    run_dir.mkdir(parents=True, exist_ok=False)
    record: dict[str, Any] = {
        "id": run_id,
        "started_at": started.isoformat(),
        "by": setup.by,
        "data_hash": data_hash,
        "current_model": str(current_model),
        "candidate_model": None,
        "status": "training",
        "tolerance": setup.tolerance,
    }
    write_run(run_dir, record)
    try:
        trained = setup.trainer.train(data_dir, run_dir / "train")
        candidate = run_dir / f"nlu-{data_hash}.tar.gz"
        shutil.move(str(trained), candidate)
        record.update(candidate_model=str(candidate), status="evaluating")
        write_run(run_dir, record)

        gold = {g: [e.intent for e in examples] for g, examples in heldout.items()}
        texts = [e.text for g in heldout for e in heldout[g]]
        figures: dict[str, Any] = {}
        for name, model in (("current", current_model), ("candidate", candidate)):
            answers = iter(setup.predictor.predict(model, texts))
            predicted = {g: [next(answers) for _ in heldout[g]] for g in heldout}
            figures[name] = score(gold, predicted)
        record["heldout"] = figures

        reviewed = reviewed_examples(data_dir)
        if reviewed:
            texts = [e.text for e in reviewed]
            current_answers = setup.predictor.predict(current_model, texts)
            section: dict[str, Any] = {
                "examples": len(reviewed),
                "current": score(*_by_group(reviewed, current_answers)),
            }
            if setup.folds >= 2 and len(reviewed) >= 2:
                cv_answers = cross_validate_reviewed(
                    data_dir, setup.folds, setup.trainer, setup.predictor, run_dir / "cv"
                )
                section["candidate_cv"] = score(*_by_group(reviewed, cv_answers))
                section["folds"] = min(setup.folds, len(reviewed))
            record["reviewed"] = section

        decision = decide(figures["current"], figures["candidate"], tolerance=setup.tolerance)
        record["decision"] = decision.as_json()
        if not decision.promote:
            record["status"] = "refused"
        elif not setup.promote:
            record["status"] = "not_promoted"
        else:
            previous = run_dir / f"previous-{current_model.name}"
            shutil.copyfile(current_model, previous)  # rollback must not depend on pruning
            record["previous_model"] = str(previous)
            setup.server.load(candidate)
            setup.models_dir.mkdir(parents=True, exist_ok=True)
            served = setup.models_dir / candidate.name
            if not served.exists():  # ./dev serves it at its next start, without training
                shutil.copyfile(candidate, served)
            record["status"] = "promoted"
            record["promoted_at"] = setup.clock().isoformat()
    except Exception as exc:
        record.update(status="failed", error=str(exc))
        raise
    finally:
        record["finished_at"] = setup.clock().isoformat()
        write_run(run_dir, record)
        shutil.rmtree(run_dir / "train", ignore_errors=True)
    return record


def rollback(
    runs_dir: Path,
    server: ModelServer,
    by: str,
    *,
    run_id: str | None = None,
    clock: Callable[[], datetime] = now_utc,
) -> dict[str, Any]:
    """Load again the model the latest (or the given) promotion replaced."""
    promoted = [r for r in read_runs(runs_dir) if r.get("status") == "promoted"]
    if run_id is not None:
        promoted = [r for r in promoted if r.get("id") == run_id]
    if not promoted:
        raise ReportError(
            f"no promoted run {run_id} to undo" if run_id else "no promoted run to undo"
        )
    record = promoted[-1]
    previous = Path(record["previous_model"])
    if not previous.is_file():
        raise ReportError(f"the previous model of run {record['id']} is gone: {previous}")
    server.load(previous)
    record.update(status="rolled_back", rolled_back_at=clock().isoformat(), rolled_back_by=by)
    write_run(runs_dir / record["id"], record)
    return record


# --- the comparison table ----------------------------------------------------------------


def _f(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _delta(before: float | None, after: float | None) -> str:
    return "" if before is None or after is None else f"{after - before:+.3f}"


def render(record: Mapping[str, Any]) -> str:
    """The run as plain-text tables: per language group, per intent, reviewed, decision."""
    lines = [f"run {record['id']}  by {record['by']}  data {record['data_hash']}"]
    heldout = record.get("heldout")
    if heldout:
        cur, cand = heldout["current"], heldout["candidate"]
        lines += ["", "held-out sets: macro-F1 per language group", ""]
        lines.append(f"{'group':<10}{'n':>5}{'current':>10}{'candidate':>11}{'change':>9}")
        for group, figures in cur["groups"].items():
            after = cand["groups"].get(group, {}).get("macro_f1")
            lines.append(
                f"{group:<10}{figures['n']:>5}{_f(figures['macro_f1']):>10}"
                f"{_f(after):>11}{_delta(figures['macro_f1'], after):>9}"
            )
        lines += ["", "held-out sets: F1 per intent (all groups)", ""]
        lines.append(f"{'intent':<22}{'n':>5}{'current':>10}{'candidate':>11}{'change':>9}")
        for intent, figures in cur["intents"].items():
            after = cand["intents"].get(intent, {}).get("f1")
            mark = (
                "  (recall {} -> {})".format(
                    _f(figures["recall"]), _f(cand["intents"].get(intent, {}).get("recall"))
                )
                if intent in CRISIS_INTENTS
                else ""
            )
            lines.append(
                f"{intent:<22}{figures['n']:>5}{_f(figures['f1']):>10}"
                f"{_f(after):>11}{_delta(figures['f1'], after):>9}{mark}"
            )
    reviewed = record.get("reviewed")
    if reviewed:
        lines += ["", f"newly labelled examples ({reviewed['examples']}): macro-F1", ""]
        cv = reviewed.get("candidate_cv")
        header = "candidate (cross-validated)" if cv else "candidate (not cross-validated)"
        lines.append(f"{'group':<10}{'n':>5}{'current':>10}   {header}")
        for group, figures in reviewed["current"]["groups"].items():
            after = cv["groups"].get(group, {}).get("macro_f1") if cv else None
            lines.append(f"{group:<10}{figures['n']:>5}{_f(figures['macro_f1']):>10}   {_f(after)}")
    decision = record.get("decision")
    lines.append("")
    if decision:
        verdict = "not worse" if decision["promote"] else "worse"
        lines.append(f"decision: {verdict}; status {record['status']}")
        lines += [f"  - {reason}" for reason in decision["reasons"]]
    else:
        lines.append(f"status {record['status']}: {record.get('error', '')}")
    return "\n".join(lines)
