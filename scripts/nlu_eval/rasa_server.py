"""The real Rasa model as a subprocess: ``rasa train nlu``, then ``rasa run`` on loopback.

Rasa runs in its own environment (``.venv-rasa``); the evaluation only starts it, waits
until it serves, and always stops it. Its output goes to log files whose tail is quoted
when something fails. Nothing listens beyond the loopback interface.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import subprocess
import time
from pathlib import Path

import httpx

from bot.nlu.rasa import RasaAuth
from scripts.nlu_eval.errors import ReportError

logger = logging.getLogger(__name__)

STARTUP_SECONDS = 240.0
PARSE_TIMEOUT = 30.0
LOG_TAIL_LINES = 40


def rasa_env() -> dict[str, str]:
    return {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2"}


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    """The last lines of a Rasa log, without the noise our readiness polls cause."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    kept = [line for line in text.splitlines() if "No agent loaded" not in line]
    return "\n".join(kept[-lines:])


def train_model(
    rasa_bin: Path,
    nlu_dir: Path,
    out_dir: Path,
    log_path: Path,
    *,
    config: Path | None = None,
    data: Path | None = None,
) -> tuple[Path, float]:
    """``rasa train nlu`` into ``out_dir`` (its cache there too); the model and the seconds.

    ``config`` and ``data`` default to ``nlu_dir/config.yml`` and ``nlu_dir/data``
    (cross-validation passes a variant's config and one fold's training data).
    """
    command = [
        str(rasa_bin), "train", "nlu",
        "--config", str(config or nlu_dir / "config.yml"),
        "--nlu", str(data or nlu_dir / "data"),
        "--domain", str(nlu_dir / "domain.yml"),
        "--out", str(out_dir),
        "--fixed-model-name", "kunnafoni-nlu",
    ]  # fmt: skip
    logger.info("training the Rasa model (log: %s)", log_path)
    start = time.monotonic()
    with log_path.open("w", encoding="utf-8") as log:
        result = subprocess.run(
            command, stdout=log, stderr=subprocess.STDOUT, cwd=out_dir, env=rasa_env(), check=False
        )
    seconds = time.monotonic() - start
    model = out_dir / "kunnafoni-nlu.tar.gz"
    if result.returncode != 0 or not model.exists():
        raise ReportError(
            f"rasa train failed (exit {result.returncode});"
            f" end of {log_path}:\n{log_tail(log_path)}"
        )
    logger.info("trained in %.1f s", seconds)
    return model, seconds


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RasaServer:
    """``rasa run`` on loopback with a random token; a context manager that always stops it."""

    def __init__(self, rasa_bin: Path, model: Path, log_path: Path, workdir: Path) -> None:
        self.rasa_bin, self.model, self.log_path, self.workdir = rasa_bin, model, log_path, workdir
        self.port = free_port()
        self.token = secrets.token_hex(24)  # never starts with "-", unlike token_urlsafe
        #: The secret is Rasa's JWT secret, as the bot uses it (``bot.nlu.rasa``).
        self.auth = RasaAuth(self.token)
        self.url = f"http://127.0.0.1:{self.port}"
        self._proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> RasaServer:
        command = [
            str(self.rasa_bin), "run", "--enable-api",
            "--jwt-secret", self.token, "--jwt-method", "HS256",
            "-i", "127.0.0.1", "-p", str(self.port), "--model", str(self.model),
        ]  # fmt: skip
        logger.info("starting the Rasa server on %s (log: %s)", self.url, self.log_path)
        with self.log_path.open("w", encoding="utf-8") as log:
            self._proc = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, cwd=self.workdir, env=rasa_env()
            )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _wait_ready(self) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            if self._proc.poll() is not None:
                raise ReportError(
                    f"the Rasa server exited with {self._proc.returncode};"
                    f" end of {self.log_path}:\n{log_tail(self.log_path)}"
                )
            try:
                status = httpx.get(f"{self.url}/status", headers=self.auth.headers(), timeout=2)
                if status.status_code == 200 and status.json().get("model_file"):
                    logger.info("Rasa server ready")
                    return
            except (httpx.HTTPError, ValueError):
                status = None
            # Rasa loads the model before it serves; 409 "no agent" means loading failed.
            if status is not None and status.status_code == 409:
                raise ReportError(
                    f"the Rasa server could not load {self.model};"
                    f" end of {self.log_path}:\n{log_tail(self.log_path)}"
                )
            if time.monotonic() > deadline:
                raise ReportError(
                    f"the Rasa server did not answer in {STARTUP_SECONDS:.0f} s;"
                    f" end of {self.log_path}:\n{log_tail(self.log_path)}"
                )
            time.sleep(1)

    def version(self) -> str:
        try:
            body = httpx.get(f"{self.url}/version", headers=self.auth.headers(), timeout=5).json()
            return str(body.get("version") or "unknown")
        except (httpx.HTTPError, ValueError):
            return "unknown"

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        logger.info("stopping the Rasa server")
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
