"""How long a content change takes to go live in a running bot, and what loading costs.

Copies ``content/`` to a temporary folder, runs the bot's content watcher on it (the
same ``ContentPublisher`` as ``kunnafoni run``, with ``--interval`` between looks,
default 2 s like ``CONTENT_RELOAD_SECONDS``), then ``--changes`` times: edits one
French text through the round-trip editor and times until the new text is served.
Also times ``load_catalog`` alone: cold (every file parsed and validated) and with the
files unchanged (parsed documents come from the loader's cache; validation still runs).

    .venv/bin/python -m bench.content_publish [--changes 10] [--interval 2]

Prints medians and maxima; ``--json`` for machines. SQLite in the temporary folder.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from bot.content import reading
from bot.content.editing import MessageFile
from bot.content.loader import load_catalog
from bot.content.publish import ContentPublisher
from bot.content.store import ContentStore
from bot.store.db import Database, upgrade_database

ROOT = Path(__file__).resolve().parent.parent


async def measure(changes: int, interval: float) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        content = Path(tmp) / "content"
        shutil.copytree(ROOT / "content", content)
        loads, warm = [], []
        for _ in range(5):
            reading.clear_parse_cache()  # a cold load: every file parsed
            start = time.perf_counter()
            load_catalog(content)
            loads.append(time.perf_counter() - start)
            start = time.perf_counter()
            load_catalog(content)  # unchanged files come from the parse cache
            warm.append(time.perf_counter() - start)
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        await upgrade_database(url)
        database = Database(url)
        store = ContentStore(content)
        publisher = ContentPublisher(store, database, interval=interval)
        watcher = asyncio.create_task(publisher.watch())
        delays = []
        try:
            for i in range(changes):
                # Changes land at random points of the watcher's cycle, as edits do.
                await asyncio.sleep(interval * ((i * 0.37) % 1))
                wanted = f"Choisis un sujet ({i}) :"
                messages = MessageFile(content, "fr")
                messages.update("menu.title", text=wanted)
                start = time.perf_counter()
                messages.save()
                while store.current().text("menu.title", "fr").text != wanted:  # noqa: ASYNC110
                    await asyncio.sleep(0.01)
                delays.append(time.perf_counter() - start)
                await publisher.settled()
        finally:
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)
            await database.dispose()
    return {
        "load_median_s": statistics.median(loads),
        "reload_unchanged_median_s": statistics.median(warm),
        "live_median_s": statistics.median(delays),
        "live_max_s": max(delays),
        "changes": float(changes),
        "interval_s": interval,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=10)
    parser.add_argument("--interval", type=float, default=2.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = asyncio.run(measure(args.changes, args.interval))
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(
            f"load_catalog: cold median {result['load_median_s']:.2f} s, files unchanged "
            f"median {result['reload_unchanged_median_s']:.2f} s"
        )
        print(
            f"change -> live, watcher every {args.interval:g} s, {args.changes} changes: "
            f"median {result['live_median_s']:.2f} s, max {result['live_max_s']:.2f} s"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
