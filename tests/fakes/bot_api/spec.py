"""The vendored Bot API description: parsed once, methods and types looked up by name.

``api.json`` lives in ``tests/fakes/telegram_bot_api/`` (with its licence); every request the
fake serves is checked against it, so the fake follows the Bot API version it describes.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

SPEC_PATH: Final = Path(__file__).resolve().parent.parent / "telegram_bot_api" / "api.json"
"""The vendored Bot API description that every request is validated against."""

# A subtype of a union (a ``BotCommandScope``, an ``InputMedia``...) is told apart by one of
# these fields, whose description says which constant it must hold.
_DISCRIMINATOR_FIELDS: Final = ("type", "source", "status")
_DISCRIMINATOR_RE: Final = re.compile(r"(?:must be|always) [\"“]?([a-z0-9_]+)[\"”]?")


@dataclass(frozen=True)
class FieldSpec:
    """A method parameter or an object field, as described in ``api.json``."""

    name: str
    types: tuple[str, ...]
    required: bool
    description: str


@dataclass(frozen=True)
class MethodSpec:
    """A Bot API method: its parameters and what it returns."""

    name: str
    fields: Mapping[str, FieldSpec]
    returns: tuple[str, ...]


@dataclass(frozen=True)
class TypeSpec:
    """A Bot API type: either an object with fields or a union of ``subtypes``."""

    name: str
    fields: Mapping[str, FieldSpec]
    subtypes: tuple[str, ...]
    constants: Mapping[str, str]
    """Discriminator values (``{"type": "photo"}``) that an object of this subtype must carry."""


@dataclass(frozen=True)
class BotApiSpec:
    """The parsed ``api.json``: methods looked up case-insensitively, as Telegram does."""

    version: str
    methods: Mapping[str, MethodSpec]
    types: Mapping[str, TypeSpec]

    def method(self, name: str) -> MethodSpec | None:
        return self.methods.get(name.lower())

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> BotApiSpec:
        methods = {
            name.lower(): MethodSpec(
                name=name,
                fields=_field_specs(raw.get("fields", [])),
                returns=tuple(raw.get("returns", [])),
            )
            for name, raw in document["methods"].items()
        }
        types: dict[str, TypeSpec] = {}
        for name, raw in document["types"].items():
            fields = _field_specs(raw.get("fields", []))
            constants: dict[str, str] = {}
            if raw.get("subtype_of"):
                for field_name in _DISCRIMINATOR_FIELDS:
                    spec = fields.get(field_name)
                    match = _DISCRIMINATOR_RE.search(spec.description) if spec else None
                    if match:
                        constants[field_name] = match.group(1)
                        break
            types[name] = TypeSpec(name, fields, tuple(raw.get("subtypes", [])), constants)
        return cls(version=str(document.get("version", "")), methods=methods, types=types)


def _field_specs(raw_fields: Iterable[Mapping[str, Any]]) -> dict[str, FieldSpec]:
    return {
        raw["name"]: FieldSpec(
            name=raw["name"],
            types=tuple(raw["types"]),
            required=bool(raw.get("required", False)),
            description=str(raw.get("description", "")),
        )
        for raw in raw_fields
    }


@functools.cache
def load_spec(path: Path = SPEC_PATH) -> BotApiSpec:
    """Load (once) the Bot API description shipped with the fake."""
    with path.open(encoding="utf-8") as handle:
        return BotApiSpec.from_json(json.load(handle))
