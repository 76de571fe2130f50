"""Settings: defaults, parsing, and refusal of placeholder secrets outside local runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.config import PROJECT_ROOT, DatabaseSettings, Environment, Settings, database_password


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


#: Secrets of the shape real ones have (made up for the tests).
BOT_TOKEN = "7302918456:AAFq9xT2mZ-8kLwP4cVb_Yn3Rj6sDe1HgUo"
RASA_TOKEN = "Hx3k9QvT_wz2Lm8Rb5Nc7Yp1Fd4Gs6Ja0Ue"
DB_URL = "postgresql://kunnafoni:Vq7-Lm2x9Rt4Kz8w@db/kunnafoni"
CONSOLE_SECRET = "b7Rt_Qm2Xz9Lk4Wp8Nv3Hs6Dc1Fg5Jy0Ta"


def production(monkeypatch: pytest.MonkeyPatch, **settings: str) -> None:
    monkeypatch.setenv("KUNNAFONI_ENV", "production")
    values = {
        "TELEGRAM_BOT_TOKEN": BOT_TOKEN,
        "RASA_TOKEN": RASA_TOKEN,
        "DATABASE_URL": DB_URL,
        "CONSOLE_SECRET": CONSOLE_SECRET,
    }
    for name, value in {**values, **settings}.items():
        monkeypatch.setenv(name, value)


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
    production(monkeypatch)
    assert Settings().environment is Environment.PRODUCTION
    # A database reached without a password (a local socket, peer or certificate auth).
    production(monkeypatch, DATABASE_URL="postgresql://kunnafoni@/kunnafoni")
    assert Settings().environment is Environment.PRODUCTION


@pytest.mark.parametrize(
    ("setting", "value", "why"),
    [
        ("TELEGRAM_BOT_TOKEN", "1:a", "shape of a token"),
        ("TELEGRAM_BOT_TOKEN", "123456:AAH-real-looking-token", "shape of a token"),
        ("TELEGRAM_BOT_TOKEN", "123456:" + "a" * 35, "fewer than 8 different"),
        ("TELEGRAM_BOT_TOKEN", "123456:changeme-changeme-changeme-12345", "'changeme'"),
        ("RASA_TOKEN", "a", "at least 32 characters"),
        ("RASA_TOKEN", "q8Zr3-long-random", "at least 32 characters"),
        ("RASA_TOKEN", "my-rasa-secret-for-the-kunnafoni-bot", "'secret'"),
        ("RASA_TOKEN", "ab" * 20, "fewer than 8 different"),
        ("DATABASE_URL", "postgresql://k:changeme@db/k", "at least 12 characters"),
        ("DATABASE_URL", "postgresql://k:password2024!!@db/k", "'password'"),
        ("DATABASE_URL", "postgresql://k:aaaaaaaaaaaaaaaa@db/k", "fewer than 8 different"),
    ],
)
def test_production_refuses_weak_secrets(
    monkeypatch: pytest.MonkeyPatch, setting: str, value: str, why: str
) -> None:
    production(monkeypatch, **{setting: value})
    with pytest.raises(ValidationError) as caught:
        Settings()
    problems = [e["msg"] for e in caught.value.errors()]
    assert len(problems) == 1
    assert why in problems[0]
    named = "the password in DATABASE_URL" if setting == "DATABASE_URL" else setting
    assert named in problems[0]


def test_production_refuses_one_secret_used_twice(monkeypatch: pytest.MonkeyPatch) -> None:
    production(monkeypatch, DATABASE_URL=f"postgresql://k:{RASA_TOKEN}@db/k")
    with pytest.raises(ValidationError, match="RASA_TOKEN and the password in DATABASE_URL"):
        Settings()
    production(monkeypatch, RASA_TOKEN=BOT_TOKEN.split(":")[1])
    with pytest.raises(ValidationError, match="TELEGRAM_BOT_TOKEN and RASA_TOKEN"):
        Settings()


def test_staging_is_held_to_the_same_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    production(monkeypatch, RASA_TOKEN="short")
    monkeypatch.setenv("KUNNAFONI_ENV", "staging")
    with pytest.raises(ValidationError, match="RASA_TOKEN must be at least"):
        Settings()


def test_the_command_line_names_the_setting_but_never_prints_a_secret(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli import main

    weak = "Zq1!short"
    production(monkeypatch, RASA_TOKEN=weak, DATABASE_URL="postgresql://k:Pw9!tiny@db/k")
    with pytest.raises(SystemExit) as stopped:
        main(["report"])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert "RASA_TOKEN must be at least 32 characters" in err
    assert "the password in DATABASE_URL must be at least 12 characters" in err
    assert weak not in err and "Pw9!tiny" not in err and BOT_TOKEN not in err


def test_a_bad_partners_file_stops_the_start_with_the_reasons(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli import main

    partners = tmp_path / "partners.yml"
    partners.write_text(
        "partners:\n"
        "  iom_mali: {chat_id: 123456789, staff: [81]}\n"  # a person's chat, not a group
        "  red_cross_rfl: {chat_id: -100222, staff: []}\n"  # nobody may act
        "  nowhere: {chat_id: -100333, staff: [82]}\n",  # no such service
        encoding="utf-8",
    )
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", BOT_TOKEN)
    monkeypatch.setenv("PARTNERS_FILE", str(partners))
    assert main(["run"]) == 2
    err = capsys.readouterr().err
    assert "partners.iom_mali.chat_id: 123456789 is a person's private chat" in err
    assert "partners.red_cross_rfl.staff" in err
    # Per-entry problems first; with those fixed, the content check names the unknown one.
    partners.write_text("partners:\n  nowhere: {chat_id: -100333, staff: [82]}\n", "utf-8")
    assert main(["run"]) == 2
    assert "partners.nowhere: no such service" in capsys.readouterr().err


WEBHOOK_URL = "https://bot.example.org/telegram/updates"
WEBHOOK_SECRET = "Hk4-vQ9_zT2wLr7Yp3Nx8Bc1Dm6Fs5Ga0"


def test_a_webhook_needs_an_https_url_and_a_secret_everywhere(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TELEGRAM_WEBHOOK_URL", WEBHOOK_URL)
    with pytest.raises(ValidationError, match="TELEGRAM_WEBHOOK_SECRET must be set"):
        Settings()  # even in local runs: anyone could post updates otherwise
    monkeypatch.setenv("TELEGRAM_WEBHOOK_SECRET", "not allowed!")
    with pytest.raises(ValidationError, match="only letters, digits"):
        Settings()
    monkeypatch.setenv("TELEGRAM_WEBHOOK_SECRET", "short-is-fine-locally")
    settings = Settings()
    assert settings.webhook_path == "/telegram/updates"
    assert (settings.http_host, settings.http_port) == ("127.0.0.1", 8080)
    monkeypatch.setenv("TELEGRAM_WEBHOOK_URL", "http://bot.example.org/hook")
    with pytest.raises(ValidationError, match="https://"):
        Settings()


@pytest.mark.parametrize(
    ("secret", "why"),
    [
        ("short-is-fine-locally", "at least 32 characters"),
        ("my-webhook-secret-for-the-telegram-bot", "'secret'"),
        ("ab" * 20, "fewer than 8 different"),
    ],
)
def test_production_refuses_a_weak_webhook_secret(
    monkeypatch: pytest.MonkeyPatch, secret: str, why: str
) -> None:
    production(monkeypatch, TELEGRAM_WEBHOOK_URL=WEBHOOK_URL, TELEGRAM_WEBHOOK_SECRET=secret)
    with pytest.raises(ValidationError) as caught:
        Settings()
    (problem,) = [e["msg"] for e in caught.value.errors()]
    assert "TELEGRAM_WEBHOOK_SECRET" in problem and why in problem
    assert secret not in str(caught.value)


def test_production_accepts_a_strong_webhook_secret_used_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    production(
        monkeypatch, TELEGRAM_WEBHOOK_URL=WEBHOOK_URL, TELEGRAM_WEBHOOK_SECRET=WEBHOOK_SECRET
    )
    assert Settings().telegram_webhook_secret is not None
    production(monkeypatch, TELEGRAM_WEBHOOK_URL=WEBHOOK_URL, TELEGRAM_WEBHOOK_SECRET=RASA_TOKEN)
    with pytest.raises(ValidationError, match="RASA_TOKEN and TELEGRAM_WEBHOOK_SECRET"):
        Settings()


# Secrets from files (`*_FILE`): Docker and Compose secrets are files, never variables.


def secret_file(tmp_path: Path, name: str, content: str) -> Path:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    return path


def test_secrets_read_from_files_without_their_newline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    production(monkeypatch)
    for name in ("TELEGRAM_BOT_TOKEN", "RASA_TOKEN", "DATABASE_URL"):
        monkeypatch.delenv(name)
    webhook_secret = "Zr4Tq8Wm2Kp6Xv1Bn9Hs3Ld7Fc5Gy0Jt_e"
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN_FILE", str(secret_file(tmp_path, "t", BOT_TOKEN + "\n")))
    monkeypatch.setenv("RASA_TOKEN_FILE", str(secret_file(tmp_path, "r", RASA_TOKEN + "\r\n")))
    monkeypatch.setenv("DATABASE_URL_FILE", str(secret_file(tmp_path, "d", DB_URL)))
    monkeypatch.setenv("TELEGRAM_WEBHOOK_URL", "https://bot.example.org/telegram/hook")
    monkeypatch.setenv(
        "TELEGRAM_WEBHOOK_SECRET_FILE", str(secret_file(tmp_path, "w", webhook_secret + "\n"))
    )
    settings = Settings()
    assert settings.telegram_bot_token is not None
    assert settings.telegram_bot_token.get_secret_value() == BOT_TOKEN
    assert settings.rasa_token is not None
    assert settings.rasa_token.get_secret_value() == RASA_TOKEN
    assert settings.telegram_webhook_secret is not None
    assert settings.telegram_webhook_secret.get_secret_value() == webhook_secret
    assert settings.database_url == "postgresql+psycopg://kunnafoni:Vq7-Lm2x9Rt4Kz8w@db/kunnafoni"


def test_secrets_from_files_are_held_to_the_same_rules(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    production(monkeypatch)
    monkeypatch.delenv("RASA_TOKEN")
    monkeypatch.setenv("RASA_TOKEN_FILE", str(secret_file(tmp_path, "r", "changeme\n")))
    with pytest.raises(ValidationError, match="RASA_TOKEN"):
        Settings()


def test_a_secret_and_its_file_both_set_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    production(monkeypatch)
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN_FILE", str(secret_file(tmp_path, "t", BOT_TOKEN)))
    with pytest.raises(ValidationError) as caught:
        Settings()
    message = str(caught.value)
    assert "TELEGRAM_BOT_TOKEN and TELEGRAM_BOT_TOKEN_FILE are both set" in message
    assert BOT_TOKEN not in message


def test_an_empty_variable_beside_its_file_means_unset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RASA_TOKEN", "")
    monkeypatch.setenv("RASA_TOKEN_FILE", str(secret_file(tmp_path, "r", RASA_TOKEN + "\n")))
    settings = Settings()
    assert settings.rasa_token is not None
    assert settings.rasa_token.get_secret_value() == RASA_TOKEN


@pytest.mark.parametrize(("content", "why"), [(None, "cannot read"), ("\n", "is empty")])
def test_a_missing_or_empty_secret_file_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: str | None, why: str
) -> None:
    path = tmp_path / "rasa_token"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    monkeypatch.setenv("RASA_TOKEN_FILE", str(path))
    with pytest.raises(ValidationError, match=f"RASA_TOKEN_FILE: .*{why}"):
        Settings()


def test_database_password_from_a_file_fills_the_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    password = "Vq7-Lm2x9@Rt4/Kz8w"
    monkeypatch.setenv("DATABASE_URL", "postgresql://kunnafoni@postgres:5432/kunnafoni")
    monkeypatch.setenv("DATABASE_PASSWORD_FILE", str(secret_file(tmp_path, "p", password + "\n")))
    settings = Settings()
    assert settings.database_url == (
        "postgresql+psycopg://kunnafoni:Vq7-Lm2x9%40Rt4%2FKz8w@postgres:5432/kunnafoni"
    )
    assert database_password(settings.database_url) == password


def test_database_password_file_refuses_a_url_with_a_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", DB_URL)
    monkeypatch.setenv("DATABASE_PASSWORD_FILE", str(secret_file(tmp_path, "p", "Kz8w2x9Rt4Lm")))
    with pytest.raises(ValidationError, match="already holds a password"):
        Settings()


def test_database_settings_need_no_bot_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The migration job: production, the database only, no Telegram or NLU secret.
    monkeypatch.setenv("KUNNAFONI_ENV", "production")
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    monkeypatch.delenv("RASA_TOKEN", raising=False)
    monkeypatch.setenv("DATABASE_URL", "postgresql://kunnafoni@postgres:5432/kunnafoni")
    monkeypatch.setenv(
        "DATABASE_PASSWORD_FILE", str(secret_file(tmp_path, "p", "Vq7-Lm2x9Rt4Kz8w\n"))
    )
    settings = DatabaseSettings()
    assert settings.database_url.startswith("postgresql+psycopg://kunnafoni:")
    monkeypatch.setenv("DATABASE_PASSWORD_FILE", str(secret_file(tmp_path, "q", "changeme1\n")))
    with pytest.raises(ValidationError, match="password in DATABASE_URL"):
        DatabaseSettings()


def test_db_upgrade_runs_without_the_bot_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The migration job of docker-compose.yml: production, the database and nothing else.
    import bot.cli.database
    from bot.cli import main

    upgraded: list[str] = []

    async def upgrade(url: str, revision: str = "head") -> None:
        upgraded.append(url)

    monkeypatch.setattr(bot.cli.database, "upgrade_database", upgrade)
    monkeypatch.setenv("KUNNAFONI_ENV", "production")
    for name in ("TELEGRAM_BOT_TOKEN", "RASA_TOKEN", "TELEGRAM_WEBHOOK_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", "postgresql://kunnafoni@postgres:5432/kunnafoni")
    monkeypatch.setenv("DATABASE_PASSWORD_FILE", str(secret_file(tmp_path, "p", "Vq7-Lm2x9Rt4\n")))
    assert main(["db", "upgrade"]) == 0
    assert upgraded == ["postgresql+psycopg://kunnafoni:Vq7-Lm2x9Rt4@postgres:5432/kunnafoni"]


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", "CONSOLE_SECRET must be set"),
        ("Qm2Xz9Lk4Wp8", "at least 32 characters"),
        ("console-secret-" + "Qm2Xz9Lk4Wp8Nv3Hs6Dc1", "contains the word 'secret'"),
    ],
)
def test_production_refuses_a_missing_or_weak_console_secret(
    monkeypatch: pytest.MonkeyPatch, value: str, reason: str
) -> None:
    production(monkeypatch, CONSOLE_SECRET=value)
    with pytest.raises(ValidationError) as refused:
        Settings()
    assert reason in str(refused.value)
    if value:
        assert value not in str(refused.value)


def test_the_console_secret_is_not_another_secret_and_may_come_from_a_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    production(monkeypatch, CONSOLE_SECRET=RASA_TOKEN)
    with pytest.raises(ValidationError, match="RASA_TOKEN and CONSOLE_SECRET must be different"):
        Settings()
    monkeypatch.delenv("CONSOLE_SECRET")
    secret = tmp_path / "console_secret"
    secret.write_text(CONSOLE_SECRET + "\n", encoding="utf-8")
    monkeypatch.setenv("CONSOLE_SECRET_FILE", str(secret))
    settings = Settings()
    assert settings.console_secret is not None
    assert settings.console_secret.get_secret_value() == CONSOLE_SECRET


def test_a_local_run_needs_no_console_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CONSOLE_SECRET", raising=False)
    assert Settings().console_secret is None


def test_trusted_proxies_are_addresses_or_networks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONSOLE_TRUSTED_PROXIES", "10.0.0.5, 172.18.0.0/16")
    assert Settings().console_trusted_proxies == ("10.0.0.5", "172.18.0.0/16")
    monkeypatch.setenv("CONSOLE_TRUSTED_PROXIES", "proxy.local")
    with pytest.raises(ValidationError, match="CONSOLE_TRUSTED_PROXIES must list IP addresses"):
        Settings()


def test_review_capture_is_on_by_default_and_can_be_turned_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("NLU_REVIEW_CAPTURE", raising=False)
    assert Settings().nlu_review_capture is True
    monkeypatch.setenv("NLU_REVIEW_CAPTURE", "false")
    assert Settings().nlu_review_capture is False


def test_review_retention_may_not_outlast_what_the_consent_says(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RETENTION_REVIEW_DAYS", "31")
    with pytest.raises(ValidationError, match="RETENTION_REVIEW_DAYS may not exceed 30"):
        Settings()
    monkeypatch.setenv("NLU_REVIEW_CAPTURE", "false")
    assert Settings().retention_review_days == 31
    monkeypatch.setenv("NLU_REVIEW_CAPTURE", "true")
    monkeypatch.setenv("RETENTION_REVIEW_DAYS", "7")
    assert Settings().retention_review_days == 7
