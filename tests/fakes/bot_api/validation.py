"""Validation of each request's parameters against the Bot API description.

Unknown methods and parameters, missing required ones, wrongly typed values, malformed JSON
and file parts nobody refers to are refused as Telegram refuses them (same status, same
description); JSON-serialised objects are checked by :mod:`tests.fakes.bot_api.objects`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any, Final

from tests.fakes.bot_api.errors import MISSING_DESCRIPTIONS, ApiError, bad_request
from tests.fakes.bot_api.objects import FieldError, ObjectChecker, attach
from tests.fakes.bot_api.records import UploadedFile
from tests.fakes.bot_api.spec import BotApiSpec, FieldSpec, MethodSpec

_REPLY_MARKUP_TYPES: Final = frozenset(
    {"InlineKeyboardMarkup", "ReplyKeyboardMarkup", "ReplyKeyboardRemove", "ForceReply"}
)
# How Telegram names the object it failed to parse, when that differs from the type name.
_PARSE_CONTEXTS: Final = {
    "InlineKeyboardButton": "can't parse inline keyboard button",
    "KeyboardButton": "can't parse keyboard button",
}
_JSON_NAMES: Final = {"reply_markup": "reply keyboard markup"}
INTEGER_RE: Final = re.compile(r"^[+-]?\d+$")
_BOOLEANS: Final = {"true": True, "1": True, "false": False, "0": False}


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


class RequestValidator:
    """Checks decoded request parameters against a :class:`BotApiSpec`."""

    def __init__(self, spec: BotApiSpec) -> None:
        self.spec = spec
        self.objects = ObjectChecker(spec)

    def validate(
        self, method: MethodSpec, raw: Mapping[str, str], files: Mapping[str, UploadedFile]
    ) -> dict[str, Any]:
        """Return the decoded parameters, or raise :class:`ApiError` as Telegram would."""
        # Telegram treats an empty value as an absent one.
        present = {name: value for name, value in raw.items() if value != ""}
        for name in present:
            if name not in method.fields:
                raise bad_request(
                    f'unknown parameter "{name}"',
                    f"{method.name} has no parameter {name!r} in Bot API {self.spec.version}",
                )
        attached: set[str] = set()
        for spec in method.fields.values():
            uploaded = spec.name in files and "InputFile" in spec.types
            if spec.required and spec.name not in present and not uploaded:
                raise ApiError(
                    400,
                    self._missing_description(spec),
                    f"required parameter {spec.name!r} of {method.name} is missing",
                )
            if uploaded:
                attached.add(spec.name)
        decoded: dict[str, Any] = {}
        for name, value in present.items():
            decoded[name] = self._decode_parameter(method.fields[name], value, files, attached)
        for name in files:
            if name not in attached:
                raise bad_request(
                    f'unknown parameter "{name}"',
                    f"file part {name!r} is neither a parameter of {method.name} "
                    "nor referenced by an attach:// URI",
                )
        return decoded

    @staticmethod
    def _missing_description(spec: FieldSpec) -> str:
        if spec.name in MISSING_DESCRIPTIONS:
            return MISSING_DESCRIPTIONS[spec.name]
        if "InputFile" in spec.types:
            return f"Bad Request: there is no {spec.name} in the request"
        return f'Bad Request: parameter "{spec.name}" is required'

    def _decode_parameter(
        self, spec: FieldSpec, value: str, files: Mapping[str, UploadedFile], attached: set[str]
    ) -> Any:
        name = spec.name
        scalar = [t for t in spec.types if t in ("Integer", "Float", "Boolean")]
        if "String" in spec.types or "InputFile" in spec.types:
            if value.startswith("attach://") and "InputFile" in spec.types:
                attach(value, files, attached, name)
            if "Integer" in scalar and INTEGER_RE.match(value):
                return int(value)
            return value
        for type_expr in scalar:
            parsed = self._parse_scalar(type_expr, value)
            if parsed is not None:
                return parsed
        if scalar and len(scalar) == len(spec.types):
            kind = "Boolean" if scalar == ["Boolean"] else "Number"
            raise bad_request(
                f'field "{name}" must be of type {kind}',
                f"{name}={value!r} is not a valid {' or '.join(spec.types)}",
            )
        try:
            document = json.loads(value)
        except ValueError:
            label = _JSON_NAMES.get(name, name.replace("_", " "))
            raise bad_request(
                f"can't parse {label} JSON object", f"{name} is not valid JSON: {value!r}"
            ) from None
        if name == "reply_markup" and not isinstance(document, dict):
            raise bad_request("object expected as reply markup", f"{name} is not a JSON object")
        try:
            self._check_json_parameter(document, spec, files, attached)
        except FieldError as error:
            raise bad_request(
                self._describe(name, error), f"{error.path}: {error.detail}"
            ) from None
        return document

    def _check_json_parameter(
        self,
        document: Any,
        spec: FieldSpec,
        files: Mapping[str, UploadedFile],
        attached: set[str],
    ) -> None:
        name = spec.name
        arrays = [t.removeprefix("Array of ") for t in spec.types if t.startswith("Array of ")]
        if len(spec.types) == 1 or len(arrays) != len(spec.types):
            self.objects.check_union(document, spec.types, name, name, files, attached, owner=None)
            return
        # "Array of A, B and C" (an album): every item is one of the item types.
        if not isinstance(document, list):
            raise FieldError(f'Field "{name}" must be of type Array', None, name)
        for index, item in enumerate(document):
            self.objects.check_union(
                item, tuple(arrays), name, f"{name}[{index}]", files, attached, owner=None
            )
        kinds = {item.get("type") for item in document}
        if len(kinds) > 1 and kinds & {"audio", "document"}:
            raise bad_request(
                "can't use the media of the specified type in the album",
                f"{name} mixes {sorted(map(str, kinds))}: audio and documents can only be "
                "grouped with their own kind",
            )

    @staticmethod
    def _parse_scalar(type_expr: str, value: str) -> int | float | bool | None:
        if type_expr == "Integer":
            return int(value) if INTEGER_RE.match(value) else None
        if type_expr == "Float":
            try:
                number = float(value)
            except ValueError:
                return None
            return number if math.isfinite(number) else None
        return _BOOLEANS.get(value.lower())

    @staticmethod
    def _describe(parameter: str, error: FieldError) -> str:
        owner = error.owner
        if owner in _PARSE_CONTEXTS:
            return f"{_PARSE_CONTEXTS[owner]}: {error.detail}"
        if owner is None or (parameter == "reply_markup" and owner in _REPLY_MARKUP_TYPES):
            return _lower_first(error.detail)
        return f"can't parse {owner}: {error.detail}"
