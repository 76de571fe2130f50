"""The real Rasa server with the trained model, through the bot's own client.

The server is the session fixture `rasa_server` (tests/support/rasa.py), shared with the
persona suite (tests/personas/).
"""

from __future__ import annotations

import os
import subprocess
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

NLU_DIR = PROJECT_ROOT / "nlu"


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
    # "au Mali" is where they would return to, not where they are: the bot asks where
    # they are, to show who helps there.
    assert outcome.meta.messages == ["where.ask"]


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
