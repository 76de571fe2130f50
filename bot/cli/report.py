"""``kunnafoni report``: what reached people, as counts; never a person's data."""

from __future__ import annotations

import argparse
import asyncio
import json
from datetime import UTC, datetime, timedelta

from bot.cli.database import database_url, open_database
from bot.store.analytics import build_report, render


def cmd_report(args: argparse.Namespace) -> int:
    url = database_url(args.db)

    async def produce() -> str:
        async with open_database(url) as database, database.transaction() as session:
            since = datetime.now(UTC) - timedelta(days=args.days)
            report = await build_report(session, since=since, top=args.top)
        return json.dumps(report.as_json(), indent=2) if args.json else render(report)

    print(asyncio.run(produce()))
    return 0
