"""Change message files in place, keeping comments, key order, quoting and other entries.

Used by the workflow commands (import, stamp) and by voice notes attached from
Telegram. Every write goes to a temporary file then replaces the original in one
step, so a crash never leaves a half-written content file.
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.scalarstring import DoubleQuotedScalarString

#: Sentinel: leave this field as it is.
KEEP: Any = object()


def round_trip_yaml() -> YAML:
    """The YAML settings under which the project's content files load and dump unchanged."""
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 100_000  # never re-wrap a long text
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def load_document(path: Path) -> Any:
    return round_trip_yaml().load(path.read_text(encoding="utf-8"))


def dump_document(doc: Any) -> str:
    stream = io.StringIO()
    round_trip_yaml().dump(doc, stream)
    return stream.getvalue()


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def new_messages_document(language: str) -> CommentedMap:
    doc = CommentedMap()
    doc["language"] = language
    doc["status"] = "draft"
    doc["messages"] = CommentedMap()
    return doc


class MessageFile:
    """One ``messages/<lang>.yml`` opened for editing; :meth:`save` writes it back."""

    def __init__(self, content_dir: Path, language: str) -> None:
        self.path = content_dir / "messages" / f"{language}.yml"
        self.language = language
        if self.path.exists():
            self.doc = load_document(self.path)
        else:
            self.doc = new_messages_document(language)
        if not isinstance(self.doc, CommentedMap) or not isinstance(
            self.doc.get("messages"), CommentedMap
        ):
            raise ValueError(f"{self.path}: not a messages file (no 'messages:' mapping)")
        self.messages: CommentedMap = self.doc["messages"]

    def text(self, key: str) -> str | None:
        value = self.messages.get(key)
        if isinstance(value, Mapping):
            text = value.get("text")
            return str(text) if text is not None else None
        return str(value) if value is not None else None

    def entry(self, key: str) -> Mapping[str, Any] | None:
        value = self.messages.get(key)
        if value is None:
            return None
        if isinstance(value, Mapping):
            return value
        return {"text": value}

    def update(
        self,
        key: str,
        *,
        order: list[str] | None = None,
        text: str | None = KEEP,
        source_hash: str | None = KEEP,
        status: str | None = KEEP,
        voice: Mapping[str, str] | None = KEEP,
        source: str | None = KEEP,
        verified_on: date | None = KEEP,
    ) -> bool:
        """Set fields of ``key`` (``None`` removes one); return whether anything changed.

        A new key is placed after the nearest preceding key of ``order`` (the source
        language's key order) that this file has, so files stay aligned key for key.
        """
        fields = {
            "text": text,
            "source": source,
            "verified_on": verified_on,
            "status": status,
            "source_hash": source_hash,
            "voice": voice,
        }
        changes = {name: value for name, value in fields.items() if value is not KEEP}
        current = self.messages.get(key)
        if current is None:
            if changes.get("text") is None:
                raise ValueError(f"new message '{key}' needs a text")
            fresh = CommentedMap()
            for name, value in changes.items():
                if value is not None:
                    fresh[name] = _scalar(name, value)
            value_out: Any = _compact(fresh)
            self._insert(key, value_out, order or [])
            return True

        block: Any = current
        if not isinstance(current, Mapping):
            block = CommentedMap()
            block["text"] = current
        changed = False
        for name, value in changes.items():
            if value is None:
                if name == "text":
                    raise ValueError(f"message '{key}' cannot lose its text")
                if name in block:
                    del block[name]
                    changed = True
            elif _plain(block.get(name)) != _plain(value):
                block[name] = _scalar(name, value)
                changed = True
        if not changed:
            return False
        compact = _compact(block)
        if compact is not current:
            self.messages[key] = compact
        return True

    def remove(self, key: str) -> bool:
        if key in self.messages:
            del self.messages[key]
            return True
        return False

    def _insert(self, key: str, value: Any, order: list[str]) -> None:
        position = len(self.messages)
        if key in order:
            keys = list(self.messages)
            for previous in reversed(order[: order.index(key)]):
                if previous in self.messages:
                    position = keys.index(previous) + 1
                    break
            else:
                position = 0
        self.messages.insert(position, key, value)

    def dump(self) -> str:
        return dump_document(self.doc)

    def save(self) -> None:
        write_atomic(self.path, self.dump())


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, str):
        return str(value)
    return value


def _scalar(name: str, value: Any) -> Any:
    if name == "text" and isinstance(value, str):
        return DoubleQuotedScalarString(value)
    if isinstance(value, Mapping):
        block = CommentedMap()
        for k, v in value.items():
            block[k] = v
        return block
    return value


def _compact(block: Any) -> Any:
    """A block holding only ``text`` is written as the plain ``key: "text"`` shorthand."""
    if isinstance(block, Mapping) and list(block) == ["text"]:
        return block["text"]
    return block
