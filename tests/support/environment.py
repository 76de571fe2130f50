"""Where the tests run: the project's content, CI or not, and sync-to-async glue."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from bot.config import PROJECT_ROOT

T = TypeVar("T")
CONTENT_DIR = PROJECT_ROOT / "content"
#: Under CI, a missing PostgreSQL or Rasa fails the run instead of skipping tests.
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def run_blocking(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine to completion from sync code, even inside a running event loop."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(factory())).result()
