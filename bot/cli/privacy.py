"""``kunnafoni privacy purge``: delete or unlink what is past its retention period.

The bot runs the same purge every ``PURGE_EVERY_SECONDS``; this command is for a first
purge after an upgrade, for an outside scheduler, and, with ``--dry-run``, to see what
would go. It prints counts per rule, never a person's data.
"""

from __future__ import annotations

import argparse
import asyncio
import json

from bot.cli.common import load_settings
from bot.cli.database import database_url, open_database
from bot.privacy.retention import Periods, Retention


def cmd_purge(args: argparse.Namespace) -> int:
    settings = load_settings()
    url = database_url(args.db)

    async def purge() -> dict[str, int]:
        async with open_database(url) as database:
            retention = Retention(database, Periods.from_settings(settings), batch=args.batch)
            done = await retention.run(apply=not args.dry_run)
        return {purged.rule: purged.rows for purged in done}

    counts = asyncio.run(purge())
    if args.json:
        print(json.dumps({"dry_run": args.dry_run, "rows": counts}, indent=2))
        return 0
    verb = "would go" if args.dry_run else "purged"
    width = max(len(rule) for rule in counts)
    for rule, rows in counts.items():
        print(f"{rule:<{width}}  {rows:>8} {verb}")
    return 0
