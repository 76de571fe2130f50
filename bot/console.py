"""The terminal channel: an interactive chat, and a JSON-lines mode for scripts and tests.

JSON contract (keep it exactly): one input object per line -- ``{"text": ...}``,
``{"button": "<payload>"}``, ``{"command": "start", "args": "..."}`` or
``{"location": [latitude, longitude]}`` (a location shared on the phone); a line that
is not a JSON object is taken as text. For each input line exactly one output
line ``{"replies": [...], "meta": {...}}``. Logs go to standard error.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any, TextIO

from bot.dialogue.engine import Engine
from bot.dialogue.payloads import number
from bot.dialogue.types import Inbound, Meta, Outcome, Reply

logger = logging.getLogger(__name__)

CHANNEL = "console"
DEFAULT_USER = "console-user"


def inbound_from_line(line: str, *, user_id: str) -> Inbound:
    """Turn one input line into an event; anything that is not a JSON object is text."""
    stripped = line.rstrip("\r\n")
    try:
        data: Any = json.loads(stripped)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        return Inbound(user_id=user_id, channel=CHANNEL, text=stripped)
    if isinstance(data.get("command"), str):
        args = data.get("args")
        return Inbound(
            user_id=user_id,
            channel=CHANNEL,
            command=data["command"].lstrip("/"),
            args=args if isinstance(args, str) else "",
        )
    if isinstance(data.get("button"), str):
        return Inbound(user_id=user_id, channel=CHANNEL, button=data["button"])
    if isinstance(data.get("text"), str):
        return Inbound(user_id=user_id, channel=CHANNEL, text=data["text"])
    place = _coordinates(data.get("location"))
    if place is not None:
        return Inbound(user_id=user_id, channel=CHANNEL, location=place)
    # A JSON object with none of the known fields: treat its raw form as typed text.
    return Inbound(user_id=user_id, channel=CHANNEL, text=stripped)


def _coordinates(value: Any) -> tuple[float, float] | None:
    """``[latitude, longitude]`` in range, or None."""
    if not isinstance(value, list) or len(value) != 2:
        return None
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value):
        return None
    latitude, longitude = float(value[0]), float(value[1])
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        return None
    return latitude, longitude


def inbound_from_typing(line: str, *, user_id: str, last: Outcome | None) -> Inbound:
    """Interactive mode: ``/cmd args``, a button number, or free text."""
    text = line.strip()
    if text.startswith("/") and len(text) > 1:
        command, _, args = text[1:].partition(" ")
        return Inbound(user_id=user_id, channel=CHANNEL, command=command, args=args)
    buttons = [b for r in (last.replies if last else []) for b in r.buttons]
    chosen = number(text)
    if chosen is not None and 1 <= chosen <= len(buttons):
        return Inbound(user_id=user_id, channel=CHANNEL, button=buttons[chosen - 1].payload)
    return Inbound(user_id=user_id, channel=CHANNEL, text=text)


async def _safe_handle(engine: Engine, inbound: Inbound) -> Outcome:
    try:
        return await engine.handle(inbound)
    except Exception:
        logger.exception("Could not handle a console event")
        catalog = engine.catalog()
        text = catalog.text("error.generic", None).text
        return Outcome(replies=[Reply(text)], meta=Meta(language=catalog.default_language))


async def run_json(engine: Engine, *, user_id: str, stdin: TextIO, stdout: TextIO) -> int:
    for line in stdin:
        if not line.strip():
            inbound = Inbound(user_id=user_id, channel=CHANNEL, text="")
        else:
            inbound = inbound_from_line(line, user_id=user_id)
        outcome = await _safe_handle(engine, inbound)
        stdout.write(json.dumps(outcome.as_json(), ensure_ascii=False) + "\n")
        stdout.flush()
    return 0


def render(outcome: Outcome) -> str:
    lines: list[str] = []
    number = 0
    for reply in outcome.replies:
        lines.append(reply.text)
        if reply.document is not None:
            # The file itself, as a phone would open it.
            lines.append(f"--- {reply.document.filename} ---")
            lines.append(reply.document.content.decode("utf-8", errors="replace").rstrip())
            lines.append("---")
        for button in reply.buttons:
            number += 1
            lines.append(f"  [{number}] {button.label}")
        lines.append("")
    return "\n".join(lines)


async def run_interactive(
    engine: Engine, *, user_id: str, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout
) -> int:
    """A person at a terminal: type text, ``/start``, or a button's number; Ctrl-D quits."""
    last = await _safe_handle(engine, Inbound(user_id=user_id, channel=CHANNEL, command="start"))
    stdout.write(render(last) + "\n")
    while True:
        stdout.write("> ")
        stdout.flush()
        line = stdin.readline()
        if not line:
            stdout.write("\n")
            return 0
        if not line.strip():
            continue
        last = await _safe_handle(engine, inbound_from_typing(line, user_id=user_id, last=last))
        stdout.write(render(last) + "\n")
