"""Reading Rasa NLU YAML: annotated examples, entity synonyms, held-out groups by language.

The held-out sets are ``nlu/tests/test_<group>.yml``, one file per language group; the
training data is every ``*.yml`` under ``nlu/data``. Pure functions, no Rasa needed.
"""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from bot.nlu.types import Entity
from scripts.nlu_eval.errors import ReportError

logger = logging.getLogger(__name__)

#: The repository root: ``nlu/``, ``content/`` and the default output folders live there.
ROOT = Path(__file__).resolve().parents[2]

#: Groups shown first, in this order; any other ``test_<group>.yml`` follows alphabetically.
GROUP_ORDER = ("fr", "bm", "mixed")
OVERALL = "overall"
#: Group of the training examples whose intent block has no ``metadata: {lang: ...}``.
UNTAGGED = "untagged"
#: Label of "no prediction" (keyword baseline without a match, empty Rasa ranking).
NO_INTENT = "none"

# Same shapes as Rasa's own parser: [text](entity), [text](entity:value), [text]{json}.
_ENTITY_MARKUP = re.compile(
    r"\[(?P<text>[^\]]+?)\]"
    r"(?:\((?P<entity>[^:)]+?)(?::(?P<value>[^)]+))?\)|\{(?P<json>[^}]+?)\})"
)


@dataclass(frozen=True)
class Example:
    """One annotated example: plain text, intent, entities (value as annotated)."""

    text: str
    intent: str
    entities: tuple[Entity, ...] = ()
    lang: str | None = None


@dataclass
class NluData:
    examples: list[Example] = field(default_factory=list)
    #: Lower-cased spelling -> canonical value, as Rasa's EntitySynonymMapper applies it.
    synonyms: dict[str, str] = field(default_factory=dict)

    def extend(self, other: NluData) -> None:
        self.examples.extend(other.examples)
        self.synonyms.update(other.synonyms)


def parse_example(line: str) -> tuple[str, tuple[Entity, ...]]:
    """Strip entity markup from one example; return the text and its entities with offsets.

    ``[Libi]{"entity": "country", "value": "libya"}`` and ``[Kayes](place_ml)`` both become
    their surface text; an annotation without a value takes the surface text as value.
    """
    parts: list[str] = []
    entities: list[Entity] = []
    length, last = 0, 0
    for match in _ENTITY_MARKUP.finditer(line):
        before = line[last : match.start()]
        parts.append(before)
        length += len(before)
        surface = match.group("text")
        if match.group("json") is not None:
            try:
                spec = json.loads("{" + match.group("json") + "}")
            except json.JSONDecodeError as exc:
                raise ValueError(f"bad entity annotation in {line!r}: {exc}") from exc
            if not isinstance(spec, dict) or not spec.get("entity"):
                raise ValueError(f"entity annotation without 'entity' in {line!r}")
            name, value = str(spec["entity"]), str(spec.get("value", surface))
        else:
            name = match.group("entity").strip()
            value = (match.group("value") or surface).strip()
        entities.append(Entity(name, value, length, length + len(surface)))
        parts.append(surface)
        length += len(surface)
        last = match.end()
    parts.append(line[last:])
    return "".join(parts), tuple(entities)


def example_lines(examples: object) -> Iterator[str]:
    """Example strings of a block: ``examples: |`` text, or a list of ``text:`` items."""
    if isinstance(examples, str):
        for raw in examples.splitlines():
            line = raw.strip()
            if line.startswith("-"):
                line = line[1:].strip()
                if line:
                    yield line
    elif isinstance(examples, list):
        for item in examples:
            text = item.get("text") if isinstance(item, dict) else item
            if isinstance(text, str) and text.strip():
                yield text.strip()


def parse_nlu_yaml(text: str, source: str = "<string>") -> NluData:
    """Intent examples and entity synonyms of one Rasa NLU YAML document.

    ``lookup:`` and ``regex:`` blocks are ignored; ``synonym:`` blocks only feed
    :attr:`NluData.synonyms`. ``metadata: {lang: xx}`` of an intent block tags its examples.
    """
    try:
        doc = YAML(typ="safe").load(text)
    except YAMLError as exc:
        raise ValueError(f"{source}: not valid YAML: {exc}") from exc
    data = NluData()
    if not isinstance(doc, dict):
        return data
    for block in doc.get("nlu") or []:
        if not isinstance(block, dict):
            continue
        if "synonym" in block:
            canonical = str(block["synonym"])
            for spelling in example_lines(block.get("examples")):
                data.synonyms[spelling.lower()] = canonical
            continue
        if "intent" not in block:
            continue
        metadata = block.get("metadata")
        lang = metadata.get("lang") if isinstance(metadata, dict) else None
        for line in example_lines(block.get("examples")):
            try:
                plain, entities = parse_example(line)
            except ValueError as exc:
                raise ValueError(f"{source}: {exc}") from exc
            for entity in entities:
                surface = plain[entity.start : entity.end]
                if entity.value != surface:  # Rasa learns these as synonyms too
                    data.synonyms.setdefault(surface.lower(), entity.value)
            data.examples.append(
                Example(plain, str(block["intent"]), entities, str(lang) if lang else None)
            )
    return data


def load_nlu_dir(path: Path) -> NluData:
    """Every ``*.yml`` under a folder of Rasa NLU data, merged."""
    data = NluData()
    for file in sorted(path.rglob("*.yml")):
        data.extend(parse_nlu_yaml(file.read_text(encoding="utf-8"), str(file)))
    return data


def group_order(names: Collection[str]) -> list[str]:
    known = [name for name in GROUP_ORDER if name in names]
    return known + sorted(set(names) - set(GROUP_ORDER))


def discover_groups(tests_dir: Path) -> dict[str, Path]:
    """``test_<group>.yml`` files of the held-out folder, by group, in report order."""
    found = {path.stem.removeprefix("test_"): path for path in tests_dir.glob("test_*.yml")}
    return {name: found[name] for name in group_order(found)}


def load_heldout(tests_dir: Path) -> dict[str, list[Example]]:
    if not tests_dir.is_dir():
        raise ReportError(f"held-out folder {tests_dir} not found")
    files = discover_groups(tests_dir)
    if not files:
        raise ReportError(
            f"no held-out test set in {tests_dir}: expected test_<group>.yml files"
            f" ({', '.join(f'test_{g}.yml' for g in GROUP_ORDER)})"
        )
    missing = [g for g in GROUP_ORDER if g not in files]
    if missing:
        logger.warning("no held-out file for group(s) %s", ", ".join(missing))
    groups = {}
    for name, path in files.items():
        try:
            examples = parse_nlu_yaml(path.read_text(encoding="utf-8"), str(path)).examples
        except ValueError as exc:
            raise ReportError(str(exc)) from exc
        if not examples:
            raise ReportError(f"{path} holds no intent example")
        groups[name] = examples
        logger.info("held-out group %s: %d examples (%s)", name, len(examples), path.name)
    return groups


def train_counts(train: Sequence[Example], groups: Sequence[str]) -> dict[str, int]:
    by_lang = Counter(example.lang or UNTAGGED for example in train)
    counts = {name: by_lang.get(name, 0) for name in groups}
    counts.update({lang: n for lang, n in by_lang.items() if lang not in counts})
    counts[OVERALL] = len(train)
    return counts


def domain_intents(domain: Path) -> list[str]:
    doc = YAML(typ="safe").load(domain.read_text(encoding="utf-8"))
    return [str(i) if not isinstance(i, dict) else str(next(iter(i))) for i in doc["intents"]]
