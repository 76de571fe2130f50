"""The real Rasa server with the trained model, through the bot's own client.

`./dev test` trains the model (cached by a hash of nlu/) and passes its path and the
Rasa executable in KUNNAFONI_RASA_MODEL and KUNNAFONI_RASA_BIN.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from bot.config import PROJECT_ROOT
from bot.content.store import ContentStore
from bot.dialogue.engine import Engine
from bot.dialogue.types import Inbound
from bot.nlu.rasa import RasaAuth, RasaClient
from bot.nlu.service import NluService
from bot.nlu.types import NluSource
from bot.store.db import Database
from tests.support.environment import IN_CI

pytestmark = pytest.mark.rasa

STARTUP_SECONDS = 240
NLU_DIR = PROJECT_ROOT / "nlu"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def rasa_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    rasa_bin = os.environ.get("KUNNAFONI_RASA_BIN", "")
    model = os.environ.get("KUNNAFONI_RASA_MODEL", "")
    if not (rasa_bin and Path(rasa_bin).exists() and model and Path(model).exists()):
        reason = "no trained Rasa model: run the suite with ./dev test"
        if IN_CI:
            pytest.fail(f"Rasa integration tests must run in CI: {reason}", pytrace=False)
        pytest.skip(reason)
    port, token = _free_port(), secrets.token_hex(16)
    log = tmp_path_factory.mktemp("rasa") / "rasa.log"
    env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2"}
    with log.open("w") as out:
        proc = subprocess.Popen(
            [
                rasa_bin,
                "run",
                "--enable-api",
                "--jwt-secret",
                token,
                "--jwt-method",
                "HS256",
                "-i",
                "127.0.0.1",
                "-p",
                str(port),
                "--model",
                model,
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=tmp_path_factory.mktemp("cwd"),
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            if proc.poll() is not None:
                pytest.fail(f"Rasa exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                status = httpx.get(f"{url}/status", headers=RasaAuth(token).headers(), timeout=2)
                if status.status_code == 200 and status.json().get("model_file"):
                    break
            except (httpx.HTTPError, ValueError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"Rasa did not start in {STARTUP_SECONDS}s:\n{log.read_text()[-3000:]}")
            time.sleep(1)
        yield url, token
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


async def test_server_refuses_requests_without_a_token_of_the_secret(
    rasa_server: tuple[str, str],
) -> None:
    url, token = rasa_server
    refused = [
        {},  # no token
        {"params": {"token": token}},  # the secret in the URL, as --auth-token would take it
        {"headers": RasaAuth("not-the-secret").headers()},
        {"headers": RasaAuth(token, lifetime=-300).headers()},  # expired (180 s of skew allowed)
    ]
    async with httpx.AsyncClient() as client:
        for how in refused:
            response = await client.post(f"{url}/model/parse", json={"text": "bonjour"}, **how)
            assert response.status_code == 401, how
        accepted = await client.post(
            f"{url}/model/parse", json={"text": "bonjour"}, headers=RasaAuth(token).headers()
        )
    assert accepted.status_code == 200


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("je suis bloqué en Algérie, je veux rentrer au Mali", "return_help"),
        ("c quoi les risques pour traverser le desert", "risks_desert"),
        ("n balima taara Libi, an t'a kibaru sɔrɔ kabini kalo saba", "missing_person"),
        ("i ni ce", "greet"),
    ],
)
async def test_real_model_parses_french_and_bambara(
    rasa_server: tuple[str, str], text: str, intent: str
) -> None:
    url, token = rasa_server
    client = RasaClient(url, token, timeout=10)
    try:
        result = await client.parse(text)
    finally:
        await client.aclose()
    assert result.source is NluSource.RASA
    assert result.intent == intent, result.ranking[:3]
    assert result.ranking and result.ranking[0][0] == intent


async def test_a_leading_slash_is_read_as_words_not_as_an_intent_name(
    rasa_server: tuple[str, str],
) -> None:
    # Sent as is, Rasa would answer intent "stop, plus de messages" with confidence 1.0.
    url, token = rasa_server
    client = RasaClient(url, token, timeout=10)
    try:
        result = await client.parse("/stop, plus de messages")
    finally:
        await client.aclose()
    known = set(yaml.safe_load((NLU_DIR / "domain.yml").read_text(encoding="utf-8"))["intents"])
    assert result.ranking and {name for name, _ in result.ranking} <= known | {"nlu_fallback"}
    assert result.intent in known | {"nlu_fallback"}


async def test_engine_answers_through_the_real_model(
    rasa_server: tuple[str, str], database: Database, content_store: ContentStore
) -> None:
    url, token = rasa_server
    nlu = NluService(RasaClient(url, token, timeout=10), content_store.matcher)
    engine = Engine(database=database, content=content_store.current, nlu=nlu)
    await engine.handle(Inbound(user_id="r1", command="start"))
    await engine.handle(Inbound(user_id="r1", button="lang:fr"))
    await engine.handle(Inbound(user_id="r1", button="consent:yes"))
    outcome = await engine.handle(
        Inbound(user_id="r1", text="je veux rentrer au Mali, comment faire pour revenir")
    )
    await nlu.aclose()
    assert outcome.meta.nlu_source == "rasa"
    assert outcome.meta.intent == "return_help"
    spec = content_store.current().intents["return_help"]
    assert (
        spec.reply
        and outcome.replies[0].text == content_store.current().text(spec.reply, "fr").text
    )


def test_rasa_data_validate_passes() -> None:
    rasa_bin = os.environ.get("KUNNAFONI_RASA_BIN", "")
    if not (rasa_bin and Path(rasa_bin).exists()):
        if IN_CI:
            pytest.fail("the Rasa environment is missing in CI", pytrace=False)
        pytest.skip("no Rasa environment: run the suite with ./dev test")
    nlu_dir = Path(__file__).resolve().parents[2] / "nlu"
    env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2"}
    result = subprocess.run(
        [
            rasa_bin,
            "data",
            "validate",
            "--domain",
            "domain.yml",
            "--data",
            "data",
            "tests",
            "--fail-on-warnings",
        ],
        cwd=nlu_dir,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
