"""Settings read from the environment (and an optional ``.env`` file).

One pydantic-settings class, validated at start-up: a run outside the local
environment refuses placeholder or missing secrets instead of limping along.
"""

from __future__ import annotations

import ipaddress
import re
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, unquote, urlsplit

from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

#: The project root when running from a checkout (``bot/`` lives under it).
PROJECT_ROOT = Path(__file__).resolve().parent.parent

#: Values that mean "nobody set this yet"; refused outside local runs.
PLACEHOLDERS = frozenset({"", "changeme", "change-me", "secret", "token", "xxx", "placeholder"})
#: Words that give a hand-typed secret away; a secret containing one is refused outside
#: local runs (a generated one practically never does).
PLACEHOLDER_WORDS = (
    "changeme",
    "change-me",
    "change_me",
    "secret",
    "password",
    "passwd",
    "placeholder",
    "example",
    "token",
    "xxx",
    "admin",
    "kunnafoni",
    "1234",
    "qwerty",
    "azerty",
)
#: The shortest shared secret accepted outside local runs: RASA_TOKEN signs the NLU
#: server's tokens (HS256 wants a key of at least 256 bits: 32 characters of base64).
MIN_SHARED_SECRET = 32
#: The shortest database password accepted outside local runs.
MIN_DATABASE_PASSWORD = 12
#: What @BotFather gives: the bot's numeric id, a colon, 35 characters.
BOT_TOKEN_SHAPE = re.compile(r"\d{5,16}:[A-Za-z0-9_-]{30,64}")
#: What Telegram accepts as a webhook's ``secret_token``: 1 to 256 of these characters.
WEBHOOK_SECRET_SHAPE = re.compile(r"[A-Za-z0-9_-]{1,256}")
#: The days the consent texts say a queued NLU review message is kept at most.
REVIEW_DAYS_PROMISED = 30.0
#: Kinds of update the bot asks Telegram for (polling and webhook alike).
DEFAULT_ALLOWED_UPDATES = ("message", "callback_query")


def _weak(value: str) -> str | None:
    """Why a hand-chosen secret is guessable, or None. Never quotes the value."""
    lowered = value.lower()
    if lowered.strip() in PLACEHOLDERS:
        return "is a placeholder"
    for word in PLACEHOLDER_WORDS:
        if word in lowered:
            return f"contains the word {word!r}"
    if len(set(value)) < 8:
        return "uses fewer than 8 different characters"
    return None


def secret_problems(
    *,
    bot_token: str | None,
    rasa_token: str | None,
    database_url: str,
    webhook_secret: str | None = None,
    webhook: bool = False,
    console_secret: str | None = None,
) -> list[str]:
    """What makes these secrets unsafe outside local runs: one line per setting, saying
    which setting and why, and never the value itself. ``webhook``: the bot receives
    updates over a webhook, so ``webhook_secret`` is required and held to the same rules."""
    problems: list[str] = []
    if not bot_token or not bot_token.strip():
        problems.append("TELEGRAM_BOT_TOKEN must be set to the token @BotFather gave")
    elif not BOT_TOKEN_SHAPE.fullmatch(bot_token.strip()):
        problems.append(
            "TELEGRAM_BOT_TOKEN does not have the shape of a token from @BotFather "
            "(the bot's number, a colon, about 35 letters, digits, - or _)"
        )
    elif why := _weak(bot_token.split(":", 1)[1]):
        problems.append(f"TELEGRAM_BOT_TOKEN {why}")
    if not rasa_token or not rasa_token.strip():
        problems.append("RASA_TOKEN must be set to a real secret")
    elif len(rasa_token) < MIN_SHARED_SECRET:
        problems.append(
            f"RASA_TOKEN must be at least {MIN_SHARED_SECRET} characters "
            "(generate one: python -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
    elif why := _weak(rasa_token):
        problems.append(f"RASA_TOKEN {why}")
    password = database_password(database_url)
    problems.extend(database_problems(database_url))
    if webhook:
        if not webhook_secret or not webhook_secret.strip():
            problems.append("TELEGRAM_WEBHOOK_SECRET must be set to a real secret")
        elif len(webhook_secret) < MIN_SHARED_SECRET:
            problems.append(
                f"TELEGRAM_WEBHOOK_SECRET must be at least {MIN_SHARED_SECRET} characters "
                "(generate one: python -c 'import secrets; print(secrets.token_urlsafe(32))')"
            )
        elif why := _weak(webhook_secret):
            problems.append(f"TELEGRAM_WEBHOOK_SECRET {why}")
    # Signs the console's session cookies: whoever knows it can sign in as any account.
    if not console_secret or not console_secret.strip():
        problems.append(
            "CONSOLE_SECRET must be set to a real secret: it signs the web console's sessions "
            "(generate one: python -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
    elif len(console_secret) < MIN_SHARED_SECRET:
        problems.append(
            f"CONSOLE_SECRET must be at least {MIN_SHARED_SECRET} characters "
            "(generate one: python -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
    elif why := _weak(console_secret):
        problems.append(f"CONSOLE_SECRET {why}")
    named = {
        "TELEGRAM_BOT_TOKEN": bot_token.split(":", 1)[-1] if bot_token else None,
        "RASA_TOKEN": rasa_token,
        "the password in DATABASE_URL": password,
        "TELEGRAM_WEBHOOK_SECRET": webhook_secret if webhook else None,
        "CONSOLE_SECRET": console_secret,
    }
    present = [(name, value) for name, value in named.items() if value]
    for i, (first, a) in enumerate(present):
        for second, b in present[i + 1 :]:
            if a == b:
                problems.append(f"{first} and {second} must be different secrets")
    return problems


def database_problems(database_url: str) -> list[str]:
    """What makes this database URL unsafe outside local runs (never quoting it)."""
    password = database_password(database_url)
    if database_url.startswith("sqlite"):
        return ["DATABASE_URL must point to PostgreSQL outside local runs"]
    if password is None:
        return []
    if len(password) < MIN_DATABASE_PASSWORD:
        return [f"the password in DATABASE_URL must be at least {MIN_DATABASE_PASSWORD} characters"]
    if why := _weak(password):
        return [f"the password in DATABASE_URL {why}"]
    return []


def database_password(url: str) -> str | None:
    """The password of a database URL, or None when it has none."""
    try:
        password = urlsplit(url).password
    except ValueError:
        return None
    return unquote(password) if password else None


#: Settings that may instead be read from a file named by ``<NAME>_FILE`` (Docker and
#: Compose secrets, Kubernetes secret volumes): the secrets, and the database URL that may
#: hold one. ``DATABASE_PASSWORD_FILE`` fills the password into ``DATABASE_URL``.
SECRET_FILE_SETTINGS = (
    "telegram_bot_token",
    "telegram_webhook_secret",
    "rasa_token",
    "database_url",
    "console_secret",
)


def read_secret_file(setting: str, path: object) -> str:
    """The content of the file ``<SETTING>_FILE`` names, without its trailing newline.
    Errors name the setting and the path, never the content."""
    name = f"{setting.upper()}_FILE"
    try:
        text = Path(str(path)).read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"{name}: cannot read {path}: {exc.strerror or exc}") from exc
    value = text.rstrip("\r\n")
    if not value.strip():
        raise ValueError(f"{name}: {path} is empty")
    return value


def _is_set(value: object) -> bool:
    # `KEY=` in .env means "not set", as everywhere in these settings.
    return value is not None and not (isinstance(value, str) and not value.strip())


def with_password(url: str, password: str) -> str:
    """``url`` with ``password`` (percent-encoded) after its user name."""
    scheme, sep, rest = url.partition("://")
    userinfo, at, hostpart = rest.partition("@")
    if not sep or not at or not userinfo:
        raise ValueError(
            "DATABASE_PASSWORD_FILE needs a DATABASE_URL that names the user, "
            "e.g. postgresql://kunnafoni@postgres:5432/kunnafoni"
        )
    if ":" in userinfo:
        raise ValueError(
            "DATABASE_URL already holds a password: set it there or in "
            "DATABASE_PASSWORD_FILE, not both"
        )
    return f"{scheme}://{userinfo}:{quote(password, safe='')}@{hostpart}"


def load_secret_files(data: Any, settings: tuple[str, ...]) -> Any:
    """Replace each ``<setting>_file`` of the raw settings with the file's content.

    Setting both ``X`` and ``X_FILE`` is an error: which one wins would be a guess."""
    if not isinstance(data, dict):
        return data
    data = dict(data)
    for setting in settings:
        path = data.pop(f"{setting}_file", None)
        if not _is_set(path):
            continue
        if _is_set(data.get(setting)):
            name = setting.upper()
            raise ValueError(f"{name} and {name}_FILE are both set: keep only one of them")
        data[setting] = read_secret_file(setting, path)
    password_file = data.pop("database_password_file", None)
    if _is_set(password_file):
        if not _is_set(data.get("database_url")):
            raise ValueError("DATABASE_PASSWORD_FILE needs DATABASE_URL (without password)")
        password = read_secret_file("database_password", password_file)
        data["database_url"] = with_password(str(data["database_url"]), password)
    return data


class Environment(StrEnum):
    LOCAL = "local"
    TEST = "test"
    STAGING = "staging"
    PRODUCTION = "production"


class LogFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


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
    #: The public HTTPS address Telegram posts updates to (behind a TLS reverse proxy);
    #: None: long polling. The HTTP server serves the webhook at this URL's path.
    telegram_webhook_url: str | None = None
    #: Sent by Telegram in ``X-Telegram-Bot-Api-Secret-Token``; required with a webhook.
    telegram_webhook_secret: SecretStr | None = None
    #: Connections Telegram may open at once to deliver updates (1-100).
    telegram_webhook_max_connections: int = Field(default=40, ge=1, le=100)
    #: Kinds of update asked for, polling and webhook alike.
    telegram_allowed_updates: Annotated[tuple[str, ...], NoDecode] = DEFAULT_ALLOWED_UPDATES
    #: The HTTP server (webhook, /healthz, /readyz, /metrics); port 0: any free port.
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8080, ge=0, le=65535)
    #: Signs the web console's session cookies. Required (32 characters or more, not a
    #: placeholder) outside local and test runs; unset in a local run: a random key per
    #: process (every session ends when the process restarts).
    console_secret: SecretStr | None = None
    #: Addresses of reverse proxies in front of the console (comma-separated IPs or
    #: networks). Only a request from one of them is believed when its
    #: ``X-Forwarded-For`` names the browser's address (the sign-in rate limit counts per
    #: address); empty: the address of the connection itself.
    console_trusted_proxies: Annotated[tuple[str, ...], NoDecode] = ()
    #: Updates handled at once (different chats; one chat's updates always in order).
    update_concurrency: int = Field(default=32, ge=1, le=1024)
    #: Seconds given to updates in flight to finish after SIGTERM.
    shutdown_grace_seconds: float = Field(default=20.0, ge=0)
    database_url: str = Field(default_factory=default_database_url)
    rasa_url: str = "http://127.0.0.1:5005"
    rasa_token: SecretStr | None = None
    rasa_timeout: float = Field(default=2.0, gt=0)
    content_dir: Path = PROJECT_ROOT / "content"
    content_reload_seconds: float = Field(default=2.0, ge=0)
    admin_telegram_ids: Annotated[frozenset[int], NoDecode] = frozenset()
    #: A referral still not acknowledged by its partner after this is reminded and flagged.
    referral_ack_hours: float = Field(default=24.0, gt=0)
    #: An open referral with no change for this long shows a badge in the partners' inbox.
    referral_sla_hours: float = Field(default=72.0, gt=0)
    #: How often undelivered and unacknowledged referrals are looked for.
    referral_check_seconds: float = Field(default=300.0, gt=0)
    #: Referrals one person may have open at once, and send in 24 hours (each one is
    #: posted to a partner's chat).
    referral_max_open: int = Field(default=3, ge=1, le=100)
    referral_max_per_day: int = Field(default=3, ge=1, le=100)
    nlu_confidence_threshold: float = Field(default=0.5, ge=0, le=1)
    nlu_ambiguity_margin: float = Field(default=0.1, ge=0, le=1)
    nlu_emergency_floor: float = Field(default=0.15, ge=0, le=1)
    #: Training text for language identification (Rasa examples tagged with a language).
    nlu_data_dir: Path = PROJECT_ROOT / "nlu" / "data"
    #: Keep the texts the bot did not understand, of people who consented, masked, for the
    #: console's NLU review queue (docs/console.md); the consent texts say so. False stops it.
    nlu_review_capture: bool = True
    #: The agents' chat for human handovers (a forum supergroup); None: no handover offered.
    agents_chat_id: int | None = None
    #: Telegram ids of the people of the agents' chat who may talk to users in a relay.
    agents_staff_ids: Annotated[frozenset[int], NoDecode] = frozenset()
    #: Where each service's referrals go and who may act on them (bot/partners.py); read
    #: once at start-up, never from content. None: no referral is offered.
    partners_file: Path | None = None
    #: A relay with no message either way for this long is closed, both sides told; 0: never.
    handover_idle_minutes: float = Field(default=60.0, ge=0)
    #: Broadcasts: messages per second in all (Telegram: about 30; up to 1000 when paid).
    #: The default leaves 5 per second of Telegram's 30 to the replies of the bot itself.
    broadcast_rate: float = Field(default=25.0, gt=0, le=1000)
    #: Paid broadcasts (``allow_paid_broadcast``): Telegram Stars per message above 30/s.
    broadcast_paid: bool = False
    #: Sends in flight at once; also the most messages a crash can make arrive twice.
    broadcast_concurrency: int = Field(default=8, ge=1, le=256)
    #: Seconds a sender holds claimed messages before another may take them over.
    broadcast_lease_seconds: float = Field(default=60.0, gt=0)
    log_level: str = "INFO"
    #: ``text`` (one line per record) or ``json`` (one JSON object per line, redacted alike).
    log_format: LogFormat = LogFormat.TEXT
    #: Retention (docs/privacy.md): referral-form answers of a silent conversation...
    retention_form_hours: float = Field(default=24.0, gt=0)
    #: ...the link between analytics events (and quiz answers) and a person...
    retention_event_link_days: float = Field(default=365.0, gt=0)
    #: ...a finished referral's name, phone, place and words...
    retention_referral_days: float = Field(default=90.0, gt=0)
    #: ...settled broadcast messages, and the ids of Telegram updates already handled.
    retention_outbox_days: float = Field(default=7.0, gt=0)
    retention_update_ids_days: float = Field(default=2.0, gt=0)
    #: ...and the texts of the NLU review queue not yet labelled.
    retention_review_days: float = Field(default=30.0, gt=0)
    #: How often the bot purges what is past its period; 0: never (an outside scheduler
    #: then runs `kunnafoni privacy purge`).
    purge_every_seconds: float = Field(default=3600.0, ge=0)
    #: How often the worker queues what the drip campaigns owe their audience.
    drip_every_seconds: float = Field(default=300.0, gt=0)
    #: How often a worker copy without the scheduler lease tries to take it (takeover time).
    worker_election_seconds: float = Field(default=5.0, gt=0)
    #: Whether ``kunnafoni run`` also runs the worker's loops (broadcast sender, drips,
    #: referral checks, privacy purge); false when ``kunnafoni worker`` runs beside it.
    worker_in_process: bool = True
    #: Messages per second the bot may send in all, shared by every process (Telegram: 30);
    #: replies first, broadcasts take what is left, at most ``BROADCAST_RATE``.
    telegram_send_rate: float = Field(default=30.0, gt=0, le=1000)

    #: Secrets from files (``SECRET_FILE_SETTINGS``): read, then dropped, before validation.
    telegram_bot_token_file: Path | None = Field(default=None, exclude=True, repr=False)
    telegram_webhook_secret_file: Path | None = Field(default=None, exclude=True, repr=False)
    rasa_token_file: Path | None = Field(default=None, exclude=True, repr=False)
    console_secret_file: Path | None = Field(default=None, exclude=True, repr=False)
    database_url_file: Path | None = Field(default=None, exclude=True, repr=False)
    database_password_file: Path | None = Field(default=None, exclude=True, repr=False)

    @model_validator(mode="before")
    @classmethod
    def _secrets_from_files(cls, data: Any) -> Any:
        return load_secret_files(data, SECRET_FILE_SETTINGS)

    @field_validator(
        "telegram_bot_token",
        "rasa_token",
        "database_url",
        "content_dir",
        "nlu_data_dir",
        "agents_chat_id",
        "partners_file",
        "telegram_webhook_url",
        "telegram_webhook_secret",
        "console_secret",
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

    @field_validator("admin_telegram_ids", "agents_staff_ids", mode="before")
    @classmethod
    def _parse_ids(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [p.strip() for p in value.replace(";", ",").split(",")]
            return frozenset(int(p) for p in parts if p)
        if isinstance(value, int):
            return frozenset({value})
        return value

    @field_validator("telegram_allowed_updates", mode="before")
    @classmethod
    def _parse_kinds(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(p.strip() for p in value.replace(";", ",").split(",") if p.strip())
        return value

    @field_validator("console_trusted_proxies", mode="before")
    @classmethod
    def _parse_proxies(cls, value: object) -> object:
        if isinstance(value, str):
            value = tuple(p.strip() for p in value.replace(";", ",").split(",") if p.strip())
        if isinstance(value, tuple | list):
            for item in value:
                try:
                    ipaddress.ip_network(str(item), strict=False)
                except ValueError:
                    raise ValueError(
                        "CONSOLE_TRUSTED_PROXIES must list IP addresses or networks "
                        f"(e.g. 10.0.0.5, 172.18.0.0/16), not {str(item)[:40]!r}"
                    ) from None
            return tuple(str(item) for item in value)
        return value

    @field_validator("telegram_webhook_url")
    @classmethod
    def _https_webhook(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value.strip())
        if parts.scheme != "https" or not parts.hostname:
            raise ValueError(
                "TELEGRAM_WEBHOOK_URL must be the public https:// address Telegram posts to"
            )
        return value.strip()

    @model_validator(mode="after")
    def _webhook_has_a_secret(self) -> Settings:
        # Required in every environment: without it anyone could post updates to the bot.
        if self.telegram_webhook_url is None:
            return self
        secret = self.telegram_webhook_secret
        if secret is None:
            raise ValueError(
                "TELEGRAM_WEBHOOK_SECRET must be set when TELEGRAM_WEBHOOK_URL is "
                "(generate one: python -c 'import secrets; print(secrets.token_urlsafe(32))')"
            )
        if not WEBHOOK_SECRET_SHAPE.fullmatch(secret.get_secret_value()):
            raise ValueError(
                "TELEGRAM_WEBHOOK_SECRET may hold only letters, digits, _ and - "
                "(1 to 256 characters), as Telegram requires"
            )
        return self

    @model_validator(mode="after")
    def _review_kept_as_long_as_the_consent_says(self) -> Settings:
        # The consent texts promise the queued messages are kept 30 days at most.
        if self.nlu_review_capture and self.retention_review_days > REVIEW_DAYS_PROMISED:
            raise ValueError(
                f"RETENTION_REVIEW_DAYS may not exceed {REVIEW_DAYS_PROMISED:g} while "
                "NLU_REVIEW_CAPTURE is true: the consent texts say the messages are kept "
                f"{REVIEW_DAYS_PROMISED:g} days at most (change them first, docs/privacy.md)"
            )
        return self

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
    def _agents_chat_is_a_group_with_staff(self) -> Settings:
        if self.agents_chat_id is None:
            return self
        if self.agents_chat_id >= 0:
            raise ValueError(
                "AGENTS_CHAT_ID must be a group's id (negative): a person's private chat cannot"
                " be the agents' chat"
            )
        if not self.agents_staff_ids:
            raise ValueError(
                "AGENTS_STAFF_IDS must list the Telegram ids of the agents who may talk to"
                " users (AGENTS_CHAT_ID is set)"
            )
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
        problems = secret_problems(
            bot_token=self.telegram_bot_token.get_secret_value()
            if self.telegram_bot_token
            else None,
            rasa_token=self.rasa_token.get_secret_value() if self.rasa_token else None,
            database_url=self.database_url,
            webhook_secret=self.telegram_webhook_secret.get_secret_value()
            if self.telegram_webhook_secret
            else None,
            webhook=self.telegram_webhook_url is not None,
            console_secret=self.console_secret.get_secret_value() if self.console_secret else None,
        )
        if problems:
            raise ValueError(
                f"unsafe settings for {self.environment.value}: " + "; ".join(problems)
            )
        return self

    @property
    def webhook_path(self) -> str | None:
        """The path the HTTP server receives updates at (the webhook URL's path)."""
        if self.telegram_webhook_url is None:
            return None
        return urlsplit(self.telegram_webhook_url).path or "/"

    @property
    def bot_api_base_url(self) -> str:
        """The form python-telegram-bot expects: ``<root>/bot`` (the token is appended)."""
        return f"{self.telegram_api_url}/bot"

    @property
    def bot_api_file_url(self) -> str:
        return f"{self.telegram_api_url}/file/bot"


class DatabaseSettings(BaseSettings):
    """Only the database: what ``kunnafoni db upgrade`` and the other database-only
    commands need. A migration job runs with this and nothing else, so it never holds the
    bot's token or the NLU secret."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    environment: Environment = Field(default=Environment.LOCAL, alias="KUNNAFONI_ENV")
    database_url: str = Field(default_factory=default_database_url)
    database_url_file: Path | None = Field(default=None, exclude=True, repr=False)
    database_password_file: Path | None = Field(default=None, exclude=True, repr=False)

    @model_validator(mode="before")
    @classmethod
    def _secrets_from_files(cls, data: Any) -> Any:
        return load_secret_files(data, ("database_url",))

    @field_validator("database_url", mode="before")
    @classmethod
    def _empty_means_default(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return default_database_url()
        return value

    @field_validator("database_url")
    @classmethod
    def _normalise_db(cls, value: str) -> str:
        return normalise_database_url(value)

    @model_validator(mode="after")
    def _refuse_weak_password(self) -> DatabaseSettings:
        if self.environment in (Environment.LOCAL, Environment.TEST):
            return self
        problems = database_problems(self.database_url)
        if problems:
            raise ValueError(
                f"unsafe settings for {self.environment.value}: " + "; ".join(problems)
            )
        return self
