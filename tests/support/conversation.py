"""Talking to the engine in tests: events as a person makes them, and what came back."""

from __future__ import annotations

from bot.content.catalog import Catalog
from bot.dialogue.engine import Engine
from bot.dialogue.types import Inbound, Outcome
from bot.store import repositories as repo
from bot.store.db import Database

USER = "1001"


def text(user: str, value: str, **kw: object) -> Inbound:
    return Inbound(user_id=user, text=value, **kw)  # type: ignore[arg-type]


def press(user: str, payload: str, **kw: object) -> Inbound:
    return Inbound(user_id=user, button=payload, **kw)  # type: ignore[arg-type]


def command(user: str, name: str, args: str = "", **kw: object) -> Inbound:
    return Inbound(user_id=user, command=name, args=args, **kw)  # type: ignore[arg-type]


def payloads(outcome: Outcome) -> list[str]:
    return [b.payload for r in outcome.replies for b in r.buttons]


def help_intro(catalog: Catalog, language: str) -> str:
    """The text /help sends before its list of commands."""
    return catalog.text("help.text", language).text.partition("{commands}")[0]


async def onboard(engine: Engine, user: str = USER, lang: str = "fr") -> Outcome:
    await engine.handle(command(user, "start"))
    await engine.handle(press(user, f"lang:{lang}"))
    await engine.handle(press(user, "consent:yes"))
    return await engine.handle(press(user, "sub:no"))


async def stored_user(database: Database, user: str = USER) -> repo.UserRecord:
    async with database.reading() as s:
        record = await repo.get_user(s, channel="console", external_id=user)
    assert record is not None
    return record
