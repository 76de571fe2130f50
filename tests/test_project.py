"""The project's promises about itself: set-up commands, CI, compose file, documented settings."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import yaml

from bot.config import PROJECT_ROOT, Settings

README = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")

CONVERSATIONAL_INTENTS = {
    "greet",
    "goodbye",
    "thank",
    "affirm",
    "deny",
    "show_menu",
    "ask_human",
    "change_language",
    "unsubscribe",
    "out_of_scope",
}
DOMAIN_INTENTS = {
    "risks_desert",
    "risks_libya",
    "risks_sea",
    "smugglers",
    "life_abroad",
    "legal_migration",
    "local_opportunities",
    "return_help",
    "reintegration",
    "psychosocial",
    "missing_person",
    "documents",
    "diaspora_money",
    "emergency",
}


def test_readme_gives_the_two_setup_commands_and_ci_runs_the_test_one() -> None:
    blocks = re.findall(r"```(?:sh|bash|shell)?\n(.*?)```", README, flags=re.S)
    commands = [
        line
        for block in blocks[:1]
        for line in block.splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert commands == ["./dev run", "./dev test"]
    ci = (PROJECT_ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert re.search(r"^\s*(exec\s+)?\./dev test\b", ci, flags=re.M)


def test_every_setting_is_documented_in_env_example() -> None:
    example = (PROJECT_ROOT / ".env.example").read_text(encoding="utf-8")
    documented = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", example, flags=re.M))
    for name, field in Settings.model_fields.items():
        env_name = (field.alias or name).upper()
        assert env_name in documented, f"{env_name} is not in .env.example"


def test_compose_file_follows_the_compose_spec() -> None:
    schema_path = PROJECT_ROOT / "tests" / "vendor" / "compose-spec" / "compose-spec.json"
    schema = json.loads(schema_path.read_text(encoding="utf-8"))
    compose = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    jsonschema.Draft7Validator(schema).validate(compose)
    assert {"postgres", "rasa", "bot", "migrate"} <= set(compose["services"])
    # Rasa is reachable by the bot only: no port published on the host.
    assert "ports" not in compose["services"]["rasa"]
    for name in ("build", "environment"):
        assert name in compose["services"]["bot"]


def test_compose_variables_are_documented() -> None:
    compose = (PROJECT_ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    example = (PROJECT_ROOT / ".env.example").read_text(encoding="utf-8")
    for name in set(re.findall(r"\$\{([A-Z_]+)", compose)):
        assert re.search(rf"^#?\s*{name}=", example, flags=re.M), name


def test_nlu_domain_and_content_intents_match() -> None:
    domain = yaml.safe_load((PROJECT_ROOT / "nlu" / "domain.yml").read_text(encoding="utf-8"))
    content = yaml.safe_load((PROJECT_ROOT / "content" / "intents.yml").read_text(encoding="utf-8"))
    assert set(domain["intents"]) == set(content["intents"])
    fixed = CONVERSATIONAL_INTENTS | DOMAIN_INTENTS
    assert fixed <= set(domain["intents"])


def test_nlu_training_data_has_enough_examples_per_intent_and_language() -> None:
    data = yaml.safe_load((PROJECT_ROOT / "nlu" / "data" / "nlu.yml").read_text(encoding="utf-8"))
    counts: dict[str, int] = {}
    groups: dict[str, set[str]] = {}
    for block in data["nlu"]:
        if "intent" in block:
            examples = [e for e in block["examples"].splitlines() if e.strip().startswith("- ")]
            counts[block["intent"]] = counts.get(block["intent"], 0) + len(examples)
            lang = (block.get("metadata") or {}).get("lang")
            assert lang in ("fr", "bm", "mixed"), f"{block['intent']}: block without a lang tag"
            groups.setdefault(block["intent"], set()).add(lang)
    for intent, count in counts.items():
        assert count >= (40 if intent in DOMAIN_INTENTS else 20), (intent, count)
        assert groups[intent] == {"fr", "bm", "mixed"}, (intent, groups[intent])


def test_held_out_sets_never_leak_into_training() -> None:
    def examples(path: Path) -> set[str]:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        found = set()
        for block in data["nlu"]:
            for line in str(block.get("examples", "")).splitlines():
                if line.strip().startswith("- "):
                    found.add(re.sub(r"\W+", " ", clean(line.strip()[2:]).lower()).strip())
        return found

    def clean(text: str) -> str:
        return re.sub(r"\[([^\]]+)\](\([^)]*\)|\{[^}]*\})", r"\1", text)

    # Every training file: the written examples and those reviewed in the console.
    training = set().union(
        *(examples(path) for path in sorted((PROJECT_ROOT / "nlu" / "data").glob("*.yml")))
    )
    for path in sorted((PROJECT_ROOT / "nlu" / "tests").glob("test_*.yml")):
        # Short formulas ("merci beaucoup", "ayi n t'a fɛ") may coincide; sentences must not.
        shared = {t for t in examples(path) & training if len(t.split()) >= 5}
        assert shared == set(), (path.name, sorted(shared)[:5])


def test_vendored_specs_carry_their_licences() -> None:
    assert (PROJECT_ROOT / "tests" / "vendor" / "compose-spec" / "LICENSE").exists()
    assert (PROJECT_ROOT / "tests" / "vendor" / "compose-spec" / "SOURCE.md").exists()
    assert (PROJECT_ROOT / "tests" / "fakes" / "telegram_bot_api" / "LICENSE").exists()


def test_compose_passes_every_setting_the_bot_needs_in_production() -> None:
    compose = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    env = compose["services"]["bot"]["environment"]
    for name in (
        "TELEGRAM_BOT_TOKEN",
        "DATABASE_URL",
        "RASA_TOKEN",
        "ADMIN_TELEGRAM_IDS",
        "AGENTS_CHAT_ID",
        "AGENTS_STAFF_IDS",
        "PARTNERS_FILE",
    ):
        # A secret may come from a file instead (X_FILE, bot/config.py).
        assert name in env or f"{name}_FILE" in env, name


def test_every_module_is_in_the_architecture_module_map() -> None:
    architecture = (PROJECT_ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    section = architecture.split("## Module map", 1)[1].split("\n## ", 1)[0]
    modules = sorted(
        path.relative_to(PROJECT_ROOT).as_posix()
        for path in (PROJECT_ROOT / "bot").rglob("*.py")
        if "migrations" not in path.parts
    )
    missing = [module for module in modules if f"`{module}`" not in section]
    assert not missing, f"modules without a line in docs/architecture.md's module map: {missing}"
