"""``kunnafoni chat --json`` in a subprocess: one scripted conversation, step by step.

The chat contract (bot/console.py) takes one JSON object per line (``text``, ``button``,
``command``) and answers one line per input. Scripts also write ``{"press": N}``: the
N-th button (1-based) of the previous answer, as a person tapping it would (or a label
part or payload prefix instead of N).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import TracebackType
from typing import Any

from bot.config import PROJECT_ROOT

#: Environment names a conversation never inherits from the shell running the tests.
_NOT_INHERITED = ("TELEGRAM_BOT_TOKEN", "DATABASE_URL", "RASA_URL", "RASA_TOKEN", "CONTENT_DIR")


class ChatError(AssertionError):
    """The scripted conversation could not go on (no such button, the chat ended)."""


def buttons(answer: dict[str, Any] | None) -> list[dict[str, str]]:
    """The buttons of one answer, in the order a person sees them."""
    return [b for reply in (answer or {}).get("replies", []) for b in reply.get("buttons", [])]


def resolve(step: dict[str, Any], last: dict[str, Any] | None) -> dict[str, Any]:
    """The input line of a step: ``{"press": N}`` becomes the payload of that button."""
    if "press" not in step:
        return {k: v for k, v in step.items() if k in ("text", "button", "command", "args")}
    shown = buttons(last)
    wanted = step["press"]
    if isinstance(wanted, int):
        if not 1 <= wanted <= len(shown):
            raise ChatError(f"no button {wanted} in the previous answer: {shown}")
        return {"button": shown[wanted - 1]["payload"]}
    for button in shown:
        if wanted in button["label"] or button["payload"].startswith(wanted):
            return {"button": button["payload"]}
    raise ChatError(f"no button {wanted!r} in the previous answer: {shown}")


class ChatProcess:
    """One user's conversation with the real command, on a fresh SQLite file in ``workdir``.

    ``rasa``: (url, token) of a Rasa server, or None for the NLU-down path (keywords).
    """

    def __init__(
        self,
        workdir: Path,
        *,
        user: str,
        rasa: tuple[str, str] | None,
        content_dir: Path = PROJECT_ROOT / "content",
        rasa_timeout: float = 20.0,
    ) -> None:
        env = {k: v for k, v in os.environ.items() if k not in _NOT_INHERITED}
        env.update(
            KUNNAFONI_ENV="test",
            PYTHONPATH=str(PROJECT_ROOT),
            CONTENT_DIR=str(content_dir),
            RASA_URL=rasa[0] if rasa else "",
            # A scripted conversation waits for the model rather than falling back to
            # keywords when the machine is busy: the answer must not depend on the load.
            RASA_TIMEOUT=str(rasa_timeout),
        )
        if rasa:
            env["RASA_TOKEN"] = rasa[1]
        self._command = [
            sys.executable, "-m", "bot", "chat", "--json",
            "--db", f"sqlite:///{workdir / 'chat.db'}", "--user", user,
        ]  # fmt: skip
        self._env, self._cwd = env, workdir
        self._process: subprocess.Popen[str] | None = None
        self.last: dict[str, Any] | None = None

    def __enter__(self) -> ChatProcess:
        self._process = subprocess.Popen(
            self._command,
            cwd=self._cwd,
            env=self._env,
            text=True,
            encoding="utf-8",
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        assert process.stdin is not None
        process.stdin.close()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if kind is None and process.returncode != 0:
            raise ChatError(f"the chat exited with status {process.returncode}")

    def send(self, step: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """Play one step; (the input line sent, the answer)."""
        process = self._process
        assert process is not None and process.stdin is not None and process.stdout is not None
        sent = resolve(step, self.last)
        process.stdin.write(json.dumps(sent, ensure_ascii=False) + "\n")
        process.stdin.flush()
        line = process.stdout.readline()
        if not line:
            raise ChatError(f"the chat ended before answering {sent}")
        self.last = json.loads(line)
        return sent, self.last
