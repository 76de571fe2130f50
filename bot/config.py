"""Settings read from the environment (and an optional ``.env`` file).

One pydantic-settings class, validated at start-up: a run outside the local
environment refuses placeholder or missing secrets instead of limping along.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

#: The project root when running from a checkout (``bot/`` lives under it).
PROJECT_ROOT = Path(__file__).resolve().parent.parent

#: Values that mean "nobody set this yet"; refused outside local runs.
PLACEHOLDERS = frozenset({"", "changeme", "change-me", "secret", "token", "xxx", "placeholder"})


class Environment(StrEnum):
    LOCAL = "local"
    TEST = "test"
    STAGING = "staging"
    PRODUCTION = "production"


#: Log levels a process accepts; DEBUG only where no real person's data flows.
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
QUIET_ENVIRONMENTS = frozenset({Environment.STAGING, Environment.PRODUCTION})


def debug_refused(level: str, environment: Environment) -> str | None:
    """Why ``level`` may not be used in ``environment``, or None when it may."""
    if level.upper() == "DEBUG" and environment in QUIET_ENVIRONMENTS:
        return (
            f"LOG_LEVEL=DEBUG is refused in {environment.value}: libraries log requests "
            "and message texts at DEBUG; use it in local or test runs only"
        )
    return None


class EnvironmentOnly(BaseSettings):
    """Only ``KUNNAFONI_ENV``: readable even when the rest of the settings is invalid."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    environment: Environment = Field(default=Environment.LOCAL, alias="KUNNAFONI_ENV")


def default_database_url() -> str:
    return f"sqlite+aiosqlite:///{PROJECT_ROOT / 'data' / 'kunnafoni.db'}"


def normalise_database_url(url: str) -> str:
    """Map the sync URLs people usually write to the async drivers the bot uses."""
    if url.startswith("sqlite:///"):
        return "sqlite+aiosqlite:///" + url.removeprefix("sqlite:///")
    for prefix in ("postgresql://", "postgres://", "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    return url


class Settings(BaseSettings):
    """Everything the bot reads from its environment; documented in ``.env.example``."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    environment: Environment = Field(default=Environment.LOCAL, alias="KUNNAFONI_ENV")
    telegram_bot_token: SecretStr | None = None
    telegram_api_url: str = "https://api.telegram.org"
    database_url: str = Field(default_factory=default_database_url)
    rasa_url: str = "http://127.0.0.1:5005"
    rasa_token: SecretStr | None = None
    rasa_timeout: float = Field(default=2.0, gt=0)
    content_dir: Path = PROJECT_ROOT / "content"
    content_reload_seconds: float = Field(default=2.0, ge=0)
    admin_telegram_ids: Annotated[frozenset[int], NoDecode] = frozenset()
    #: A referral still not acknowledged by its partner after this is reminded and flagged.
    referral_ack_hours: float = Field(default=24.0, gt=0)
    #: How often undelivered and unacknowledged referrals are looked for.
    referral_check_seconds: float = Field(default=300.0, gt=0)
    nlu_confidence_threshold: float = Field(default=0.5, ge=0, le=1)
    nlu_ambiguity_margin: float = Field(default=0.1, ge=0, le=1)
    nlu_emergency_floor: float = Field(default=0.15, ge=0, le=1)
    #: Training text for language identification (Rasa examples tagged with a language).
    nlu_data_dir: Path = PROJECT_ROOT / "nlu" / "data"
    #: The agents' chat for human handovers (a forum supergroup); None: no handover offered.
    agents_chat_id: int | None = None
    #: Broadcasts: messages per second in all (Telegram: about 30; up to 1000 when paid).
    broadcast_rate: float = Field(default=30.0, gt=0, le=1000)
    #: Paid broadcasts (``allow_paid_broadcast``): Telegram Stars per message above 30/s.
    broadcast_paid: bool = False
    #: Sends in flight at once; also the most messages a crash can make arrive twice.
    broadcast_concurrency: int = Field(default=8, ge=1, le=256)
    #: Seconds a sender holds claimed messages before another may take them over.
    broadcast_lease_seconds: float = Field(default=60.0, gt=0)
    log_level: str = "INFO"
    #: Retention (docs/privacy.md): referral-form answers of a silent conversation...
    retention_form_hours: float = Field(default=24.0, gt=0)
    #: ...the link between analytics events (and quiz answers) and a person...
    retention_event_link_days: float = Field(default=365.0, gt=0)
    #: ...a finished referral's name, phone, place and words...
    retention_referral_days: float = Field(default=90.0, gt=0)
    #: ...settled broadcast messages, and the ids of Telegram updates already handled.
    retention_outbox_days: float = Field(default=7.0, gt=0)
    retention_update_ids_days: float = Field(default=2.0, gt=0)
    #: How often the bot purges what is past its period; 0: never (an outside scheduler
    #: then runs `kunnafoni privacy purge`).
    purge_every_seconds: float = Field(default=3600.0, ge=0)

    @field_validator(
        "telegram_bot_token",
        "rasa_token",
        "database_url",
        "content_dir",
        "nlu_data_dir",
        "agents_chat_id",
        mode="before",
    )
    @classmethod
    def _empty_means_unset(cls, value: object, info: ValidationInfo) -> object:
        # `KEY=` in .env means "not set": fall back to the default, never to "".
        if isinstance(value, str) and not value.strip():
            if info.field_name == "database_url":
                return default_database_url()
            if info.field_name == "content_dir":
                return PROJECT_ROOT / "content"
            if info.field_name == "nlu_data_dir":
                return PROJECT_ROOT / "nlu" / "data"
            return None
        return value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in LOG_LEVELS:
            raise ValueError(f"LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}")
        return level

    @field_validator("admin_telegram_ids", mode="before")
    @classmethod
    def _parse_ids(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [p.strip() for p in value.replace(";", ",").split(",")]
            return frozenset(int(p) for p in parts if p)
        if isinstance(value, int):
            return frozenset({value})
        return value

    @field_validator("database_url")
    @classmethod
    def _normalise_db(cls, value: str) -> str:
        return normalise_database_url(value)

    @field_validator("telegram_api_url", "rasa_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @model_validator(mode="after")
    def _paid_above_free_rate(self) -> Settings:
        if self.broadcast_rate > 30 and not self.broadcast_paid:
            raise ValueError("BROADCAST_RATE above 30 needs BROADCAST_PAID=true")
        return self

    @model_validator(mode="after")
    def _no_debug_with_real_people(self) -> Settings:
        refused = debug_refused(self.log_level, self.environment)
        if refused:
            raise ValueError(refused)
        return self

    @model_validator(mode="after")
    def _refuse_placeholders(self) -> Settings:
        if self.environment in (Environment.LOCAL, Environment.TEST):
            return self
        problems = []
        for name in ("telegram_bot_token", "rasa_token"):
            secret: SecretStr | None = getattr(self, name)
            if secret is None or secret.get_secret_value().strip().lower() in PLACEHOLDERS:
                problems.append(f"{name.upper()} must be set to a real secret")
        if self.database_url.startswith("sqlite"):
            problems.append("DATABASE_URL must point to PostgreSQL outside local runs")
        if problems:
            raise ValueError(
                f"unsafe settings for {self.environment.value}: " + "; ".join(problems)
            )
        return self

    @property
    def bot_api_base_url(self) -> str:
        """The form python-telegram-bot expects: ``<root>/bot`` (the token is appended)."""
        return f"{self.telegram_api_url}/bot"

    @property
    def bot_api_file_url(self) -> str:
        return f"{self.telegram_api_url}/file/bot"
