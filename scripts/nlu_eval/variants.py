"""Pipeline variants: a Rasa config with ``--set`` overrides applied and ``--drop`` components."""

from __future__ import annotations

import copy
import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML


def apply_overrides(config: Mapping[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """A copy of a Rasa config with ``COMPONENT[#N].KEY=VALUE`` overrides applied."""
    out = copy.deepcopy(dict(config))
    pipeline = out.get("pipeline")
    if not isinstance(pipeline, list):
        raise ValueError("the config has no pipeline")
    for override in overrides:
        target, sep, raw = override.partition("=")
        component, dot, key = target.rpartition(".")
        if not sep or not dot or not component or not key:
            raise ValueError(f"override {override!r}: expected COMPONENT[#N].KEY=VALUE")
        name, _hash, nth = component.partition("#")
        try:
            occurrence = int(nth) if nth else 1
        except ValueError as exc:
            raise ValueError(f"override {override!r}: bad component number {nth!r}") from exc
        matches = [c for c in pipeline if isinstance(c, dict) and c.get("name") == name]
        if not 1 <= occurrence <= len(matches):
            raise ValueError(
                f"override {override!r}: the pipeline has {len(matches)} {name} component(s)"
            )
        value = YAML(typ="safe").load(raw) if raw.strip() else None
        matches[occurrence - 1][key] = value
    return out


def drop_components(config: Mapping[str, Any], names: Sequence[str]) -> dict[str, Any]:
    """A copy of a Rasa config without the components of these names (all occurrences)."""
    out = copy.deepcopy(dict(config))
    pipeline = out.get("pipeline")
    if not isinstance(pipeline, list):
        raise ValueError("the config has no pipeline")
    present = {c.get("name") for c in pipeline if isinstance(c, dict)}
    for name in names:
        if name not in present:
            raise ValueError(f"--drop {name}: the pipeline has no such component")
    out["pipeline"] = [
        c for c in pipeline if not (isinstance(c, dict) and c.get("name") in set(names))
    ]
    return out


def load_config(path: Path, overrides: Sequence[str], drop: Sequence[str] = ()) -> dict[str, Any]:
    doc = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
    if not isinstance(doc, dict):
        raise ValueError(f"{path}: not a Rasa config")
    return apply_overrides(drop_components(doc, drop), overrides)


def dump_yaml(data: Any) -> str:
    yaml = YAML()
    yaml.allow_unicode = True
    buffer = io.StringIO()
    yaml.dump(data, buffer)
    return buffer.getvalue()
