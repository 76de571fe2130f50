"""Benchmark: parse latency of a running Rasa server through the bot's own ``RasaClient``.

Not a test: it measures, it does not judge (``scripts/nlu_report.py`` holds the target).
Each held-out example of ``nlu/tests`` is parsed ``--rounds`` times after a warm-up of
``--warmup`` parses. By default requests are sequential, one user at a time as messages
arrive; ``--concurrency N`` runs N clients in parallel, each sending its next message as soon
as the previous answer arrives. Only loopback servers are expected (see ``bench/README.md``)::

    ./dev rasa          # in another terminal: prints the token
    .venv/bin/python bench/nlu_latency.py --url http://127.0.0.1:5005 --token TOKEN
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `bot` and `scripts` live at the repository root
    sys.path.insert(0, str(ROOT))

from bot.nlu.types import IntentParser  # noqa: E402

logger = logging.getLogger("nlu_latency")

WARMUP = 20


def percentiles(samples_ms: Sequence[float]) -> dict[str, float]:
    """p50/p95/p99 (linear interpolation between closest ranks), max and mean, in ms."""
    if not samples_ms:
        raise ValueError("no latency samples")
    ordered = sorted(samples_ms)

    def at(q: float) -> float:
        pos = (len(ordered) - 1) * q
        low = int(pos)
        high = min(low + 1, len(ordered) - 1)
        return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)

    return {
        "p50": at(0.50),
        "p95": at(0.95),
        "p99": at(0.99),
        "max": ordered[-1],
        "mean": statistics.fmean(ordered),
    }


async def measure(
    client: IntentParser,
    texts: Sequence[str],
    *,
    rounds: int = 3,
    warmup: int = WARMUP,
    concurrency: int = 1,
) -> dict[str, Any]:
    """Latency of ``client.parse`` over ``texts`` x ``rounds`` after ``warmup`` parses.

    ``concurrency`` coroutines share the work, each parsing its next text when the previous
    one is answered. A failed parse raises (an unreachable server is not a latency).
    Returns p50/p95/p99/max/mean in ms, the number of parses and the throughput.
    """
    if not texts:
        raise ValueError("no text to parse")
    if rounds < 1 or concurrency < 1 or warmup < 0:
        raise ValueError("rounds and concurrency must be >= 1, warmup >= 0")
    for i in range(warmup):
        await client.parse(texts[i % len(texts)])
    work = iter([text for _ in range(rounds) for text in texts])
    samples: list[float] = []

    async def worker() -> None:
        for text in work:  # shared: each worker takes the next text
            start = time.perf_counter()
            await client.parse(text)
            samples.append((time.perf_counter() - start) * 1000)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - start
    return {
        **percentiles(samples),
        "n": len(samples),
        "rounds": rounds,
        "warmup": warmup,
        "concurrency": concurrency,
        "throughput_per_s": len(samples) / elapsed if elapsed > 0 else None,
    }


def load_texts(path: Path) -> list[str]:
    """Plain text of the examples of one Rasa NLU YAML file, or of every one in a folder."""
    from scripts.nlu_report import parse_nlu_yaml

    files = sorted(path.glob("*.yml")) if path.is_dir() else [path]
    texts: list[str] = []
    for file in files:
        texts += [
            ex.text for ex in parse_nlu_yaml(file.read_text(encoding="utf-8"), str(file)).examples
        ]
    return texts


async def run(args: argparse.Namespace, texts: Sequence[str]) -> dict[str, Any]:
    from bot.nlu.rasa import RasaClient

    client = RasaClient(args.url, args.token, timeout=args.timeout)
    try:
        return await measure(
            client, texts, rounds=args.rounds, warmup=args.warmup, concurrency=args.concurrency
        )
    finally:
        await client.aclose()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Parse latency through the bot's RasaClient.")
    parser.add_argument("--url", default="http://127.0.0.1:5005", help="Rasa server URL")
    parser.add_argument(
        "--token", default=os.environ.get("RASA_TOKEN"), help="auth token (default: $RASA_TOKEN)"
    )
    parser.add_argument("--rounds", type=int, default=3, help="passes over the texts")
    parser.add_argument("--warmup", type=int, default=WARMUP, help="parses before measuring")
    parser.add_argument("--concurrency", type=int, default=1, help="parallel clients")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per parse")
    parser.add_argument(
        "--texts", type=Path, default=ROOT / "nlu" / "tests", help="YAML file or folder"
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")

    if not args.texts.exists():
        logger.error("%s not found", args.texts)
        return 2
    texts = load_texts(args.texts)
    if not texts:
        logger.error("no example in %s", args.texts)
        return 2
    from bot.nlu.types import NluUnavailable

    try:
        result = asyncio.run(run(args, texts))
    except NluUnavailable as exc:
        logger.error("the Rasa server at %s did not answer: %s", args.url, exc)
        return 1
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(
        f"{result['n']} parses ({args.rounds} rounds x {len(texts)} texts, after"
        f" {args.warmup} warm-up parses), concurrency {args.concurrency}, {args.url}"
    )
    for key in ("p50", "p95", "p99", "max", "mean"):
        print(f"  {key:<4} {result[key]:8.1f} ms")
    print(f"  throughput {result['throughput_per_s']:.1f} parses/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
