"""Change message files in place, keeping comments, key order, quoting and other entries.

Used by the workflow commands (import, stamp) and by voice notes attached from
Telegram. Every write goes to a temporary file then replaces the original in one
step, so a crash never leaves a half-written content file.
"""

from __future__ import annotations

import io
import os
import stat
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
    # mkstemp creates the file readable by its owner only: keep the original's mode.
    mode = stat.S_IMODE(path.stat().st_mode) if path.exists() else 0o644
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
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
        starts_section: bool = False,
    ) -> bool:
        """Set fields of ``key`` (``None`` removes one); return whether anything changed.

        A new key is placed after the nearest preceding key of ``order`` (the source
        language's key order) that this file has, so files stay aligned key for key.
        It joins that key's section, or with ``starts_section`` (the source file has a
        heading above it: see :meth:`starts_section`) goes below the heading that follows.
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
        if key not in self.messages:
            if changes.get("text") is None:
                raise ValueError(f"new message '{key}' needs a text")
            fresh = CommentedMap()
            for name, value in changes.items():
                if value is not None:
                    fresh[name] = _scalar(name, value)
            value_out: Any = _compact(fresh)
            self._insert(key, value_out, order or [], starts_section=starts_section)
            return True

        # The comment after an entry (blank line, next section's heading) hangs on its last
        # line: take it off while the entry changes shape, then hang it on the new last line.
        trailing = _take_trailing(self.messages, key)
        try:
            return self._change(key, changes)
        finally:
            _put_trailing(self.messages, key, trailing)

    def _change(self, key: str, changes: dict[str, Any]) -> bool:
        current = self.messages[key]
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
        if key not in self.messages:
            return False
        keys = list(self.messages)
        trailing = _take_trailing(self.messages, key)
        del self.messages[key]
        position = keys.index(key)
        if position > 0:  # keep the heading that followed the removed entry
            previous = keys[position - 1]
            kept = _merge(_take_trailing(self.messages, previous), trailing)
            _put_trailing(self.messages, previous, kept)
        return True

    def starts_section(self, key: str) -> bool:
        """Whether a comment line (a section heading) stands right above ``key``."""
        keys = list(self.messages)
        if key not in self.messages or keys.index(key) == 0:
            return False
        previous = keys[keys.index(key) - 1]
        holder, inner = _trailing_holder(self.messages, previous)
        slot = holder.ca.items.get(inner)
        token = slot[2] if slot and len(slot) > 2 else None
        return token is not None and "#" in str(getattr(token, "value", ""))

    def _insert(self, key: str, value: Any, order: list[str], *, starts_section: bool) -> None:
        position = len(self.messages)
        if key in order:
            keys = list(self.messages)
            for previous in reversed(order[: order.index(key)]):
                if previous in self.messages:
                    position = keys.index(previous) + 1
                    break
            else:
                position = 0
        # A new key joins the section of the key before it: that key's trailing comment
        # (blank line, next heading) moves below the new one.
        before = list(self.messages)[position - 1] if position > 0 else None
        trailing = None
        if before is not None and not starts_section:
            trailing = _take_trailing(self.messages, before)
        self.messages.insert(position, key, value)
        _put_trailing(self.messages, key, trailing)

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
    # Quoted, as the files write them; a hash of digits only would otherwise read as a number.
    if name in ("text", "source", "source_hash") and isinstance(value, str):
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


def _trailing_holder(parent: CommentedMap, key: Any) -> tuple[CommentedMap, Any]:
    """The mapping and key whose end-of-entry comment is printed right after ``parent[key]``."""
    value = parent[key]
    if isinstance(value, CommentedMap) and len(value) > 0:
        return _trailing_holder(value, list(value)[-1])
    return parent, key


def _take_trailing(parent: CommentedMap, key: Any) -> Any:
    holder, inner = _trailing_holder(parent, key)
    slot = holder.ca.items.get(inner)
    if not slot or len(slot) < 3 or slot[2] is None:
        return None
    token = slot[2]
    slot[2] = None
    if not any(slot):
        del holder.ca.items[inner]
    return token


def _put_trailing(parent: CommentedMap, key: Any, token: Any) -> None:
    if token is None or key not in parent:
        return
    holder, inner = _trailing_holder(parent, key)
    slot = holder.ca.items.setdefault(inner, [None, None, None, None])
    slot[2] = token


def _merge(first: Any, second: Any) -> Any:
    """Keep the later of two trailing comments (the heading of what follows)."""
    return second if second is not None else first


def write_atomic_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file, so no reader sees half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
