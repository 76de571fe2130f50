"""Settings: defaults, parsing, and refusal of placeholder secrets outside local runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.config import PROJECT_ROOT, Environment, Settings


def test_local_defaults_need_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL")
    settings = Settings()
    assert settings.environment is Environment.LOCAL
    assert settings.telegram_bot_token is None
    assert settings.telegram_api_url == "https://api.telegram.org"
    assert settings.bot_api_base_url == "https://api.telegram.org/bot"
    assert settings.database_url == f"sqlite+aiosqlite:///{PROJECT_ROOT / 'data' / 'kunnafoni.db'}"
    assert settings.content_dir == PROJECT_ROOT / "content"


def test_env_file_with_empty_values_keeps_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DATABASE_URL")
    monkeypatch.delenv("RASA_URL")
    (tmp_path / ".env").write_text((PROJECT_ROOT / ".env.example").read_text())
    settings = Settings()
    assert settings.telegram_bot_token is None and settings.rasa_token is None
    assert settings.database_url.startswith("sqlite+aiosqlite:///")
    assert settings.content_dir == PROJECT_ROOT / "content"


def test_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADMIN_TELEGRAM_IDS", "12, 34;56")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:p@db:5432/k")
    monkeypatch.setenv("TELEGRAM_API_URL", "http://127.0.0.1:8081/")
    settings = Settings()
    assert settings.admin_telegram_ids == frozenset({12, 34, 56})
    assert settings.database_url == "postgresql+psycopg://u:p@db:5432/k"
    assert settings.bot_api_base_url == "http://127.0.0.1:8081/bot"


@pytest.mark.parametrize("token", ["changeme", "", "token"])
def test_production_refuses_placeholders(monkeypatch: pytest.MonkeyPatch, token: str) -> None:
    monkeypatch.setenv("KUNNAFONI_ENV", "production")
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", token)
    monkeypatch.setenv("RASA_TOKEN", "changeme")
    with pytest.raises(ValidationError) as caught:
        Settings()
    message = str(caught.value)
    assert "TELEGRAM_BOT_TOKEN" in message and "RASA_TOKEN" in message
    assert "PostgreSQL" in message


def test_production_accepts_real_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUNNAFONI_ENV", "production")
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123456:AAH-real-looking-token")
    monkeypatch.setenv("RASA_TOKEN", "q8Zr3-long-random")
    monkeypatch.setenv("DATABASE_URL", "postgresql://k:pw@db/k")
    assert Settings().environment is Environment.PRODUCTION
