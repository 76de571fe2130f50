"""Benchmark: parse latency of a running Rasa server through the bot's own ``RasaClient``.

Not a test: it measures, it does not judge (the NLU report, ``scripts.nlu_report``, holds
the target). Each held-out example of ``nlu/tests`` is parsed ``--rounds`` times after a
warm-up of ``--warmup`` parses. By default requests are sequential, one user at a time as
messages arrive; ``--concurrency N`` runs N clients in parallel, each sending its next
message as soon as the previous answer arrives. Only loopback servers are expected (see
``bench/README.md``). From the repository root::

    ./dev rasa          # in another terminal: prints the token
    .venv/bin/python -m bench.nlu_latency --url http://127.0.0.1:5005 --token TOKEN

The measurement itself is :mod:`scripts.nlu_eval.latency`, shared with the NLU report.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from bot.nlu.types import NluUnavailable
from scripts.nlu_eval.data import ROOT
from scripts.nlu_eval.latency import WARMUP, load_texts, measure_server

logger = logging.getLogger("nlu_latency")


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
    try:
        result = asyncio.run(
            measure_server(
                args.url,
                args.token,
                texts,
                parse_timeout=args.timeout,
                rounds=args.rounds,
                warmup=args.warmup,
                concurrency=args.concurrency,
            )
        )
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
