"""Recursive checks of JSON-serialised objects against the ``types`` of the Bot API.

A ``reply_markup``, a ``scope``, an album's ``media``...: every field must be known, every
required one present, every value of its declared type, a union's subtype told apart by its
discriminator; the limits Telegram adds on some objects (buttons, commands) apply too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tests.fakes.bot_api.errors import ApiError, bad_request
from tests.fakes.bot_api.limits import OBJECT_CHECKS
from tests.fakes.bot_api.records import UploadedFile
from tests.fakes.bot_api.spec import BotApiSpec, TypeSpec


class FieldError(Exception):
    """A structural error found inside a JSON-serialised object."""

    def __init__(self, detail: str, owner: str | None, path: str) -> None:
        super().__init__(detail)
        self.detail = detail
        self.owner = owner
        self.path = path


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "Boolean"
    if isinstance(value, int | float):
        return "Number"
    if isinstance(value, str):
        return "String"
    if isinstance(value, list):
        return "Array"
    if value is None:
        return "null"
    return "Object"


def _expected_kind(type_expr: str) -> str:
    if type_expr.startswith("Array of "):
        return "Array"
    return {"Integer": "Number", "Float": "Number", "Boolean": "Boolean", "String": "String"}.get(
        type_expr, "Object"
    )


def attach(uri: str, files: Mapping[str, UploadedFile], attached: set[str], path: str) -> None:
    """Mark the file part an ``attach://`` URI names as used; refuse a missing one."""
    part = uri.removeprefix("attach://")
    if part not in files:
        raise bad_request(
            f"file {part} not found in the request", f"{path} refers to a missing file part"
        )
    attached.add(part)


class ObjectChecker:
    """Checks a decoded JSON value against a type expression of a :class:`BotApiSpec`."""

    def __init__(self, spec: BotApiSpec) -> None:
        self.spec = spec

    def check_union(
        self,
        value: Any,
        type_exprs: tuple[str, ...],
        field_name: str,
        path: str,
        files: Mapping[str, UploadedFile],
        attached: set[str],
        owner: str | None,
    ) -> None:
        errors: list[tuple[int, FieldError | ApiError]] = []
        for type_expr in type_exprs:
            try:
                self._check_value(value, type_expr, field_name, path, files, attached, owner)
                return
            except (FieldError, ApiError) as error:
                errors.append((self._affinity(value, type_expr), error))
        best = max(errors, key=lambda item: item[0])[1]
        raise best

    def _affinity(self, value: Any, type_expr: str) -> int:
        """How well ``value`` resembles ``type_expr``, to report the most relevant error."""
        while type_expr.startswith("Array of ") and isinstance(value, list) and value:
            type_expr, value = type_expr.removeprefix("Array of "), value[0]
        if _expected_kind(type_expr) != _json_kind(value):
            return -1
        type_spec = self.spec.types.get(type_expr)
        if type_spec is None or not isinstance(value, dict):
            return 0
        if any(value.get(key) != expected for key, expected in type_spec.constants.items()):
            return 0
        return 1 + sum(1 for key in value if key in type_spec.fields)

    def _check_value(
        self,
        value: Any,
        type_expr: str,
        field_name: str,
        path: str,
        files: Mapping[str, UploadedFile],
        attached: set[str],
        owner: str | None,
    ) -> None:
        if type_expr.startswith("Array of "):
            if not isinstance(value, list):
                raise FieldError(f'Field "{field_name}" must be of type Array', owner, path)
            item_type = type_expr.removeprefix("Array of ")
            for index, item in enumerate(value):
                self._check_value(
                    item, item_type, field_name, f"{path}[{index}]", files, attached, owner
                )
            return
        if type_expr in ("Integer", "Float", "Boolean", "String", "InputFile"):
            if not self._scalar_matches(value, type_expr):
                kind = _expected_kind("String" if type_expr == "InputFile" else type_expr)
                raise FieldError(f'Field "{field_name}" must be of type {kind}', owner, path)
            # Nested media fields are typed String but may point at an uploaded part.
            if isinstance(value, str) and value.startswith("attach://"):
                if type_expr == "InputFile" or value.removeprefix("attach://") in files:
                    attach(value, files, attached, path)
            return
        type_spec = self.spec.types.get(type_expr)
        if type_spec is None:
            raise FieldError(f'Field "{field_name}" has an unknown type', owner, path)
        if type_spec.subtypes:
            self._check_subtypes(value, type_spec, field_name, path, files, attached, owner)
            return
        if not isinstance(value, dict):
            raise FieldError(f'Field "{field_name}" must be of type Object', owner, path)
        self._check_object(value, type_spec, path, files, attached)

    @staticmethod
    def _scalar_matches(value: Any, type_expr: str) -> bool:
        if type_expr == "Boolean":
            return isinstance(value, bool)
        if type_expr == "Integer":
            return isinstance(value, int) and not isinstance(value, bool)
        if type_expr == "Float":
            return isinstance(value, int | float) and not isinstance(value, bool)
        return isinstance(value, str)

    def _check_subtypes(
        self,
        value: Any,
        type_spec: TypeSpec,
        field_name: str,
        path: str,
        files: Mapping[str, UploadedFile],
        attached: set[str],
        owner: str | None,
    ) -> None:
        candidates = list(type_spec.subtypes)
        if isinstance(value, dict):
            matching = [
                name
                for name in candidates
                if name not in self.spec.types
                or all(
                    value.get(key) == expected
                    for key, expected in self.spec.types[name].constants.items()
                )
            ]
            if not matching:
                keys = sorted(
                    {
                        key
                        for name in candidates
                        if name in self.spec.types
                        for key in self.spec.types[name].constants
                    }
                )
                found = ", ".join(f'{key} "{value.get(key)}"' for key in keys)
                raise FieldError(f"Unsupported {found}", owner or type_spec.name, path)
            candidates = matching
        self.check_union(value, tuple(candidates), field_name, path, files, attached, owner)

    def _check_object(
        self,
        value: dict[str, Any],
        type_spec: TypeSpec,
        path: str,
        files: Mapping[str, UploadedFile],
        attached: set[str],
    ) -> None:
        owner = type_spec.name
        for key in value:
            if key not in type_spec.fields:
                raise FieldError(f'Unknown field "{key}"', owner, f"{path}.{key}")
        for spec in type_spec.fields.values():
            if spec.name not in value:
                if spec.required:
                    raise FieldError(
                        f'Can\'t find field "{spec.name}"', owner, f"{path}.{spec.name}"
                    )
                continue
            self.check_union(
                value[spec.name],
                spec.types,
                spec.name,
                f"{path}.{spec.name}",
                files,
                attached,
                owner,
            )
        for key, expected in type_spec.constants.items():
            if value.get(key) != expected:
                raise FieldError(f'Field "{key}" must be "{expected}"', owner, f"{path}.{key}")
        checker = OBJECT_CHECKS.get(owner)
        if checker is not None:
            checker(value, path)
