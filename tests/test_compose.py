"""docker-compose.yml: valid against the Compose Specification, and hardened.

There is no container engine in the test run: the file is read as data, validated against
the vendored schema as written and after interpolation with test values, and its
promises are checked one by one.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from bot.config import PROJECT_ROOT

COMPOSE = PROJECT_ROOT / "docker-compose.yml"
SCHEMA = PROJECT_ROOT / "tests" / "vendor" / "compose-spec" / "compose-spec.json"
#: What .env would give (values of the shape the settings accept).
TEST_VALUES = {"TELEGRAM_WEBHOOK_URL": "https://bot.example.org/telegram/hook"}
#: The services that run until stopped (all but the one-shot migration).
LONG_RUNNING = ("postgres", "rasa", "bot", "worker")
KUNNAFONI_IMAGE = ("migrate", "bot", "worker")
#: Settings that are secrets: given to containers as files only.
SECRETS = (
    "TELEGRAM_BOT_TOKEN",
    "TELEGRAM_WEBHOOK_SECRET",
    "RASA_TOKEN",
    "POSTGRES_PASSWORD",
    "CONSOLE_SECRET",
)


def interpolate(text: str, values: dict[str, str]) -> str:
    """Compose's interpolation of ``${VAR}``, ``${VAR:-default}`` and ``${VAR:?error}``."""

    def replace(match: re.Match[str]) -> str:
        name, operator, argument = match.group(1), match.group(2), match.group(3) or ""
        value = values.get(name)
        if operator == ":?" and not value:
            raise AssertionError(f"{name} is required: {argument}")
        if operator == ":-" and not value:
            return argument
        return value or ""

    return re.sub(r"\$\{([A-Z0-9_]+)(?:(:[-?])([^}]*))?\}", replace, text)


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(interpolate(COMPOSE.read_text(encoding="utf-8"), TEST_VALUES))


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft7Validator:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def test_valid_as_written_and_interpolated(
    raw: dict[str, Any], compose: dict[str, Any], validator: jsonschema.Draft7Validator
) -> None:
    for document in (raw, compose):
        errors = sorted(validator.iter_errors(document), key=lambda e: list(e.path))
        assert not errors, [f"{'.'.join(map(str, e.path))}: {e.message}" for e in errors]


def test_the_schema_catches_a_mistake(
    compose: dict[str, Any], validator: jsonschema.Draft7Validator
) -> None:
    # The schema really constrains services: an unknown key or a list given as a string.
    broken = json.loads(json.dumps(compose))
    broken["services"]["bot"]["cap_drop"] = "ALL"
    broken["services"]["bot"]["capdrop"] = ["ALL"]
    assert len(list(validator.iter_errors(broken))) >= 2


def test_interpolation_needs_only_what_env_example_documents(raw: dict[str, Any]) -> None:
    text = COMPOSE.read_text(encoding="utf-8")
    required = set(re.findall(r"\$\{([A-Z0-9_]+):\?", text))
    assert required == set(TEST_VALUES)
    with pytest.raises(AssertionError, match="TELEGRAM_WEBHOOK_URL is required"):
        interpolate(text, {})


@pytest.mark.parametrize("name", LONG_RUNNING)
def test_long_running_services_are_hardened(compose: dict[str, Any], name: str) -> None:
    service = compose["services"][name]
    user = str(service.get("user", ""))
    assert user and user.split(":")[0] not in ("", "0", "root"), f"{name} runs as root"
    assert service.get("read_only") is True
    assert service.get("cap_drop") == ["ALL"]
    assert "cap_add" not in service and "privileged" not in service
    assert "no-new-privileges:true" in service.get("security_opt", [])
    limits = service["deploy"]["resources"]["limits"]
    assert float(limits["cpus"]) > 0 and limits["memory"]
    assert service["restart"] in ("unless-stopped", "always", "on-failure")
    healthcheck = service["healthcheck"]
    assert not healthcheck.get("disable") and healthcheck["test"][0] in ("CMD", "CMD-SHELL")
    # A read-only root filesystem leaves /tmp to a tmpfs.
    assert any(str(mount).startswith("/tmp") for mount in service.get("tmpfs", []))
    # Nothing is published on the host: the proxy reaches the bot over a compose network.
    assert "ports" not in service
    assert service.get("network_mode") is None


def test_the_migration_runs_once_first_without_the_bot_token(compose: dict[str, Any]) -> None:
    services = compose["services"]
    migrate = services["migrate"]
    assert migrate["command"] == ["kunnafoni", "db", "upgrade"]
    assert migrate["restart"] == "no"
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("bot", "worker"):
        assert (
            services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        )
    env = migrate["environment"]
    assert not any(key.startswith(("TELEGRAM_", "RASA_")) for key in env), (
        "migrate gets only the database settings"
    )
    assert set(migrate["secrets"]) == {"postgres_password"}
    assert migrate["read_only"] is True and migrate["cap_drop"] == ["ALL"]
    assert str(migrate["user"]).split(":")[0] not in ("0", "root")


def test_rasa_is_on_the_internal_network_only(compose: dict[str, Any]) -> None:
    networks = compose["networks"]
    rasa = compose["services"]["rasa"]
    assert rasa["networks"], "rasa names its networks (never the default one)"
    for network in rasa["networks"]:
        assert networks[network].get("internal") is True, network
    assert "ports" not in rasa and rasa["expose"] == ["5005"]
    # PostgreSQL and the migration likewise: nothing but the bot and worker leave the host.
    for name in ("postgres", "migrate"):
        assert all(networks[n].get("internal") for n in compose["services"][name]["networks"])


def test_rasa_takes_its_secret_from_a_file_and_serves_behind_tokens() -> None:
    dockerfile = (PROJECT_ROOT / "nlu" / "Dockerfile").read_text(encoding="utf-8")
    assert 'ENTRYPOINT ["python", "/app/serve.py"]' in dockerfile
    assert re.search(r"^USER 1001\b", dockerfile, flags=re.M)
    serve = (PROJECT_ROOT / "nlu" / "serve.py").read_text(encoding="utf-8")
    assert '"--jwt-secret"' in serve and '"--auth-token"' not in serve


def test_the_bot_serves_a_webhook_in_two_replicas(compose: dict[str, Any]) -> None:
    bot = compose["services"]["bot"]
    assert bot["deploy"]["replicas"] == 2
    assert bot["command"] == ["kunnafoni", "run"]
    env = bot["environment"]
    assert env["TELEGRAM_WEBHOOK_URL"].startswith("https://")
    assert env["TELEGRAM_WEBHOOK_SECRET_FILE"] == "/run/secrets/telegram_webhook_secret"
    assert env["HTTP_HOST"] == "0.0.0.0"
    assert env["WORKER_IN_PROCESS"] == "false"
    assert [str(port) for port in bot["expose"]] == [str(env["HTTP_PORT"])]
    check = " ".join(bot["healthcheck"]["test"])
    assert "urllib" in check and f"127.0.0.1:{env['HTTP_PORT']}/healthz" in check


def test_the_worker_runs_the_background_loops(compose: dict[str, Any]) -> None:
    worker = compose["services"]["worker"]
    assert worker["command"] == ["kunnafoni", "worker"]
    assert "TELEGRAM_WEBHOOK_URL" not in worker["environment"]


def test_content_is_writable_by_the_bot_only(compose: dict[str, Any]) -> None:
    # The bot's /attach writes voice notes and message files into content
    # (bot/content/voice.py); the worker only reads it.
    bot_volumes = compose["services"]["bot"]["volumes"]
    worker_volumes = compose["services"]["worker"]["volumes"]
    assert "./content:/app/content" in bot_volumes
    assert "./content:/app/content:ro" in worker_volumes


@pytest.mark.parametrize("name", KUNNAFONI_IMAGE)
def test_secrets_are_files_never_variables(compose: dict[str, Any], name: str) -> None:
    service = compose["services"][name]
    env = service["environment"]
    for secret in SECRETS:
        assert secret not in env, f"{name} gets {secret} as a variable"
    for key, value in env.items():
        if key.endswith("_FILE") and str(value).startswith("/run/secrets/"):
            assert str(value).removeprefix("/run/secrets/") in service["secrets"], key
    assert (
        "@" in env["DATABASE_URL"] and ":" not in env["DATABASE_URL"].split("//")[1].split("@")[0]
    ), "the database password comes from DATABASE_PASSWORD_FILE"
    declared = compose["secrets"]
    for secret in service["secrets"]:
        assert declared[secret]["file"].startswith("./secrets/")


def test_postgres_reads_its_password_from_the_shared_secret(compose: dict[str, Any]) -> None:
    postgres = compose["services"]["postgres"]
    assert postgres["environment"]["POSTGRES_PASSWORD_FILE"] == "/run/secrets/postgres_password"
    assert "POSTGRES_PASSWORD" not in postgres["environment"]
    assert "pgdata:/var/lib/postgresql/data" in postgres["volumes"]


def test_secret_files_stay_out_of_git_and_the_image() -> None:
    assert "/secrets/" in (PROJECT_ROOT / ".gitignore").read_text(encoding="utf-8").split("\n")
    assert "secrets" in (PROJECT_ROOT / ".dockerignore").read_text(encoding="utf-8").split("\n")


def test_the_image_runs_as_the_user_compose_names(compose: dict[str, Any]) -> None:
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"^USER 10001:10001$", dockerfile, flags=re.M)
    assert "--uid 10001" in dockerfile and "HEALTHCHECK" in dockerfile
    for name in KUNNAFONI_IMAGE:
        assert compose["services"][name]["user"] == "10001:10001"


def test_nlu_launcher_reads_the_secret_from_a_file(tmp_path: Path) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("nlu_serve", PROJECT_ROOT / "nlu" / "serve.py")
    assert spec is not None and spec.loader is not None
    serve = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(serve)
    secret = tmp_path / "rasa_token"
    secret.write_text("Hx3k9QvT_wz2Lm8Rb5Nc7Yp1Fd4Gs6Ja0Ue\n", encoding="utf-8")
    value = serve.shared_secret({"RASA_TOKEN_FILE": str(secret)})
    assert value == "Hx3k9QvT_wz2Lm8Rb5Nc7Yp1Fd4Gs6Ja0Ue"
    assert serve.shared_secret({"RASA_TOKEN": value}) == value
    with pytest.raises(SystemExit, match="both set"):
        serve.shared_secret({"RASA_TOKEN": value, "RASA_TOKEN_FILE": str(secret)})
    with pytest.raises(SystemExit, match="must give"):
        serve.shared_secret({})
    arguments = serve.rasa_arguments(value)
    assert arguments[:3] == ["rasa", "run", "--enable-api"]
    assert arguments[arguments.index("--jwt-method") + 1] == "HS256"
