"""The dialogue engine under load: many chats at once, keyword NLU, one process.

Not a test: it measures. ``--chats`` people (50) write at the same time, each through
``--steps`` steps of a whole conversation (``/start``, the language, consent, the
subscription question, then typed questions the content's keywords understand), each step
sent as soon as the previous answer of that person came back. Every step is one
``Engine.handle`` call, as the Telegram adapter makes it (an update id, so the
de-duplication runs), on a database of its own: a temporary SQLite file, or a schema of
its own in the PostgreSQL database given (``kf_bench_<random>``, dropped at the end).

Reported: steps per second over the whole run, and the latency of one step (p50, p95,
p99, max, in milliseconds). ``--profile FILE`` writes a cProfile of the run.

    .venv/bin/python -m bench.engine_load --db postgresql://postgres@127.0.0.1:5432/test
    .venv/bin/python -m bench.engine_load --chats 50 --steps 40 --json
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import itertools
import json
import logging
import os
import statistics
import sys
import time
from typing import Any

from bench.privacy import bench_database
from bot.config import Settings
from bot.dialogue.engine import Engine
from bot.dialogue.types import Inbound
from bot.runtime import build_runtime
from scripts.nlu_eval.latency import measure_server

#: What the people type after onboarding, in turn: texts the content's keywords answer.
TEXTS = (
    "bonjour",
    "je veux partir en Libye",
    "c'est dangereux le désert ?",
    "comment traverser la mer",
    "les passeurs",
    "merci",
    "je cherche du travail",
    "aide",
)
ONBOARDING: tuple[tuple[str, str], ...] = (
    ("command", "start"),
    ("button", "lang:fr"),
    ("button", "consent:yes"),
    ("button", "sub:no"),
)

_update_ids = itertools.count(1)


def conversation(steps: int) -> list[tuple[str, str]]:
    """The steps of one person: onboarding, then typed questions, ``steps`` in all."""
    typed = [("text", TEXTS[i % len(TEXTS)]) for i in range(max(0, steps - len(ONBOARDING)))]
    return [*ONBOARDING, *typed][:steps]


def inbound(user: str, kind: str, value: str) -> Inbound:
    """One event of ``user`` as the Telegram adapter makes it (with an update id)."""
    update_id = next(_update_ids)
    if kind == "command":
        return Inbound(user_id=user, channel="telegram", command=value, update_id=update_id)
    if kind == "button":
        return Inbound(user_id=user, channel="telegram", button=value, update_id=update_id)
    return Inbound(user_id=user, channel="telegram", text=value, update_id=update_id)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def figures(latencies: list[float], seconds: float, cpu: float) -> dict[str, Any]:
    """Throughput, latency in milliseconds, and this process's CPU time per step (less
    sensitive than the wall clock to what else runs on the machine)."""
    ms = [v * 1000 for v in latencies]
    return {
        "steps": len(ms),
        "seconds": round(seconds, 3),
        "per_second": round(len(ms) / seconds, 1),
        "cpu_ms_per_step": round(cpu * 1000 / len(ms), 2),
        "p50_ms": round(statistics.median(ms), 2),
        "p95_ms": round(percentile(ms, 0.95), 2),
        "p99_ms": round(percentile(ms, 0.99), 2),
        "max_ms": round(max(ms), 2),
    }


async def drive(engine: Engine, *, chats: int, steps: int, prefix: str) -> dict[str, Any]:
    """``chats`` people at once, each step after the previous answer; the figures."""
    latencies: list[float] = []
    script = conversation(steps)

    async def person(n: int) -> None:
        user = f"{prefix}{n}"
        for kind, value in script:
            started = time.perf_counter()
            outcome = await engine.handle(inbound(user, kind, value))
            latencies.append(time.perf_counter() - started)
            if not outcome.replies:
                raise RuntimeError(f"no answer to {kind} {value!r}")

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(person(n) for n in range(chats)))
    return figures(latencies, time.perf_counter() - started, time.process_time() - cpu)


async def rasa_alone(args: argparse.Namespace, token: str) -> float:
    """Rasa's own parses per second, ``--chats`` at once, through the bot's client."""
    texts = [text for _, text in conversation(args.steps) if _ == "text"]
    measured = await measure_server(
        args.rasa,
        token,
        texts,
        parse_timeout=30,
        rounds=max(1, args.chats // 2),
        warmup=20,
        concurrency=args.chats,
    )
    return float(measured["throughput_per_s"])


async def run(args: argparse.Namespace) -> dict[str, Any]:
    token = args.rasa_token or os.environ.get("RASA_TOKEN", "")
    async with bench_database(args.db) as (database, described):
        await database.dispose()
        settings = Settings(
            DATABASE_URL=str(database.url),
            RASA_URL=args.rasa or "",
            RASA_TOKEN=token or None,
            PURGE_EVERY_SECONDS=0,
        )
        runtime = build_runtime(settings)
        engine = runtime.engine
        extra: dict[str, Any] = {"nlu": "rasa" if args.rasa else "keywords"}
        try:
            if args.rasa:
                extra["rasa_alone_before_per_second"] = round(await rasa_alone(args, token), 1)
            # Not counted: content loaded, connections opened, first queries planned.
            await drive(engine, chats=min(args.chats, 5), steps=len(ONBOARDING) + 2, prefix="w")
            profiler = cProfile.Profile() if args.profile else None
            if profiler is not None:
                profiler.enable()
            result = await drive(engine, chats=args.chats, steps=args.steps, prefix="u")
            if profiler is not None:
                profiler.disable()
                profiler.dump_stats(args.profile)
            if args.rasa:
                after = await rasa_alone(args, token)
                extra["rasa_alone_after_per_second"] = round(after, 1)
                alone = (extra["rasa_alone_before_per_second"] + after) / 2
                extra["ratio_to_rasa_alone"] = round(result["per_second"] / alone, 3)
        finally:
            await runtime.nlu.aclose()
            await runtime.database.dispose()
        return {"database": described, "chats": args.chats, **extra, **result}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default="sqlite", help="'sqlite' or a PostgreSQL URL")
    parser.add_argument("--chats", type=int, default=50)
    parser.add_argument("--steps", type=int, default=40, help="steps per person")
    parser.add_argument("--rasa", help="the Rasa server's URL (default: keywords only)")
    parser.add_argument("--rasa-token", help="its JWT secret (default: $RASA_TOKEN)")
    parser.add_argument("--profile", help="write a cProfile of the measured run here")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    logging.disable(logging.INFO)
    result = asyncio.run(run(args))
    logging.disable(logging.NOTSET)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for key, value in result.items():
            print(f"{key:>12}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
