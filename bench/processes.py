"""``kunnafoni run`` as real processes for the benches: started in webhook mode against
the fake Bot API, on a free port each, and stopped with SIGTERM as a supervisor would."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bot.config import PROJECT_ROOT

WEBHOOK_URL = "https://bot.example.org/telegram/updates"
SECRET = "Zq7-Wd2_pLx9Kc4Vr8Tn3Mh6Jb5Ys1Ge0"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Replica:
    process: asyncio.subprocess.Process
    http: httpx.AsyncClient

    async def deliver(self, update: dict[str, Any]) -> int:
        """POST ``update`` to the webhook as Telegram does; the status code. A kept-alive
        connection the server closed meanwhile is retried once, as Telegram retries (the
        bot answers a copy it already took 200 without handling it again)."""
        for attempt in (1, 2):
            try:
                answer = await self.http.post(
                    "/telegram/updates", json=update, headers={SECRET_HEADER: SECRET}
                )
                return answer.status_code
            except (httpx.ReadError, httpx.RemoteProtocolError):
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def rss_kb(self) -> tuple[int, int]:
        """The process's resident memory now and at its peak (VmRSS, VmHWM), in kB."""
        fields = {}
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                fields[name] = int(value.split()[0])
        return fields["VmRSS"], fields["VmHWM"]


@asynccontextmanager
async def replicas(
    count: int, *, database_url: str, api_root: str, **settings: str
) -> AsyncIterator[list[Replica]]:
    """``count`` webhook processes sharing ``database_url``, healthy when the block starts."""
    started: list[Replica] = []
    with tempfile.TemporaryDirectory(prefix="kf-bench-") as folder:
        try:
            for number in range(count):
                port = free_port()
                env = {
                    **os.environ,
                    "PYTHONPATH": os.pathsep.join(
                        [str(PROJECT_ROOT), os.environ.get("PYTHONPATH", "")]
                    ),
                    "KUNNAFONI_ENV": "test",
                    "TELEGRAM_BOT_TOKEN": "123456:TEST",
                    "TELEGRAM_API_URL": api_root,
                    "TELEGRAM_WEBHOOK_URL": WEBHOOK_URL,
                    "TELEGRAM_WEBHOOK_SECRET": SECRET,
                    "HTTP_PORT": str(port),
                    "DATABASE_URL": database_url,
                    "RASA_URL": "",
                    "LOG_LEVEL": "WARNING",
                    **settings,
                }
                env.pop("RASA_TOKEN", None)
                process = await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-m",
                    "bot",
                    "run",
                    env=env,
                    cwd=folder,
                    stdout=asyncio.subprocess.DEVNULL,
                    stderr=_log_file(folder, number),
                )
                http = httpx.AsyncClient(
                    base_url=f"http://127.0.0.1:{port}",
                    timeout=60,
                    limits=httpx.Limits(max_connections=40),
                )
                started.append(Replica(process, http))
            for replica in started:
                await _until_healthy(replica)
            yield started
        except BaseException:
            _print_logs(folder)
            raise
        finally:
            for replica in started:
                await replica.http.aclose()
                if replica.process.returncode is None:
                    replica.process.send_signal(signal.SIGTERM)
            for replica in started:
                try:
                    await asyncio.wait_for(replica.process.wait(), 30)
                except TimeoutError:
                    replica.process.kill()
                    await replica.process.wait()


def _log_file(folder: str, number: int) -> Any:
    return (Path(folder) / f"bot{number}.log").open("wb")


def _print_logs(folder: str) -> None:
    """The last lines each bot process wrote, when the bench failed."""
    for log in sorted(Path(folder).glob("bot*.log")):
        tail = log.read_text(errors="replace").splitlines()[-15:]
        print(f"--- {log.name} (last lines)", *tail, sep="\n", file=sys.stderr)


async def _until_healthy(replica: Replica) -> None:
    for _ in range(600):  # migrations and content: a few seconds
        if replica.process.returncode is not None:
            raise RuntimeError(f"the bot exited with status {replica.process.returncode}")
        try:
            if (await replica.http.get("/healthz")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError("the bot did not start within 60 s")
