"""The ``kunnafoni`` parser: every command names a handler that exists."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

from bot.cli import build_parser


def _commands(parser: argparse.ArgumentParser, path: str = "") -> Iterator[tuple[str, object]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _commands(sub, f"{path} {name}".strip())
    func = parser.get_default("func")
    if func is not None:
        yield path, func


def test_every_command_resolves_to_its_handler() -> None:
    commands = dict(_commands(build_parser()))
    assert set(commands) == {
        "run",
        "worker",
        "chat",
        "content check",
        "content status",
        "content export",
        "content import",
        "content preview",
        "content stamp",
        "content schema",
        "nlu parse",
        "nlu retrain",
        "nlu rollback",
        "nlu runs",
        "db upgrade",
        "report",
        "privacy purge",
        "broadcast plan",
        "broadcast send",
        "broadcast status",
        "broadcast cancel",
        "users add",
        "users list",
        "users disable",
        "users enable",
        "users reset-password",
    }
    for command, func in commands.items():
        assert callable(func), command
