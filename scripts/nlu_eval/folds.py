"""Cross-validation data: the training document, its stratified folds, examples added since.

The document is kept whole (synonym, regex and lookup blocks too) so that a fold's training
data is written back as Rasa NLU YAML with only the held-back intent examples left out.
"""

from __future__ import annotations

import copy
import io
import random
import subprocess
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from ruamel.yaml.scalarstring import LiteralScalarString

from scripts.nlu_eval.data import ROOT, UNTAGGED, Example, example_lines, parse_example


@dataclass(frozen=True)
class CvExample:
    """One training example: where it stands in the data, its raw line and its parse."""

    block: int  # index of its intent block in the ``nlu:`` list
    line: str  # as written, entity markup included
    example: Example

    @property
    def group(self) -> str:
        return self.example.lang or UNTAGGED


@dataclass(frozen=True)
class NluDocument:
    """One Rasa NLU YAML document: its blocks and its intent examples."""

    version: str
    blocks: list[dict[str, Any]]
    examples: list[CvExample]


def load_document(text: str, source: str = "<string>") -> NluDocument:
    """Blocks and intent examples of a Rasa NLU YAML document (``examples: |`` form)."""
    try:
        doc = YAML(typ="safe").load(text)
    except YAMLError as exc:
        raise ValueError(f"{source}: not valid YAML: {exc}") from exc
    if not isinstance(doc, dict):
        raise ValueError(f"{source}: not a Rasa NLU document")
    blocks = [b for b in doc.get("nlu") or [] if isinstance(b, dict)]
    examples = []
    for index, block in enumerate(blocks):
        if "intent" not in block:
            continue
        if not isinstance(block.get("examples"), str):
            raise ValueError(f"{source}: intent {block['intent']}: only `examples: |` is handled")
        metadata = block.get("metadata")
        lang = metadata.get("lang") if isinstance(metadata, dict) else None
        for line in example_lines(block["examples"]):
            text, entities = parse_example(line)
            example = Example(text, str(block["intent"]), entities, str(lang) if lang else None)
            examples.append(CvExample(index, line, example))
    return NluDocument(str(doc.get("version", "3.1")), blocks, examples)


def assign_folds(strata: Sequence[str], folds: int, seed: int) -> list[int]:
    """A fold per item: each stratum shuffled (seeded) and dealt round the folds in turn.

    Dealing continues where the previous stratum stopped, so fold sizes differ by at most one
    and every stratum is spread as evenly as its size allows.
    """
    if folds < 2:
        raise ValueError("cross-validation needs at least 2 folds")
    rng = random.Random(seed)
    by_stratum: dict[str, list[int]] = defaultdict(list)
    for index, stratum in enumerate(strata):
        by_stratum[stratum].append(index)
    assigned = [0] * len(strata)
    position = 0
    for stratum in sorted(by_stratum):
        members = by_stratum[stratum]
        rng.shuffle(members)
        for index in members:
            assigned[index] = position % folds
            position += 1
    return assigned


def training_document(doc: NluDocument, keep: Sequence[bool]) -> str:
    """The document with only the kept intent examples; other blocks (synonyms...) whole."""
    lines: dict[int, list[str]] = defaultdict(list)
    for item, kept in zip(doc.examples, keep, strict=True):
        if kept:
            lines[item.block].append(item.line)
    blocks = []
    for index, block in enumerate(doc.blocks):
        out = copy.deepcopy(block)
        if "intent" in block:
            if not lines[index]:
                continue
            out["examples"] = "".join(f"- {line}\n" for line in lines[index])
        if isinstance(out.get("examples"), str):
            out["examples"] = LiteralScalarString(out["examples"])
        blocks.append(out)
    yaml = YAML()
    yaml.allow_unicode = True
    yaml.width = 4096
    buffer = io.StringIO()
    yaml.dump({"version": doc.version, "nlu": blocks}, buffer)
    return buffer.getvalue()


def added_since(revision: str, doc: NluDocument) -> tuple[NluDocument, list[Example]]:
    """The training data as it was at git ``revision``, and the examples added since.

    An example counts as added when its line (entity markup included) is not in the same
    intent at ``revision``; its language group is the block's.
    """
    try:
        shown = subprocess.run(
            ["git", "show", f"{revision}:nlu/data/nlu.yml"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError) as exc:
        detail = getattr(exc, "stderr", "") or str(exc)
        raise ValueError(f"no nlu/data/nlu.yml at {revision!r}: {detail.strip()}") from exc
    old = load_document(shown.stdout, f"{revision}:nlu/data/nlu.yml")
    return old, added_examples(old, doc)


def added_examples(old: NluDocument, new: NluDocument) -> list[Example]:
    """Examples of ``new`` whose line is not in the same intent in ``old``, group kept."""
    before = {(item.example.intent, item.line) for item in old.examples}
    return [
        replace(item.example, lang=item.group)
        for item in new.examples
        if (item.example.intent, item.line) not in before
    ]
