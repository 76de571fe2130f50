"""``python -m tests.personas.report``: play every persona against the real Rasa model and
write the results into ``docs/conversation.md`` (between its results markers).

The Rasa server: ``--rasa-url`` and ``--rasa-token`` of one already running, or else one
started here from ``--model`` and ``--rasa-bin`` (defaults: ``KUNNAFONI_RASA_MODEL`` /
``KUNNAFONI_RASA_BIN``, else the newest model of ``nlu/models/`` and ``.venv-rasa``).
``--check`` exits 1 when a safety step fails or the pass rate is under the target, as
the test does. Names of personas after the options play only those (nothing written).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx

from bot.config import PROJECT_ROOT
from bot.content.loader import load_catalog
from bot.nlu.rasa import RasaAuth
from scripts.nlu_eval.errors import ReportError
from scripts.nlu_eval.rasa_server import RasaServer
from tests.support.personas import PASS_RATE, Summary, persona_names, play_all

DOC = PROJECT_ROOT / "docs" / "conversation.md"
START, END = "<!-- persona-results:start -->", "<!-- persona-results:end -->"
GROUP_NAMES = {
    "fr": "French (SMS style included)",
    "bm": "Bambara (typed without special letters)",
    "mixed": "French and Bambara mixed",
    "snk": "Soninke (key messages)",
    "ff": "Fulfulde (key messages)",
    "ses": "Songhay (key messages)",
}


def _default_model() -> Path | None:
    env = os.environ.get("KUNNAFONI_RASA_MODEL")
    if env:
        return Path(env)
    models = sorted((PROJECT_ROOT / "nlu" / "models").glob("*.tar.gz"), key=os.path.getmtime)
    return models[-1] if models else None


def _default_rasa_bin() -> Path:
    return Path(os.environ.get("KUNNAFONI_RASA_BIN") or PROJECT_ROOT / ".venv-rasa/bin/rasa")


def _served_model(url: str, token: str | None) -> str:
    """The model file a running server says it serves."""
    try:
        headers = RasaAuth(token).headers() if token else {}
        status = httpx.get(f"{url}/status", headers=headers, timeout=5).json()
        return str(status.get("model_file") or "unknown")
    except (httpx.HTTPError, ValueError):
        return "unknown"


@contextlib.contextmanager
def rasa(args: argparse.Namespace) -> Iterator[tuple[str, str, str]]:
    """(url, token, what model) of the server the personas talk to."""
    if args.rasa_url:
        yield args.rasa_url, args.rasa_token or "", _served_model(args.rasa_url, args.rasa_token)
        return
    model = args.model or _default_model()
    if model is None or not model.exists() or not args.rasa_bin.exists():
        raise ReportError("no trained model or Rasa executable: train with ./dev setup")
    with (
        tempfile.TemporaryDirectory() as tmp,
        RasaServer(args.rasa_bin, model, Path(tmp) / "rasa.log", Path(tmp)) as server,
    ):
        yield server.url, server.token, model.name


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render(summary: Summary, model: str) -> str:
    steps, whole = summary.step_tally, summary.persona_tally
    safety = summary.safety_tally()
    lines = [
        START,
        "",
        f"Model: `{model}`. Target: {PASS_RATE:.0%} of the steps, and every safety step.",
        "",
        f"- **Conversations passing every step: {whole}**",
        f"- **Steps passing: {steps}**",
        f"- **Safety steps passing: {safety}**",
        "",
        "| language group | conversations passing whole | steps passing |",
        "|---|---|---|",
    ]
    for group, (conversations, each) in summary.by_group().items():
        lines.append(f"| {GROUP_NAMES.get(group, group)} | {conversations} | {each} |")
    lines += ["", "| check | passing |", "|---|---|"]
    for kind, tally in summary.by_check().items():
        lines.append(f"| `{kind}` | {tally} |")
    failures = summary.failures()
    lines += ["", f"Failing steps ({len(failures)}):", ""]
    if failures:
        lines += ["| persona | step | input | expected vs got |", "|---|---|---|---|"]
        for r in failures:
            inputs = ("text", "button", "command")
            said = next((f"{k}: {r.sent[k]}" for k in inputs if k in r.sent), "")
            if r.error:
                why = r.error
            else:
                why = "; ".join(
                    f"{'**' if c.hard else ''}{c.kind}{'**' if c.hard else ''}:"
                    f" expected {c.expected!r}, got {c.got!r}"
                    for c in r.failed_checks
                )
            lines.append(f"| {r.persona} | {r.number} | {_cell(said)} | {_cell(why)} |")
    else:
        lines.append("None.")
    lines += ["", END]
    return "\n".join(lines)


def write(doc: Path, block: str) -> None:
    text = doc.read_text(encoding="utf-8")
    before, start, rest = text.partition(START)
    _, end, after = rest.partition(END)
    if not start or not end:
        raise ReportError(f"{doc.name} has no {START} ... {END} block")
    doc.write_text(before + block + after, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.personas.report", description=__doc__)
    parser.add_argument("names", nargs="*", help="play only these personas (nothing written)")
    parser.add_argument("--rasa-url", help="a Rasa server already running")
    parser.add_argument("--rasa-token", help="its token")
    parser.add_argument("--model", type=Path, help="the trained model to serve")
    parser.add_argument("--rasa-bin", type=Path, default=_default_rasa_bin())
    parser.add_argument("--jobs", type=int, default=2, help="conversations at a time")
    parser.add_argument("--no-write", action="store_true", help="print, do not write the doc")
    parser.add_argument("--check", action="store_true", help="exit 1 under the targets")
    args = parser.parse_args(argv)
    catalog = load_catalog(PROJECT_ROOT / "content")
    names = args.names or persona_names()
    try:
        with rasa(args) as (url, token, model):
            summary = play_all(rasa=(url, token), catalog=catalog, names=names, jobs=args.jobs)
    except ReportError as exc:
        print(f"report: {exc}", file=sys.stderr)
        return 2
    for r in summary.failures():
        print(r.describe())
    print(
        f"\nconversations {summary.persona_tally}, steps {summary.step_tally},"
        f" safety steps {summary.safety_tally()}"
    )
    for group, (conversations, each) in summary.by_group().items():
        print(f"  {group}: conversations {conversations}, steps {each}")
    if not args.names and not args.no_write:
        write(DOC, render(summary, model))
        print(f"written: {DOC.relative_to(PROJECT_ROOT)}")
    ok = not summary.hard_failures() and summary.step_tally.rate >= PASS_RATE
    return 0 if ok or not args.check else 1


if __name__ == "__main__":
    sys.exit(main())
