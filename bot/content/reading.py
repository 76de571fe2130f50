"""Reading content files: YAML parsed with line numbers, problems as ``file:line: reason``.

The reader collects problems instead of raising at the first one, so a campaign
manager sees the whole list in one run of ``kunnafoni content check``.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from bot.errors import KunnafoniError

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True, order=True)
class Problem:
    file: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"


class ContentError(KunnafoniError):
    """The content tree is invalid; ``problems`` says where and why."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = sorted(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


def _line_of(node: Any, path: Iterable[Any]) -> int:
    """1-based line of the deepest node of ``path`` that exists in a ruamel document."""
    line = 1
    for part in path:
        lc = getattr(node, "lc", None)
        if lc is None:
            break
        try:
            if isinstance(node, dict) and part in node:
                line = lc.key(part)[0] + 1
                node = node[part]
            elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
                line = lc.item(part)[0] + 1
                node = node[part]
            else:
                # Pydantic adds names of union branches and such to the path: skip them.
                continue
        except (KeyError, IndexError, TypeError):
            break
    return line


@dataclass
class Source:
    """One parsed YAML file, kept to point problems at lines."""

    path: Path
    label: str
    doc: Any

    def line(self, *path: Any) -> int:
        return _line_of(self.doc, path)


#: Parsed documents by the hash of their bytes. Parsing dominates the cost of a load, and
#: a reload usually changes one file: the others come from here. Documents are only read.
_PARSED: OrderedDict[bytes, Any] = OrderedDict()
_PARSED_MAX = 256
_PARSED_LOCK = threading.Lock()


def _parse_cached(yaml: YAML, raw: bytes) -> Any:
    key = hashlib.sha256(raw).digest()
    with _PARSED_LOCK:
        if key in _PARSED:
            _PARSED.move_to_end(key)
            return _PARSED[key]
    doc = yaml.load(raw.decode("utf-8"))
    with _PARSED_LOCK:
        _PARSED[key] = doc
        while len(_PARSED) > _PARSED_MAX:
            _PARSED.popitem(last=False)
    return doc


def clear_parse_cache() -> None:
    """Forget every parsed document, so the next load parses each file (for benchmarks)."""
    with _PARSED_LOCK:
        _PARSED.clear()


class Reader:
    """Reads the files of one content tree, collecting problems and a digest of the bytes."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.problems: list[Problem] = []
        self.digest = hashlib.sha256()
        self._yaml = YAML(typ="rt")

    def problem(self, source: Source | Path, line: int, reason: str) -> None:
        label = source.label if isinstance(source, Source) else self._label(source)
        self.problems.append(Problem(label, line, reason))

    def _label(self, path: Path) -> str:
        return str(path)

    def read(self, path: Path) -> Source | None:
        label = self._label(path)
        try:
            raw = path.read_bytes()
        except OSError as exc:
            self.problems.append(Problem(label, 1, f"cannot read file: {exc.strerror}"))
            return None
        self.digest.update(str(path.relative_to(self.root)).encode() + b"\0" + raw + b"\0")
        try:
            doc = _parse_cached(self._yaml, raw)
        except UnicodeDecodeError:
            self.problems.append(Problem(label, 1, "file is not UTF-8 text"))
            return None
        except MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = mark.line + 1 if mark is not None else 1
            self.problems.append(Problem(label, line, f"YAML syntax: {exc.problem or exc}"))
            return None
        except YAMLError as exc:
            self.problems.append(Problem(label, 1, f"YAML syntax: {exc}"))
            return None
        return Source(path, label, doc)

    def parse(self, source: Source, model: type[M]) -> M | None:
        if not isinstance(source.doc, dict):
            self.problem(source, 1, "expected a mapping at the top of the file")
            return None
        try:
            return model.model_validate(source.doc)
        except ValidationError as exc:
            for error in exc.errors():
                loc = error["loc"]
                where = ".".join(str(p) for p in loc if not str(p)[:1].isupper())
                if error["type"] == "extra_forbidden":
                    reason = f"unknown key '{loc[-1]}'"
                elif error["type"] == "missing":
                    reason = f"missing required key '{loc[-1]}'"
                else:
                    message = error["msg"].removeprefix("Value error, ")
                    reason = f"{where}: {message}" if where else message
                self.problem(source, source.line(*loc), reason)
            return None

    def read_model(self, path: Path, model: type[M]) -> tuple[Source, M] | None:
        """Read and validate one file; ``None`` (with its problems recorded) if it fails."""
        source = self.read(path)
        parsed = self.parse(source, model) if source else None
        return (source, parsed) if source and parsed else None
