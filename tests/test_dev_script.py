"""The set-up script finds its interpreters, and says how to get Python 3.10 when it cannot."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import PROJECT_ROOT

DEV = PROJECT_ROOT / "dev"
BASH = shutil.which("bash") or "/bin/bash"


def dev(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [BASH, str(DEV), *args], capture_output=True, text=True, env=env, timeout=60, check=False
    )


def test_missing_python_310_is_explained(tmp_path: Path) -> None:
    if any(Path(p).exists() for p in ("/usr/bin/python3.10", "/usr/local/bin/python3.10")):
        pytest.skip("this machine has a system-wide Python 3.10")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    # Only the tools the script needs, and a Python that is not 3.10.
    (bin_dir / "python3").symlink_to(os.path.realpath(sys.executable))
    for tool in ("sha256sum", "cut", "cat", "sort", "ls", "dirname", "sed"):
        found = shutil.which(tool)
        if found:
            (bin_dir / tool).symlink_to(os.path.realpath(found))
    env = {"PATH": str(bin_dir), "HOME": str(tmp_path), "PYENV_ROOT": str(tmp_path / "none")}
    result = dev("doctor", env=env)
    assert result.returncode == 1
    assert "no Python 3.10 interpreter found" in result.stderr
    for hint in ("pyenv install 3.10", "uv python install 3.10", "RASA_PYTHON="):
        assert hint in result.stderr


def test_explicit_rasa_python_is_checked(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "RASA_PYTHON": str(tmp_path / "nope"),
        "PATH": "/usr/bin:/bin",
        "PYENV_ROOT": str(tmp_path / "none"),
        "HOME": str(tmp_path),
    }
    result = dev("doctor", env=env)
    if result.returncode == 0:
        assert "nope" not in result.stdout  # a wrong override is never used
    else:
        assert "no Python 3.10 interpreter found" in result.stderr


def test_usage_lists_the_two_commands() -> None:
    result = dev(env=dict(os.environ))
    assert result.returncode == 2
    assert "./dev run" in result.stdout and "./dev test" in result.stdout
