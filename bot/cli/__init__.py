"""The ``kunnafoni`` command: run the bot, chat in a terminal, check content, parse text."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from bot.config import Environment, Settings, normalise_database_url

if TYPE_CHECKING:
    from bot.content.catalog import Catalog
    from bot.content.loader import Problem


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
    # Database drivers and HTTP clients log statement parameters and request bodies at
    # DEBUG: user text (referral descriptions, phones) must never reach the logs.
    for noisy in ("aiosqlite", "sqlalchemy.engine", "asyncpg", "psycopg", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger(noisy).level))


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


class _IntermixedParser(argparse.ArgumentParser):
    """Positionals may stand on both sides of options (``preview KEY --lang bm DIR``)."""

    _inner = False

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        if self._inner:  # parse_known_intermixed_args calls back into this method
            return super().parse_known_args(args, namespace)
        self._inner = True
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._inner = False


def _content_dir(value: str | None) -> Path:
    return Path(value) if value else _settings().content_dir


def _load_or_report(directory: Path) -> Catalog | None:
    from bot.content.loader import ContentError, load_catalog

    try:
        return load_catalog(directory)
    except ContentError as exc:
        for problem in exc.problems:
            print(problem)
        print(
            f"{len(exc.problems)} problem(s) in {directory}: fix them first"
            " (kunnafoni content check)",
            file=sys.stderr,
        )
        return None


def _known_language(catalog: Catalog, language: str) -> bool:
    if language in catalog.languages:
        return True
    declared = ", ".join(sorted(catalog.languages))
    print(
        f"kunnafoni: language '{language}' is not declared in languages.yml ({declared})",
        file=sys.stderr,
    )
    return False


def _print_problems(problems: list[Problem], what: str) -> int:
    for problem in problems:
        print(problem)
    print(f"{what} refused: the content would be invalid; nothing was changed", file=sys.stderr)
    return 1


def cmd_content_status(args: argparse.Namespace) -> int:
    from bot.content.workflow import coverage, coverage_json, coverage_table

    catalog = _load_or_report(_content_dir(args.dir))
    if catalog is None:
        return 1
    print(coverage_json(catalog) if args.json else coverage_table(coverage(catalog)))
    return 0


def cmd_content_export(args: argparse.Namespace) -> int:
    from bot.content.workflow import FORMAT_OF_SUFFIX, Format, write_export

    path = Path(args.file)
    fmt = Format(args.format) if args.format else FORMAT_OF_SUFFIX.get(path.suffix.lower())
    if fmt is None:
        print("kunnafoni: say --format xlsx, csv or po (or name the file so)", file=sys.stderr)
        return 2
    catalog = _load_or_report(_content_dir(args.content_dir))
    if catalog is None:
        return 1
    if not _known_language(catalog, args.lang):
        return 2
    if args.lang == catalog.default_language:
        print(
            f"kunnafoni: '{args.lang}' is the source language; export a translation language",
            file=sys.stderr,
        )
        return 2
    count = write_export(catalog, args.lang, fmt, path)
    print(f"{path}: {count} messages, {catalog.default_language} -> {args.lang} ({fmt.value})")
    return 0


def cmd_content_import(args: argparse.Namespace) -> int:
    from bot.content.workflow import ImportRefused, apply_import, describe, plan_import, read_table

    directory = _content_dir(args.content_dir)
    catalog = _load_or_report(directory)
    if catalog is None:
        return 1
    path = Path(args.file)
    try:
        plan = plan_import(catalog, read_table(path))
    except ImportRefused as exc:
        for reason in exc.reasons:
            print(f"{path}:{reason}")
        print(f"{path}: refused, nothing was changed", file=sys.stderr)
        return 1
    print(describe(plan))
    if not args.apply:
        if plan.changes:
            print("dry run: nothing written; add --apply to write these changes", file=sys.stderr)
        return 0
    problems = apply_import(directory, catalog, plan)
    if problems:
        return _print_problems(problems, "import")
    if plan.changes:
        target = directory / "messages" / f"{plan.language}.yml"
        print(f"{target}: {len(plan.changes)} change(s) written", file=sys.stderr)
    return 0


def cmd_content_preview(args: argparse.Namespace) -> int:
    from bot.content.workflow import preview

    catalog = _load_or_report(_content_dir(args.dir))
    if catalog is None:
        return 1
    if not _known_language(catalog, args.lang):
        return 2
    if args.key not in catalog.messages[catalog.default_language]:
        print(f"kunnafoni: unknown message key '{args.key}'", file=sys.stderr)
        return 2
    print(preview(catalog, args.key, args.lang))
    return 0


def cmd_content_stamp(args: argparse.Namespace) -> int:
    from bot.content.workflow import stamp

    if bool(args.all) == bool(args.keys):
        print("kunnafoni: give either --all or one or more KEYs", file=sys.stderr)
        return 2
    directory = _content_dir(args.content_dir)
    catalog = _load_or_report(directory)
    if catalog is None:
        return 1
    if not _known_language(catalog, args.lang):
        return 2
    if args.lang == catalog.default_language:
        print(f"kunnafoni: '{args.lang}' is the source language: nothing to stamp", file=sys.stderr)
        return 2
    unknown = [key for key in args.keys if key not in catalog.messages[catalog.default_language]]
    if unknown:
        print(f"kunnafoni: unknown message key(s): {', '.join(unknown)}", file=sys.stderr)
        return 2
    stamped, skipped, problems = stamp(
        directory, catalog, args.lang, None if args.all else args.keys, include_stale=args.stale
    )
    if problems:
        return _print_problems(problems, "stamp")
    for key in stamped:
        print(f"stamped {key}")
    for reason in skipped:
        print(f"skipped {reason}")
    print(f"{len(stamped)} translation(s) marked current in {args.lang}", file=sys.stderr)
    return 0


def cmd_content_schema(args: argparse.Namespace) -> int:
    from bot.content import schema

    outdir = Path(args.outdir) if args.outdir else _settings().content_dir / "schema"
    if args.check:
        stale = schema.outdated(outdir)
        for path in stale:
            print(f"{path}: out of date (run kunnafoni content schema)")
        return 1 if stale else 0
    for path in schema.write(outdir):
        print(f"wrote {path}")
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


def cmd_report(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime, timedelta

    from bot.store.analytics import build_report, render
    from bot.store.db import Database

    url = normalise_database_url(args.db) if args.db else _settings().database_url

    async def produce() -> str:
        database = Database(url)
        try:
            async with database.transaction() as session:
                since = datetime.now(UTC) - timedelta(days=args.days)
                report = await build_report(session, since=since, top=args.top)
        finally:
            await database.dispose()
        return json.dumps(report.as_json(), indent=2) if args.json else render(report)

    print(asyncio.run(produce()))
    return 0


# --- broadcasts --------------------------------------------------------------------------


def _iso_now(value: str | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError(f"--now '{value}' needs a time zone offset, e.g. +00:00")
    return moment


def cmd_broadcast_plan(args: argparse.Namespace) -> int:
    from bot.broadcasts.plan import plan, render
    from bot.store.db import Database

    catalog = _load_or_report(_content_dir(args.content_dir))
    if catalog is None:
        return 1
    campaign = catalog.campaigns.get(args.name)
    if campaign is None:
        known = ", ".join(sorted(catalog.campaigns)) or "none"
        print(f"kunnafoni: no campaign '{args.name}' (known: {known})", file=sys.stderr)
        return 2
    try:
        now = _iso_now(args.now)
    except ValueError as exc:
        print(f"kunnafoni: {exc}", file=sys.stderr)
        return 2
    url = normalise_database_url(args.db) if args.db else _settings().database_url

    async def produce() -> str:
        database = Database(url)
        try:
            async with database.transaction() as session:
                result = await plan(session, catalog, campaign, now=now)
        finally:
            await database.dispose()
        return json.dumps(result.as_json(), indent=2) if args.json else render(result)

    print(asyncio.run(produce()))
    return 0


def _broadcast_commands(parser: argparse.ArgumentParser) -> None:
    """``kunnafoni broadcast ...``: planning here; sending, status and cancelling
    (the outbox and the sender) register their subcommands in this group too."""
    broadcast = parser.add_subparsers(dest="broadcast_command", required=True)
    folder = "content folder (default: CONTENT_DIR)"

    plan = broadcast.add_parser(
        "plan", help="who a campaign would reach, per language and criterion; sends nothing"
    )
    plan.add_argument("name", help="the campaign: content/broadcasts/NAME.yml")
    plan.add_argument("--now", default=None, help="plan as if it were this ISO time (with offset)")
    plan.add_argument("--json", action="store_true", help="machine-readable output")
    plan.add_argument("--db", default=None, help="database URL (default: DATABASE_URL)")
    plan.add_argument("--dir", dest="content_dir", default=None, help=folder)
    plan.set_defaults(func=cmd_broadcast_plan)

    from bot.broadcasts.commands import add_commands

    add_commands(broadcast)


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
    folder = "content folder (default: CONTENT_DIR)"

    status = content.add_parser("status", help="translation coverage per language")
    status.add_argument("--json", action="store_true", help="JSON for scripts")
    status.add_argument("dir", nargs="?", default=None, help=folder)
    status.set_defaults(func=cmd_content_status)

    export = content.add_parser("export", help="write a translation file (xlsx, csv or po)")
    export.add_argument("--lang", required=True, help="the translation language, e.g. bm")
    export.add_argument("--format", choices=["xlsx", "csv", "po"], default=None)
    export.add_argument("--dir", dest="content_dir", default=None, help=folder)
    export.add_argument("file")
    export.set_defaults(func=cmd_content_export)

    imp = content.add_parser("import", help="read a translation file back: a diff, or --apply")
    imp.add_argument("file")
    imp.add_argument("--apply", action="store_true", help="write the changes (default: dry run)")
    imp.add_argument("--dir", dest="content_dir", default=None, help=folder)
    imp.set_defaults(func=cmd_content_import)

    show = content.add_parser("preview", help="what a user of a language sees for KEY")
    show.__class__ = _IntermixedParser  # KEY --lang bm DIR
    show.add_argument("key")
    show.add_argument("--lang", required=True)
    show.add_argument("dir", nargs="?", default=None, help=folder)
    show.set_defaults(func=cmd_content_preview)

    stamp = content.add_parser(
        "stamp", help="mark translations current: record the source text they match"
    )
    stamp.__class__ = _IntermixedParser  # KEY --lang bm KEY
    stamp.add_argument("--lang", required=True)
    stamp.add_argument("--all", action="store_true", help="every translation without a record")
    stamp.add_argument("--stale", action="store_true", help="also stale ones (checked by hand)")
    stamp.add_argument("--dir", dest="content_dir", default=None, help=folder)
    stamp.add_argument("keys", nargs="*", metavar="KEY")
    stamp.set_defaults(func=cmd_content_stamp)

    schema = content.add_parser("schema", help="write the JSON Schemas of the content files")
    schema.add_argument("--check", action="store_true", help="exit 1 if they are out of date")
    schema.add_argument("outdir", nargs="?", default=None, help="default: CONTENT_DIR/schema")
    schema.set_defaults(func=cmd_content_schema)

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

    report = sub.add_parser("report", help="what reached people: counts, never a person's data")
    report.add_argument("--days", type=float, default=30, help="look back this many days")
    report.add_argument("--top", type=int, default=30, help="how many message keys to list")
    report.add_argument("--json", action="store_true", help="machine-readable output")
    report.add_argument("--db", default=None, help="database URL (default: DATABASE_URL)")
    report.set_defaults(func=cmd_report)

    _broadcast_commands(sub.add_parser("broadcast", help="campaigns to subscribers"))
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
