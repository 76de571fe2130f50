"""The ``kunnafoni`` command: run the bot, chat in a terminal, check content, parse text."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from pathlib import Path

from pydantic import ValidationError

from bot.config import Environment, Settings, normalise_database_url


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        print(f"kunnafoni: invalid settings:\n{exc}", file=sys.stderr)
        raise SystemExit(2) from exc


def _logging(level: str) -> None:
    logging.basicConfig(
        stream=sys.stderr,
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # httpx logs every request URL at INFO, and PTB's URLs contain the bot token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)


def cmd_run(args: argparse.Namespace) -> int:
    settings = _settings()
    if settings.telegram_bot_token is None:
        if settings.environment not in (Environment.LOCAL, Environment.TEST):
            print(
                "kunnafoni: TELEGRAM_BOT_TOKEN is required to run outside local mode",
                file=sys.stderr,
            )
            return 2
        logging.getLogger(__name__).warning(
            "TELEGRAM_BOT_TOKEN is not set: starting the console chat instead of Telegram"
        )
        return asyncio.run(_chat(settings, user=args.user, db=None, lang=None, as_json=False))
    from bot.telegram.app import run_polling

    return run_polling(settings)


async def _chat(
    settings: Settings, *, user: str, db: str | None, lang: str | None, as_json: bool
) -> int:
    from bot import console
    from bot.runtime import build_runtime
    from bot.store.db import upgrade_database

    url = normalise_database_url(db) if db else settings.database_url
    await upgrade_database(url)
    runtime = build_runtime(settings, database_url=url)
    try:
        # Content edits show up in the chat at once: handy to try a text before publishing.
        await runtime.start()
        if lang:
            await runtime.engine.preset_language(
                channel=console.CHANNEL, user_id=user, language=lang
            )
        if as_json:
            return await console.run_json(
                runtime.engine, user_id=user, stdin=sys.stdin, stdout=sys.stdout
            )
        return await console.run_interactive(runtime.engine, user_id=user)
    finally:
        await runtime.aclose()


def cmd_chat(args: argparse.Namespace) -> int:
    settings = _settings()
    try:
        return asyncio.run(
            _chat(settings, user=args.user, db=args.db, lang=args.lang, as_json=args.json)
        )
    except ValueError as exc:
        print(f"kunnafoni: {exc}", file=sys.stderr)
        return 2


def cmd_content_check(args: argparse.Namespace) -> int:
    from bot.content.loader import check_content

    directory = Path(args.dir) if args.dir else _settings().content_dir
    problems = check_content(directory)
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} problem(s) in {directory}", file=sys.stderr)
        return 1
    print(f"{directory}: content is valid", file=sys.stderr)
    return 0


def cmd_nlu_parse(args: argparse.Namespace) -> int:
    from bot.content.store import ContentStore
    from bot.runtime import build_nlu

    settings = _settings()
    content = ContentStore(settings.content_dir, nlu_data_dir=settings.nlu_data_dir)

    async def parse() -> int:
        nlu = build_nlu(settings, content)
        try:
            result = await nlu.parse(args.text)
        finally:
            await nlu.aclose()
        output = result.as_json()
        identifier = content.language_identifier()
        if identifier is not None:
            guess = identifier.predict(args.text)
            output["language"] = {
                "language": guess.language,
                "confidence": round(guess.confidence, 4),
                "mixed": guess.mixed,
            }
        print(json.dumps(output, ensure_ascii=False, indent=2))
        return 0

    return asyncio.run(parse())


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from bot.store.db import upgrade_database

    url = normalise_database_url(args.db) if args.db else _settings().database_url
    asyncio.run(upgrade_database(url, args.revision))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kunnafoni", description=__doc__)
    parser.add_argument(
        "--log-level", default=None, help="DEBUG, INFO, WARNING (default: settings)"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser(
        "run", help="run the bot: Telegram polling, or the console without a token"
    )
    run.add_argument("--user", default="console-user", help=argparse.SUPPRESS)
    run.set_defaults(func=cmd_run)

    chat = sub.add_parser("chat", help="talk to the bot in this terminal")
    chat.add_argument("--json", action="store_true", help="JSON lines in and out (for scripts)")
    chat.add_argument("--user", default="console-user", help="user id (default: one fixed user)")
    chat.add_argument("--db", default=None, help="database URL (default: DATABASE_URL)")
    chat.add_argument("--lang", default=None, help="preset the user's language, e.g. bm")
    chat.set_defaults(func=cmd_chat)

    content = sub.add_parser("content", help="campaign content tools").add_subparsers(
        dest="content_command", required=True
    )
    check = content.add_parser("check", help="validate content/, print file:line: reason")
    check.add_argument("dir", nargs="?", default=None, help="content folder (default: CONTENT_DIR)")
    check.set_defaults(func=cmd_content_check)

    nlu = sub.add_parser("nlu", help="natural-language understanding").add_subparsers(
        dest="nlu_command", required=True
    )
    parse = nlu.add_parser("parse", help="print the parse of TEXT as JSON")
    parse.add_argument("text")
    parse.set_defaults(func=cmd_nlu_parse)

    db = sub.add_parser("db", help="database").add_subparsers(dest="db_command", required=True)
    upgrade = db.add_parser("upgrade", help="apply migrations")
    upgrade.add_argument("--db", default=None, help="database URL (default: DATABASE_URL)")
    upgrade.add_argument("--revision", default="head")
    upgrade.set_defaults(func=cmd_db_upgrade)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    level = args.log_level
    if level is None:
        try:
            level = Settings().log_level
        except ValidationError:
            level = "INFO"
    _logging(level)
    result: int = args.func(args)
    return result
