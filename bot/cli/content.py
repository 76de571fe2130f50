"""``kunnafoni content ...``: check, translate (export, import, stamp), preview, schemas."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from bot.cli.common import content_dir, load_or_report, load_settings
from bot.content import schema
from bot.content.catalog import Catalog
from bot.content.freshness import freshness, freshness_text
from bot.content.loader import Problem, check_content
from bot.content.workflow import (
    FORMAT_OF_SUFFIX,
    Format,
    ImportRefused,
    apply_import,
    coverage,
    coverage_json,
    coverage_table,
    describe,
    plan_import,
    preview,
    read_table,
    stamp,
    write_export,
)


def cmd_content_check(args: argparse.Namespace) -> int:
    directory = Path(args.dir) if args.dir else load_settings().content_dir
    problems = check_content(directory)
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} problem(s) in {directory}", file=sys.stderr)
        return 1
    print(f"{directory}: content is valid", file=sys.stderr)
    return 0


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
    catalog = load_or_report(content_dir(args.dir))
    if catalog is None:
        return 1
    services = freshness(catalog, datetime.now(UTC).date())
    if args.json:
        data = json.loads(coverage_json(catalog))
        data["services"] = services.as_json()
        print(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        print(coverage_table(coverage(catalog)))
        print()
        print(freshness_text(services))
    return 0


def cmd_content_export(args: argparse.Namespace) -> int:
    path = Path(args.file)
    fmt = Format(args.format) if args.format else FORMAT_OF_SUFFIX.get(path.suffix.lower())
    if fmt is None:
        print("kunnafoni: say --format xlsx, csv or po (or name the file so)", file=sys.stderr)
        return 2
    catalog = load_or_report(content_dir(args.content_dir))
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
    directory = content_dir(args.content_dir)
    catalog = load_or_report(directory)
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
    catalog = load_or_report(content_dir(args.dir))
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
    if bool(args.all) == bool(args.keys):
        print("kunnafoni: give either --all or one or more KEYs", file=sys.stderr)
        return 2
    directory = content_dir(args.content_dir)
    catalog = load_or_report(directory)
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
    outdir = Path(args.outdir) if args.outdir else load_settings().content_dir / "schema"
    if args.check:
        stale = schema.outdated(outdir)
        for path in stale:
            print(f"{path}: out of date (run kunnafoni content schema)")
        return 1 if stale else 0
    for path in schema.write(outdir):
        print(f"wrote {path}")
    return 0
