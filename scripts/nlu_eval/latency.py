"""Parse latency through the bot's own ``RasaClient``: percentiles over many parses.

Used by the report (sequential parses of the held-out examples, checked against a target)
and by ``bench/nlu_latency.py`` (any running server, any concurrency). It measures, it
does not judge: the target lives in :mod:`scripts.nlu_eval.targets`.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bot.nlu.rasa import RasaClient
from bot.nlu.types import IntentParser
from scripts.nlu_eval.data import parse_nlu_yaml

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
    files = sorted(path.glob("*.yml")) if path.is_dir() else [path]
    texts: list[str] = []
    for file in files:
        texts += [
            ex.text for ex in parse_nlu_yaml(file.read_text(encoding="utf-8"), str(file)).examples
        ]
    return texts


async def measure_server(
    url: str,
    token: str | None,
    texts: Sequence[str],
    *,
    parse_timeout: float,
    rounds: int,
    warmup: int,
    concurrency: int,
) -> dict[str, Any]:
    """:func:`measure` against the Rasa server at ``url``, through a client of its own."""
    client = RasaClient(url, token, timeout=parse_timeout)
    try:
        return await measure(client, texts, rounds=rounds, warmup=warmup, concurrency=concurrency)
    finally:
        await client.aclose()
