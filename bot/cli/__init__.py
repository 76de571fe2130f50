"""The ``kunnafoni`` command: every subcommand and option, and the dispatch to its group.

The parser is built here, in one place; each command group lives in its own module
(``run``, ``worker``, ``chat``, ``content``, ``nlu``, ``database``: db, ``report``,
``broadcast``, ``users``), what they share in ``common``. Every group is imported here at the top,
so the import graph (checked by tests/test_layers.py) sees every dependency of the
command; the price is about half a second of start-up for the lightest commands.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from pydantic import ValidationError

from bot.cli import broadcast as broadcast_group
from bot.cli import chat as chat_group
from bot.cli import content as content_group
from bot.cli import database as database_group
from bot.cli import nlu as nlu_group
from bot.cli import privacy as privacy_group
from bot.cli import report as report_group
from bot.cli import run as run_group
from bot.cli import users as users_group
from bot.cli.common import DB_HELP, FOLDER_HELP, IntermixedParser
from bot.config import LOG_LEVELS, EnvironmentOnly, LogFormat, Settings, debug_refused
from bot.logs import configure_logging
from bot.web.console.permissions import Role

DESCRIPTION = (
    "The ``kunnafoni`` command: run the bot, chat in a terminal, check content, parse text."
)

#: A command's handler: takes the parsed arguments, returns the exit status.
Handler = Callable[[argparse.Namespace], int]


def _broadcast_commands(parser: argparse.ArgumentParser) -> None:
    """``kunnafoni broadcast plan | send | status | cancel``."""
    broadcast = parser.add_subparsers(dest="broadcast_command", required=True)

    plan = broadcast.add_parser(
        "plan", help="who a campaign would reach, per language and criterion; sends nothing"
    )
    plan.add_argument("name", help="the campaign: content/broadcasts/NAME.yml")
    plan.add_argument("--now", default=None, help="plan as if it were this ISO time (with offset)")
    plan.add_argument("--json", action="store_true", help="machine-readable output")
    plan.add_argument("--db", default=None, help=DB_HELP)
    plan.add_argument("--dir", dest="content_dir", default=None, help=FOLDER_HELP)
    plan.set_defaults(func=broadcast_group.cmd_plan)

    send = broadcast.add_parser(
        "send",
        help="queue what a campaign owes its audience now, and send it at Telegram's limits",
    )
    send.add_argument(
        "name", nargs="?", default=None, help="campaign (content/broadcasts/NAME.yml)"
    )
    send.add_argument("--run", type=int, default=None, help="send an existing run instead")
    send.add_argument("--now", default=None, help="pretend it is this time (ISO, with zone)")
    send.add_argument("--db", default=None, help=DB_HELP)
    send.set_defaults(func=broadcast_group.cmd_send)

    status = broadcast.add_parser("status", help="a run's progress (default: recent runs)")
    status.add_argument("run", type=int, nargs="?", default=None)
    status.add_argument("--limit", type=int, default=10, help="how many recent runs")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.add_argument("--db", default=None, help=DB_HELP)
    status.set_defaults(func=broadcast_group.cmd_status)

    cancel = broadcast.add_parser("cancel", help="stop a run: nothing more of it is sent")
    cancel.add_argument("run", type=int)
    cancel.add_argument("--db", default=None, help=DB_HELP)
    cancel.set_defaults(func=broadcast_group.cmd_cancel)


def _users_commands(parser: argparse.ArgumentParser) -> None:
    """``kunnafoni users add | list | disable | enable | reset-password``."""
    users = parser.add_subparsers(dest="users_command", required=True)
    add = users.add_parser(
        "add", help="a console account; the password is read from stdin or prompted"
    )
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=[r.value for r in Role])
    add.add_argument(
        "--service", action="append", help="a partner's service id (repeat for several)"
    )
    add.add_argument("--language", action="append", help="a translator's language code (repeat)")
    add.add_argument("--db", default=None, help=DB_HELP)
    add.set_defaults(func=users_group.cmd_add)
    listing = users.add_parser("list", help="every account: name, role, state, scope")
    listing.add_argument("--db", default=None, help=DB_HELP)
    listing.set_defaults(func=users_group.cmd_list)
    for name, func, text in (
        ("disable", users_group.cmd_disable, "refuse this account's sign-ins and sessions"),
        ("enable", users_group.cmd_enable, "let a disabled account sign in again"),
        (
            "reset-password",
            users_group.cmd_reset_password,
            "a new password (stdin or prompt); its sessions end",
        ),
    ):
        sub = users.add_parser(name, help=text)
        sub.add_argument("name")
        sub.add_argument("--db", default=None, help=DB_HELP)
        sub.set_defaults(func=func)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kunnafoni", description=DESCRIPTION)
    parser.add_argument(
        "--log-level",
        default=None,
        type=str.upper,
        choices=LOG_LEVELS,
        help="DEBUG (local and test runs only), INFO, WARNING, ERROR (default: LOG_LEVEL)",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser(
        "run", help="run the bot: Telegram polling, or the console without a token"
    )
    run.add_argument("--user", default="console-user", help=argparse.SUPPRESS)
    run.set_defaults(func=run_group.cmd_run)

    worker = sub.add_parser(
        "worker",
        help="the broadcast sender, drips, referral checks and privacy purge, in loops",
    )
    worker.set_defaults(func=run_group.cmd_worker)

    chat = sub.add_parser("chat", help="talk to the bot in this terminal")
    chat.add_argument("--json", action="store_true", help="JSON lines in and out (for scripts)")
    chat.add_argument("--user", default="console-user", help="user id (default: one fixed user)")
    chat.add_argument("--db", default=None, help=DB_HELP)
    chat.add_argument("--lang", default=None, help="preset the user's language, e.g. bm")
    chat.set_defaults(func=chat_group.cmd_chat)

    content = sub.add_parser("content", help="campaign content tools").add_subparsers(
        dest="content_command", required=True
    )
    check = content.add_parser("check", help="validate content/, print file:line: reason")
    check.add_argument("dir", nargs="?", default=None, help=FOLDER_HELP)
    check.set_defaults(func=content_group.cmd_content_check)

    status = content.add_parser("status", help="translation coverage per language")
    status.add_argument("--json", action="store_true", help="JSON for scripts")
    status.add_argument("dir", nargs="?", default=None, help=FOLDER_HELP)
    status.set_defaults(func=content_group.cmd_content_status)

    export = content.add_parser("export", help="write a translation file (xlsx, csv or po)")
    export.add_argument("--lang", required=True, help="the translation language, e.g. bm")
    export.add_argument("--format", choices=["xlsx", "csv", "po"], default=None)
    export.add_argument("--dir", dest="content_dir", default=None, help=FOLDER_HELP)
    export.add_argument("file")
    export.set_defaults(func=content_group.cmd_content_export)

    imp = content.add_parser("import", help="read a translation file back: a diff, or --apply")
    imp.add_argument("file")
    imp.add_argument("--apply", action="store_true", help="write the changes (default: dry run)")
    imp.add_argument("--dir", dest="content_dir", default=None, help=FOLDER_HELP)
    imp.set_defaults(func=content_group.cmd_content_import)

    show = content.add_parser("preview", help="what a user of a language sees for KEY")
    show.__class__ = IntermixedParser  # KEY --lang bm DIR
    show.add_argument("key")
    show.add_argument("--lang", required=True)
    show.add_argument("dir", nargs="?", default=None, help=FOLDER_HELP)
    show.set_defaults(func=content_group.cmd_content_preview)

    stamp = content.add_parser(
        "stamp", help="mark translations current: record the source text they match"
    )
    stamp.__class__ = IntermixedParser  # KEY --lang bm KEY
    stamp.add_argument("--lang", required=True)
    stamp.add_argument("--all", action="store_true", help="every translation without a record")
    stamp.add_argument("--stale", action="store_true", help="also stale ones (checked by hand)")
    stamp.add_argument("--dir", dest="content_dir", default=None, help=FOLDER_HELP)
    stamp.add_argument("keys", nargs="*", metavar="KEY")
    stamp.set_defaults(func=content_group.cmd_content_stamp)

    schema = content.add_parser("schema", help="write the JSON Schemas of the content files")
    schema.add_argument("--check", action="store_true", help="exit 1 if they are out of date")
    schema.add_argument("outdir", nargs="?", default=None, help="default: CONTENT_DIR/schema")
    schema.set_defaults(func=content_group.cmd_content_schema)

    nlu = sub.add_parser("nlu", help="natural-language understanding").add_subparsers(
        dest="nlu_command", required=True
    )
    parse = nlu.add_parser("parse", help="print the parse of TEXT as JSON")
    parse.add_argument("text")
    parse.set_defaults(func=nlu_group.cmd_nlu_parse)

    runs_help = "folder of the run records (default: data/nlu-runs)"
    retrain = nlu.add_parser(
        "retrain",
        help="train a candidate from nlu/data, compare it with the served model on the"
        " held-out sets, promote it to the Rasa server when it is not worse",
    )
    retrain.add_argument("--json", action="store_true", help="print the run record as JSON")
    retrain.add_argument("--by", default=None, help="who runs it (default: the system user)")
    retrain.add_argument(
        "--folds", type=int, default=None,
        help="folds for the reviewed examples' cross-validation (default 3; 0: skip)",
    )  # fmt: skip
    retrain.add_argument(
        "--tolerance", type=float, default=None,
        help="how much lower a group's held-out macro-F1 may be (default 0.01)",
    )  # fmt: skip
    retrain.add_argument(
        "--no-promote", action="store_true", help="compare only, leave the served model"
    )
    retrain.add_argument(
        "--current-model", default=None,
        help="the served model's file (default: found in nlu/models by the server's name)",
    )  # fmt: skip
    retrain.add_argument(
        "--rasa-bin", default=None, help="default: KUNNAFONI_RASA_BIN or .venv-rasa"
    )
    retrain.add_argument("--runs-dir", default=None, help=runs_help)
    retrain.set_defaults(func=nlu_group.cmd_nlu_retrain)

    rollback = nlu.add_parser("rollback", help="load again the model a promotion replaced")
    rollback.add_argument("--run", default=None, help="run id (default: the latest promotion)")
    rollback.add_argument("--by", default=None, help="who runs it (default: the system user)")
    rollback.add_argument("--json", action="store_true", help="print the run record as JSON")
    rollback.add_argument("--runs-dir", default=None, help=runs_help)
    rollback.set_defaults(func=nlu_group.cmd_nlu_rollback)

    runs = nlu.add_parser("runs", help="list the retraining runs")
    runs.add_argument("--json", action="store_true", help="every run record as JSON")
    runs.add_argument("--runs-dir", default=None, help=runs_help)
    runs.set_defaults(func=nlu_group.cmd_nlu_runs)

    db = sub.add_parser("db", help="database").add_subparsers(dest="db_command", required=True)
    upgrade = db.add_parser("upgrade", help="apply migrations")
    upgrade.add_argument("--db", default=None, help=DB_HELP)
    upgrade.add_argument("--revision", default="head")
    upgrade.set_defaults(func=database_group.cmd_db_upgrade)

    privacy = sub.add_parser("privacy", help="people's data: retention")
    privacy_sub = privacy.add_subparsers(dest="privacy_command", required=True)
    purge = privacy_sub.add_parser(
        "purge", help="delete or unlink what is past its retention period (docs/privacy.md)"
    )
    purge.add_argument("--dry-run", action="store_true", help="only count what would go")
    purge.add_argument("--batch", type=int, default=500, help="rows per transaction")
    purge.add_argument("--json", action="store_true", help="machine-readable output")
    purge.add_argument("--db", default=None, help=DB_HELP)
    purge.set_defaults(func=privacy_group.cmd_purge)

    report = sub.add_parser("report", help="what reached people: counts, never a person's data")
    report.add_argument("--days", type=float, default=30, help="look back this many days")
    report.add_argument("--top", type=int, default=30, help="how many message keys to list")
    report.add_argument("--json", action="store_true", help="machine-readable output")
    report.add_argument("--db", default=None, help=DB_HELP)
    report.set_defaults(func=report_group.cmd_report)

    _broadcast_commands(sub.add_parser("broadcast", help="campaigns to subscribers"))
    _users_commands(sub.add_parser("users", help="web console accounts"))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    level = args.log_level
    json_lines = False
    try:
        settings = Settings()
        json_lines = settings.log_format is LogFormat.JSON
        if level is None:
            level = settings.log_level
    except ValidationError:
        level = level or "INFO"  # the command itself reports invalid settings
    refused = debug_refused(level, EnvironmentOnly().environment)
    if refused:
        print(f"kunnafoni: {refused}", file=sys.stderr)
        return 2
    configure_logging(level, json_lines=json_lines)
    func: Handler = args.func
    return func(args)
