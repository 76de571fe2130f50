"""Lint and types are part of the suite, so CI holds them as it holds behaviour."""

from __future__ import annotations

import subprocess
import sys

from bot.config import PROJECT_ROOT


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_ruff_is_clean() -> None:
    result = run("ruff", "check", "bot", "tests", "scripts", "bench", "nlu/kunnafoni_nlu")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_is_clean() -> None:
    result = run("mypy")
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_user_facing_text_in_python() -> None:
    """Words users read live in content/; accented literals in bot/ are a smell."""
    import re

    pattern = re.compile(r"[\"'][^\"'\n]*[àâçéèêëîïôûùüÿœɛɔɲŋ][^\"'\n]*[\"']")
    hits = []
    # The folding table maps letters, it holds no sentence.
    exempt = {PROJECT_ROOT / "bot" / "nlu" / "normalise.py"}
    for path in sorted(set((PROJECT_ROOT / "bot").rglob("*.py")) - exempt):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if pattern.search(line) and not line.lstrip().startswith("#"):
                hits.append(f"{path.relative_to(PROJECT_ROOT)}:{number}: {line.strip()}")
    assert hits == []
