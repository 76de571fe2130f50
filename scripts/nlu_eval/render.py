"""The report's outputs: ``report.md`` tables, ``report.json``, ``errors.json``, the plot.

One table per metric (rows: systems, columns: groups), then the targets; the JSON keeps
every figure rounded to four decimals. Also the summary logged at the end of a run.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from scripts.nlu_eval.crisis import CRISIS_SYSTEMS
from scripts.nlu_eval.data import OVERALL
from scripts.nlu_eval.metrics import SYSTEMS, Scored, collect_errors

logger = logging.getLogger(__name__)


def _num(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _digits(target_name: str) -> int:
    """Counts of messages as integers, seconds and milliseconds to one decimal, scores to
    three."""
    if target_name.endswith("(messages)"):
        return 0
    return 1 if target_name.endswith(("(s)", "(ms)")) else 3


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f} %"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], align: str = "") -> str:
    """A GitHub table; ``align`` has one ``l`` or ``r`` per column (default: ``l`` then ``r``)."""
    align = align or "l" + "r" * (len(header) - 1)
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---:" if a == "r" else "---" for a in align) + "|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def render_markdown(report: Mapping[str, Any]) -> str:
    """``report.md``: one table per metric (rows: systems, columns: groups), then targets."""
    columns = [*report["groups"], OVERALL]
    intent = report["intent"]
    out = [
        "# NLU evaluation report",
        "",
        f"- date: {report['date']}",
        f"- Rasa {report['rasa_version']}, config `{report['config_sha256']}`,"
        f" NLU data `{report['nlu_hash']}`",
        f"- training time: {_num(report.get('training_seconds'), 1)} s",
        "- held-out sets written independently of the training data;"
        " `rasa` = best intent other than `nlu_fallback`",
        "",
        "## Examples",
        "",
        _table(
            ["", *columns],
            [
                ["train", *(str(report["train_examples"].get(c, 0)) for c in columns)],
                ["test", *(str(report["test_examples"].get(c, 0)) for c in columns)],
            ],
        ),
        "",
        "Training examples per group come from `metadata: {lang: ...}` of the intent blocks;"
        " `overall` counts all of them"
        + (
            f" ({report['train_examples']['untagged']} carry no `lang` tag)."
            if report["train_examples"].get("untagged")
            else "."
        ),
    ]
    for title, key in (("Intent macro-F1", "macro_f1"), ("Intent accuracy", "accuracy")):
        rows = [
            [system, *(_num((intent[system].get(c) or {}).get(key)) for c in columns)]
            for system in SYSTEMS
            if system in intent
        ]
        out += ["", f"## {title}", "", _table(["system", *columns], rows)]
    fallback = report["fallback_rate"]
    out += [
        "",
        "## Rasa fallback rate",
        "",
        "Share of messages where Rasa answered `nlu_fallback` (the bot then re-asks);"
        " the intent figures above use the best other intent of the ranking.",
        "",
        _table(["system", *columns], [["rasa", *(_pct(fallback.get(c)) for c in columns)]]),
    ]
    decisions = report.get("decisions") or {}
    decision_rows = [
        ("acts on the right intent", "acted_right"),
        ("acts on a wrong intent", "acted_wrong"),
        ("asks which intent", "asked"),
        ("asks, gold intent among the buttons", "asked_offering_gold"),
        ("emergency first", "emergency"),
        ("gold emergencies put first", "emergency_recall"),
        ("other messages put first as emergencies", "emergency_false"),
    ]
    out += [
        "",
        "## What the bot does with Rasa's answers",
        "",
        "The engine's own decision (`bot/dialogue/decision.py`, default thresholds: act at"
        " confidence >= 0.5 with a margin of 0.1 over the second intent, emergency first when"
        " it is among the three best at >= 0.15, otherwise ask with buttons). Shares of the"
        " messages; the emergency rows are shares of the gold emergencies and of the other"
        " messages. Rasa alone: the bot's emergency keywords would add to the recall.",
        "",
        _table(
            ["decision", *columns],
            [
                [label, *(_pct((decisions.get(c) or {}).get(key)) for c in columns)]
                for label, key in decision_rows
            ],
        ),
    ]
    entities = report["entities"]
    types = sorted({t for c in columns for t in (entities.get(c) or {}).get("by_type", {})})
    rows = [
        ["rasa F1", *(_num((entities.get(c) or {}).get("f1")) for c in columns)],
        ["rasa precision", *(_num((entities.get(c) or {}).get("precision")) for c in columns)],
        ["rasa recall", *(_num((entities.get(c) or {}).get("recall")) for c in columns)],
    ]
    for name in types:
        cells = []
        for c in columns:
            scores = (entities.get(c) or {}).get("by_type", {}).get(name)
            cells.append(f"{_num(scores['f1'])} ({scores['support']})" if scores else "n/a")
        rows.append([f"rasa F1 `{name}` (gold)", *cells])
    out += [
        "",
        "## Entities (exact entity and canonical value, micro-averaged)",
        "",
        _table(["system", *columns], rows),
    ]
    langid = report.get("language_id") or {}
    if langid:
        out += [
            "",
            "## Language identification accuracy",
            "",
            "The bot's language identifier on the held-out sets of one language;"
            " no guess counts as wrong.",
            "",
            _table(
                ["system", *langid],
                [["langid", *(_num(v.get("accuracy")) for v in langid.values())]],
            ),
        ]
    latency = report.get("latency_ms")
    if latency:
        out += [
            "",
            "## Parse latency (ms)",
            "",
            f"Through the bot's `RasaClient`, {latency['n']} parses"
            f" ({latency['rounds']} rounds over the held-out examples, after"
            f" {latency['warmup']} warm-up parses), concurrency {latency['concurrency']}.",
            "",
            _table(
                ["system", "p50", "p95", "p99", "max"],
                [["rasa", *(_num(latency[k], 1) for k in ("p50", "p95", "p99", "max"))]],
            ),
        ]
    out += _crisis_section(report.get("crisis") or {})
    targets = report.get("targets") or []
    out += [
        "",
        "## Targets",
        "",
        _table(
            ["target", "value", "goal", "result"],
            [
                [
                    t["name"],
                    _num(t["value"], _digits(t["name"])),
                    t["goal"],
                    "pass" if t["passed"] else f"**FAIL** {t['detail']}".rstrip(),
                ]
                for t in targets
            ],
            align="lrll",
        ),
        "",
        "## Confusion matrix (rasa, all groups)",
        "",
        "![confusion matrix](confusion_matrix.png)",
        "",
    ]
    return "\n".join(out)


#: Row labels of the crisis table, in its order.
CRISIS_ROWS = {
    "emergency": "emergencies missed",
    "not_emergency": "false alarms: police, prison, death, money",
    "heldout_crisis": "held-out emergency and self-harm missed",
    "heldout_other": "held-out other messages put first",
}


def _crisis_section(crisis: Mapping[str, Any]) -> list[str]:
    sets = crisis.get("sets") or {}
    if not sets:
        return []
    rows = []
    for name, label in CRISIS_ROWS.items():
        scores = sets.get(name)
        if scores:
            rows.append(
                [
                    label,
                    str(scores["n"]),
                    *(f"{scores[s]['wrong']} ({_pct(scores[s]['rate'])})" for s in CRISIS_SYSTEMS),
                ]
            )
    return [
        "",
        "## Crises first: misses and false alarms",
        "",
        "Whether the bot would answer an emergency or thoughts of self-harm before anything"
        " else (`crisis_first` in `bot/dialogue/decision.py`, default thresholds), on"
        f" `{crisis.get('source', '')}` (`emergency`: danger now; `not_emergency`: police,"
        " prison, death or money mentioned, no danger now) and on the held-out sets (gold"
        " `emergency` or `self_harm` against the rest). `keywords`: the keyword tripwire"
        " alone (Rasa down); `rasa`: the model alone; `service`: the bot with Rasa up"
        " (a crisis keyword wins, otherwise the model's answer). Messages wrongly routed,"
        " and their share of the set.",
        "",
        _table(["set", "messages", *CRISIS_SYSTEMS], rows),
    ]


def plot_confusion(
    gold: Sequence[str], predicted: Sequence[str], labels: Sequence[str], path: Path
) -> None:
    """Counts, coloured by share of the gold row; labels rotated so 24+ intents stay legible."""
    # Imported here: matplotlib is slow to load and only the full report draws.
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    seen = set(gold) | set(predicted)
    names = [label for label in labels if label in seen] + sorted(seen - set(labels))
    index = {name: i for i, name in enumerate(names)}
    matrix = np.zeros((len(names), len(names)), dtype=int)
    for g, p in zip(gold, predicted, strict=True):
        matrix[index[g], index[p]] += 1
    rows = matrix.sum(axis=1, keepdims=True)
    share = np.divide(matrix, rows, out=np.zeros(matrix.shape), where=rows > 0)
    size = max(8.0, 0.5 * len(names) + 3)
    fig, ax = plt.subplots(figsize=(size + 1.5, size))
    image = ax.imshow(share, cmap="Blues", vmin=0.0, vmax=1.0)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of the gold intent")
    ticks = range(len(names))
    ax.set_xticks(ticks, labels=names, rotation=60, ha="right", rotation_mode="anchor")
    ax.set_yticks(ticks, labels=names)
    ax.set_xlabel("predicted intent")
    ax.set_ylabel("gold intent")
    ax.set_title(f"Rasa intents on the held-out examples (n={len(gold)})")
    for i in range(len(names)):
        for j in range(len(names)):
            if matrix[i, j]:
                colour = "white" if share[i, j] > 0.5 else "black"
                ax.text(j, i, str(matrix[i, j]), ha="center", va="center", color=colour, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


def write_outputs(
    report: Mapping[str, Any],
    scored: Sequence[Scored],
    labels: Sequence[str],
    out_dir: Path,
    *,
    crisis: Sequence[Mapping[str, Any]] = (),
) -> None:
    """The files of the report; ``crisis``: the messages routed wrongly (see
    :func:`scripts.nlu_eval.crisis.crisis_errors`), kept in ``errors.json``."""
    (out_dir / "report.json").write_text(
        json.dumps(_rounded(report), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    (out_dir / "report.md").write_text(render_markdown(report), encoding="utf-8")
    (out_dir / "errors.json").write_text(
        json.dumps({**collect_errors(scored), "crisis": list(crisis)}, indent=2, ensure_ascii=False)
        + "\n",
        encoding="utf-8",
    )
    plot_confusion(
        [s.example.intent for s in scored],
        [s.rasa.intent for s in scored],
        labels,
        out_dir / "confusion_matrix.png",
    )
    logger.info("wrote report.json, report.md, errors.json, confusion_matrix.png in %s", out_dir)


def log_summary(report: Mapping[str, Any]) -> None:
    columns = [*report["groups"], OVERALL]
    for system in SYSTEMS:
        logger.info(
            "%-9s macro-F1 %s",
            system,
            "  ".join(f"{c}={_num(report['intent'][system][c]['macro_f1'])}" for c in columns),
        )
    logger.info(
        "rasa fallback rate %s",
        "  ".join(f"{c}={_pct(report['fallback_rate'][c])}" for c in columns),
    )
    for name, scores in (report.get("crisis") or {}).get("sets", {}).items():
        logger.info(
            "crisis %s: %s",
            name,
            "  ".join(f"{s}={scores[s]['wrong']}/{scores['n']}" for s in CRISIS_SYSTEMS),
        )
    for target in report["targets"]:
        logger.log(
            logging.INFO if target["passed"] else logging.WARNING,
            "%s %s: %s (goal %s)%s",
            "PASS" if target["passed"] else "FAIL",
            target["name"],
            _num(target["value"], _digits(target["name"])),
            target["goal"],
            f" - {target['detail']}" if target["detail"] and not target["passed"] else "",
        )
