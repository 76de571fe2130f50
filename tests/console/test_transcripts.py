"""Recorded ``kunnafoni chat --json`` conversations: the bot's behaviour, frozen.

Each ``tests/console/transcripts/<name>.jsonl`` is a scripted conversation, one input per line,
in the chat contract (``{"text": ...}``, ``{"button": ...}``, ``{"command": ...}``), plus
``{"press": N}``: press the N-th button (1-based) of the previous answer, as a person
tapping it would. A first line ``{"options": {"referrals": true}}`` runs the conversation
on a copy of the content where one service accepts referrals.

``<name>.expected.jsonl`` holds what the real command answered, one ``{"in", "out"}``
object per step. The test replays every conversation through the real command in a
subprocess (NLU down: keyword triggers answer free text, as when Rasa is unreachable)
and compares step by step. After a deliberate change of behaviour, record again with
``python -m tests.console.test_transcripts --record`` and review the diff like code.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

from tests.support.referrals import enable_referrals, partners_file

ROOT = Path(__file__).resolve().parents[2]
TRANSCRIPTS = Path(__file__).resolve().parent / "transcripts"
#: Referral references are random by design, and dates are today's: the transcripts
#: compare their shape.
_REFERENCE = re.compile(r"KF-[23456789ABCDEFGHJKMNPQRSTWXYZ]{6}")
_DATE = re.compile(r"\b\d\d/\d\d/\d{4}\b")


def conversations() -> list[str]:
    return sorted(
        p.name.removesuffix(".jsonl")
        for p in TRANSCRIPTS.glob("*.jsonl")
        if not p.name.endswith(".expected.jsonl")
    )


def _normalise(value: Any) -> Any:
    if isinstance(value, str):
        return _DATE.sub("DD/MM/YYYY", _REFERENCE.sub("KF-XXXXXX", value))
    if isinstance(value, list):
        return [_normalise(v) for v in value]
    if isinstance(value, dict):
        return {k: _normalise(v) for k, v in value.items()}
    return value


def _content_with_referrals(target: Path) -> Path:
    """A copy of the real content where one service takes referrals, as after a partner agrees."""
    content = target / "content"
    shutil.copytree(ROOT / "content", content)
    enable_referrals(content)
    return content


def _buttons(out: dict[str, Any]) -> list[dict[str, str]]:
    return [b for reply in out.get("replies", []) for b in reply.get("buttons", [])]


def _resolve(step: dict[str, Any], last: dict[str, Any] | None) -> dict[str, Any]:
    """Turn ``{"press": N}`` into the button the previous answer showed at that place."""
    if "press" not in step:
        return step
    buttons = _buttons(last or {})
    wanted = step["press"]
    if isinstance(wanted, int):
        if not 1 <= wanted <= len(buttons):
            raise AssertionError(f"no button {wanted} in the previous answer: {buttons}")
        return {"button": buttons[wanted - 1]["payload"]}
    for button in buttons:
        if wanted in button["label"] or button["payload"].startswith(wanted):
            return {"button": button["payload"]}
    raise AssertionError(f"no button {wanted!r} in the previous answer: {buttons}")


def play(name: str) -> list[dict[str, Any]]:
    """Run one scripted conversation through ``kunnafoni chat --json``; return the steps."""
    lines = [
        json.loads(line)
        for line in (TRANSCRIPTS / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    options: dict[str, Any] = {}
    if lines and "options" in lines[0]:
        options = lines.pop(0)["options"]
    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if k not in ("TELEGRAM_BOT_TOKEN",)}
        env.update(
            RASA_URL="",  # NLU down: deterministic, and the path a Rasa outage takes
            KUNNAFONI_ENV="test",
            PYTHONPATH=str(ROOT),
        )
        if options.get("referrals"):
            content = _content_with_referrals(Path(tmp))
            env["CONTENT_DIR"] = str(content)
            env["PARTNERS_FILE"] = str(partners_file(content))
        else:
            env["CONTENT_DIR"] = str(ROOT / "content")
        command = [
            sys.executable,
            "-m",
            "bot",
            "chat",
            "--json",
            "--db",
            f"sqlite:///{Path(tmp) / 'chat.db'}",
            "--user",
            name,
        ]
        process = subprocess.Popen(
            command,
            cwd=tmp,
            env=env,
            text=True,
            encoding="utf-8",
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        assert process.stdin is not None and process.stdout is not None
        steps: list[dict[str, Any]] = []
        last: dict[str, Any] | None = None
        try:
            for raw in lines:
                sent = _resolve(raw, last)
                process.stdin.write(json.dumps(sent, ensure_ascii=False) + "\n")
                process.stdin.flush()
                answer = process.stdout.readline()
                if not answer:
                    raise AssertionError(f"{name}: the chat ended before answering {sent}")
                last = json.loads(answer)
                steps.append({"in": sent, "out": _normalise(last)})
        finally:
            process.stdin.close()
            process.wait(timeout=60)
        assert process.returncode == 0, f"{name}: exit status {process.returncode}"
        return steps


def _expected(name: str) -> list[dict[str, Any]]:
    path = TRANSCRIPTS / f"{name}.expected.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


@pytest.mark.parametrize("name", conversations())
def test_transcript_is_unchanged(name: str) -> None:
    expected = _expected(name)
    actual = play(name)
    assert len(actual) == len(expected), f"{name}: {len(actual)} steps, {len(expected)} expected"
    for number, (got, want) in enumerate(zip(actual, expected, strict=True), start=1):
        assert got == want, f"{name}, step {number}: {got['in']}"


def test_every_conversation_has_a_recording() -> None:
    names = conversations()
    assert len(names) >= 10
    for name in names:
        assert (TRANSCRIPTS / f"{name}.expected.jsonl").is_file(), name


def record(names: list[str]) -> None:
    for name in names or conversations():
        steps = play(name)
        path = TRANSCRIPTS / f"{name}.expected.jsonl"
        path.write_text(
            "".join(json.dumps(s, ensure_ascii=False) + "\n" for s in steps), encoding="utf-8"
        )
        print(f"{name}: {len(steps)} steps")


if __name__ == "__main__":
    if sys.argv[1:2] != ["--record"]:
        sys.exit("usage: python -m tests.console.test_transcripts --record [NAME ...]")
    record(sys.argv[2:])
