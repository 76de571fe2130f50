"""The NLU review queue's pure parts: masking names, grouping similar messages, and the
reviewed training file in Rasa's YAML format.

Names. The queue keeps what people wrote when the bot did not understand it, so a name
must not reach it. Phone numbers are masked before the NLU already (``bot.phones``); this
module masks names, replacing each with ``[name]``:

- spans the NLU marks as a person (an entity named ``name``, ``person``, ``first_name``...);
- the words after "je m'appelle", "mon nom est", "moi c'est", "appelle-moi", "n togo ye",
  "n togo ko" (any spelling that folds the same, Bambara letters and accents included:
  "jm'appelle"): the first word whatever its case, and up to two capitalised words after
  it ("Moussa Traore");
- a capitalised word after a relative ("mon frere Issa", "n balima Seydou", "n teri
  Adama"): lower-case it is just a word ("mon frere est parti");
- the common Malian given names and family names of :data:`COMMON_NAMES`, anywhere, in any
  case or spelling that folds the same ("KEITA", "keita", with or without its accent).

Masking may take a word too many, never knowingly too few: a reviewer sees ``[name]``
and can still label the message. What escapes (a rare name typed in lower case with no
words around it) the reviewer discards from the page (docs/console.md).

Grouping: character trigram cosine on the folded text (``bot.nlu.normalise.fold``, masks
removed), greedy: each message joins the first group whose first message is at least
:data:`GROUP_SIMILARITY` alike, or starts a group. No dependency, quadratic in the worst
case on at most :data:`MAX_QUEUE_SHOWN` messages.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import re
import tempfile
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

from ruamel.yaml import YAML

from bot.nlu.normalise import fold
from bot.nlu.types import Entity

#: What a name becomes (a phone number becomes ``bot.phones.PHONE_MASK``).
NAME_MASK = "[name]"
#: The longest text kept in the queue (characters).
MAX_TEXT = 500
#: Entities an NLU may mark as a person's name (none in our domain today).
PERSON_ENTITIES = frozenset({"name", "person", "first_name", "last_name", "PERSON", "PER"})
#: Languages a reviewer can give an example.
LANGUAGES = ("fr", "bm", "mixed", "other")
#: Two messages at least this alike (trigram cosine) are in one group.
GROUP_SIMILARITY = 0.5
#: The most messages the queue page reads at once (oldest first).
MAX_QUEUE_SHOWN = 500

#: Folded phrases after which the next word is a name.
_NAME_INTROS = (
    "je m appelle",
    "jm appelle",
    "j m appelle",
    "je mappelle",
    "jmappelle",
    "mon nom est",
    "mon nom c est",
    "mon nom cest",
    "moi c est",
    "moi cest",
    "appelle moi",
    "on m appelle",
    "n togo ye",
    "n togo ko",
    "ne togo ye",
    "ne togo ko",
    "n togo",
    "my name is",
)
#: Folded words for a relative: a capitalised word right after is taken for a name.
_RELATIVES = (
    "frere",
    "soeur",
    "cousin",
    "cousine",
    "ami",
    "amie",
    "pere",
    "mere",
    "oncle",
    "tante",
    "fils",
    "fille",
    "mari",
    "femme",
    "copain",
    "copine",
    "balima",
    "badenke",
    "badenmuso",
    "koro",
    "dogo",
    "dogoce",
    "dogomuso",
    "teri",
    "cekoroba",
    "fa",
    "muso",
    "dence",
)
#: Common given and family names in Mali (folded). Place names are left out on purpose
#: (``Kita``, ``Segou``): they are entities the team labels.
COMMON_NAMES = frozenset(
    """
    traore keita coulibaly kulibali diarra diallo konate toure sissoko doumbia camara
    kamara cisse sangare dembele kante maiga sidibe konare ballo bagayoko dicko fofana
    kone samake sylla tounkara haidara sacko diakite diabate kouyate niang sow barry
    bah mariko goita guindo tangara berthe dembele sanogo ouattara kouma
    moussa mamadou mohamed mahamadou fatoumata fatim fatou aminata mariam mariame oumar
    oumou ibrahim ibrahima adama kadiatou kadidia seydou bakary boubacar modibo
    souleymane soumaila salif sekou amadou hamidou issa youssouf yacouba lassana drissa
    djeneba assitan rokia rokiatou hawa salimata bintou sitan ramata tenin
    nene alou abdoulaye aboubacar cheick siaka sidiki fousseyni ousmane aissata aissa
    """.split()
)

_INTROS = tuple(tuple(phrase.split()) for phrase in _NAME_INTROS)
_WORD = re.compile(r"[^\W\d_][^\W_]*(?:['\u2019-][^\W\d_]+)*", re.UNICODE)


@dataclass(frozen=True)
class Masked:
    """A text with names masked, and the spans of the original text that were replaced."""

    text: str
    spans: tuple[tuple[int, int], ...] = ()


def mask_names(text: str, entities: Iterable[Entity] = ()) -> Masked:
    """``text`` with each name replaced by :data:`NAME_MASK` (see the module docstring)."""
    words = [(m.start(), m.end(), m.group(0)) for m in _WORD.finditer(text)]
    folded = [fold(w) for _, _, w in words]
    spans: set[tuple[int, int]] = set()
    for entity in entities:
        if entity.entity in PERSON_ENTITIES and entity.start is not None and entity.end:
            spans.add((entity.start, entity.end))
    # The words' folded tokens in a row ("m'appelle" is two), and the word of each token.
    tokens: list[str] = []
    owner: list[int] = []
    first: list[int] = []
    for index, word in enumerate(folded):
        first.append(len(tokens))
        for token in word.split():
            tokens.append(token)
            owner.append(index)
    for i in range(len(words)):
        at = first[i]
        for intro in _INTROS:
            end = at + len(intro)
            if tuple(tokens[at:end]) != intro:
                continue
            j = owner[end - 1] + 1  # the word after the intro
            if j >= len(words) or (end < len(tokens) and owner[end] == owner[end - 1]):
                continue  # nothing after, or the intro stops inside a word
            spans.add(words[j][:2])
            k = j + 1
            while k < len(words) and k <= j + 2 and _capitalised(words[k][2]):
                spans.add(words[k][:2])
                k += 1
            break
        if folded[i] in _RELATIVES and i + 1 < len(words) and _capitalised(words[i + 1][2]):
            spans.add(words[i + 1][:2])
        if folded[i] in COMMON_NAMES:
            spans.add(words[i][:2])
    return _replace(text, spans)


def _capitalised(word: str) -> bool:
    return word[:1].isupper()


def _replace(text: str, spans: set[tuple[int, int]]) -> Masked:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1] + 1 and text[merged[-1][1] : start].strip() == "":
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    out, at = [], 0
    for start, end in merged:
        out.append(text[at:start])
        out.append(NAME_MASK)
        at = end
    out.append(text[at:])
    return Masked("".join(out), tuple(merged))


def shift_entities(
    entities: Iterable[Entity], masked: Masked, *, keep: frozenset[str] | None = None
) -> list[dict[str, Any]]:
    """The NLU's entities as ``{"entity", "value", "start", "end"}`` on the masked text:
    those overlapping a masked span go, the others move with the text. ``keep``: only
    these entity names (the domain's)."""
    out: list[dict[str, Any]] = []
    for entity in entities:
        if entity.start is None or entity.end is None or entity.entity in PERSON_ENTITIES:
            continue
        if keep is not None and entity.entity not in keep:
            continue
        delta, overlaps = 0, False
        for start, end in masked.spans:
            if end <= entity.start:
                delta += len(NAME_MASK) - (end - start)
            elif start < entity.end:
                overlaps = True
        if not overlaps:
            out.append(
                {
                    "entity": entity.entity,
                    "value": entity.value,
                    "start": entity.start + delta,
                    "end": entity.end + delta,
                }
            )
    return out


# --- Grouping --------------------------------------------------------------------------


def _trigrams(text: str) -> Counter[str]:
    folded = fold(text.replace(NAME_MASK, " ").replace("[phone]", " "))
    padded = f" {folded} "
    return Counter(padded[i : i + 3] for i in range(max(0, len(padded) - 2)))


def similarity(a: str, b: str) -> float:
    """Cosine of the folded texts' character trigram counts (0 to 1)."""
    return _cosine(_trigrams(a), _trigrams(b))


def _cosine(x: Counter[str], y: Counter[str]) -> float:
    if not x or not y:
        return 0.0
    dot = sum(count * y[gram] for gram, count in x.items() if gram in y)
    norm = math.sqrt(sum(c * c for c in x.values())) * math.sqrt(sum(c * c for c in y.values()))
    return dot / norm if norm else 0.0


T = TypeVar("T")


def group(items: Sequence[T], text_of: Any, threshold: float = GROUP_SIMILARITY) -> list[list[T]]:
    """``items`` in groups of alike texts, each group in the items' order; the groups in
    the order of their first item. An item joins the first group whose first item is at
    least ``threshold`` alike. The groups' first items are indexed by trigram, so an item
    is compared only with those it shares a trigram with."""
    members: list[list[T]] = []
    norms: list[float] = []
    index: dict[str, list[tuple[int, int]]] = {}
    for item in items:
        grams = _trigrams(text_of(item))
        norm = math.sqrt(sum(c * c for c in grams.values()))
        dots: dict[int, float] = {}
        for gram, count in grams.items():
            for head, head_count in index.get(gram, ()):
                dots[head] = dots.get(head, 0.0) + count * head_count
        joined = next(
            (
                head
                for head in sorted(dots)
                if norm and dots[head] / (norm * norms[head]) >= threshold
            ),
            None,
        )
        if joined is not None:
            members[joined].append(item)
            continue
        members.append([item])
        norms.append(norm)
        for gram, count in grams.items():
            index.setdefault(gram, []).append((len(members) - 1, count))
    return members


# --- The domain and the reviewed file -----------------------------------------------------


@dataclass(frozen=True)
class Domain:
    """The intents and entity names a reviewer may use (``nlu/domain.yml``)."""

    intents: tuple[str, ...]
    entities: tuple[str, ...]

    @classmethod
    def load(cls, path: Path) -> Domain:
        data = _load(path.read_text(encoding="utf-8"))
        intents = tuple(str(i) for i in data.get("intents") or [])
        entities = tuple(str(e) for e in data.get("entities") or [])
        return cls(intents, entities)


@dataclass(frozen=True)
class Span:
    """An entity marked by a reviewer: characters ``start`` to ``end`` of the text."""

    entity: str
    start: int
    end: int


@dataclass(frozen=True)
class Labelled:
    """One reviewed example, linked to nobody: who labelled it is a console account."""

    text: str
    intent: str
    language: str
    entities: tuple[Span, ...] = ()
    labelled_by: str = ""
    labelled_at: datetime | None = None


class LabelError(ValueError):
    """A label the reviewed file cannot hold; ``str()`` is a catalogue key of the console."""


def check_label(label: Labelled, domain: Domain) -> None:
    """Refuse what Rasa would refuse or misread: an intent or entity outside the domain,
    a language outside :data:`LANGUAGES`, spans outside the text or overlapping, a text
    that is empty or not one line, brackets that Rasa would read as entity markup."""
    if not label.text.strip() or len(label.text) > MAX_TEXT or "\n" in label.text:
        raise LabelError("review.error.text")
    if label.intent not in domain.intents:
        raise LabelError("review.error.intent")
    if label.language not in LANGUAGES:
        raise LabelError("review.error.language")
    last_end = -1
    for span in sorted(label.entities, key=lambda s: s.start):
        if span.entity not in domain.entities:
            raise LabelError("review.error.entity")
        if not 0 <= span.start < span.end <= len(label.text) or span.start < last_end:
            raise LabelError("review.error.span")
        if not label.text[span.start : span.end].strip():
            raise LabelError("review.error.span")
        if any(ch in label.text[span.start : span.end] for ch in "[]()"):
            raise LabelError("review.error.span")
        last_end = span.end


#: A reviewed sentence of at least this many words that is in a held-out test set would
#: leak it into training (``tests/test_project.py`` checks the same rule).
HELD_OUT_WORDS = 5
_MARKUP = re.compile(r"\[([^\]]+)\](\([^)]*\)|\{[^}]*\})")


def comparable(text: str) -> str:
    """An example as the leak check compares it: markup dropped, lower case, words only."""
    return re.sub(r"\W+", " ", _MARKUP.sub(r"\1", text).lower()).strip()


def held_out(tests_dir: Path) -> frozenset[str]:
    """The sentences of the held-out sets (``nlu/tests/test_*.yml``) long enough to count;
    read again only when a file changed."""
    files = tuple((path, path.stat().st_mtime_ns) for path in sorted(tests_dir.glob("test_*.yml")))
    return _held_out(files)


@lru_cache(maxsize=4)
def _held_out(files: tuple[tuple[Path, int], ...]) -> frozenset[str]:
    found: set[str] = set()
    for path, _ in files:
        for block in _load(path.read_text(encoding="utf-8")).get("nlu") or []:
            if not isinstance(block, dict):
                continue
            for line in str(block.get("examples") or "").splitlines():
                if line.strip().startswith("- "):
                    sentence = comparable(line.strip()[2:])
                    if len(sentence.split()) >= HELD_OUT_WORDS:
                        found.add(sentence)
    return frozenset(found)


def leaks(label: Labelled, sentences: frozenset[str]) -> bool:
    """Whether the example is a held-out test sentence (it must never be trained on)."""
    return comparable(label.text) in sentences


def markup(label: Labelled) -> str:
    """The example in Rasa's markup: ``[Libi](country)`` for each span; the masks'
    brackets kept as plain text (never followed by ``(`` or ``{``)."""
    out, at = [], 0
    for span in sorted(label.entities, key=lambda s: s.start):
        out.append(_plain(label.text[at : span.start]))
        out.append(f"[{label.text[span.start : span.end]}]({span.entity})")
        at = span.end
    out.append(_plain(label.text[at:]))
    return " ".join("".join(out).split())


def _plain(text: str) -> str:
    # "[name](" would be read as an entity: a space keeps the mask plain text.
    return re.sub(r"\]([({])", r"] \1", text)


@dataclass
class ReviewedFile:
    """``nlu/data/reviewed.yml``: one intent block per reviewed example (Rasa merges
    blocks of one intent), its ``metadata`` holding the language group (``lang``, read by
    the evaluation and the language identifier like ``nlu.yml``'s), who labelled it and
    when. Rewritten whole on each addition, atomically (a temporary file renamed over
    it), under a lock file so that two reviewers saving at once lose nothing."""

    path: Path
    header: str = field(
        default=(
            "# Examples labelled in the console's NLU review queue (docs/console.md):\n"
            "# real messages the bot did not understand, masked, linked to nobody.\n"
            "# Written by the console: edit with care, keep one block per example.\n"
        )
    )

    def blocks(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        data = _load(self.path.read_text(encoding="utf-8"))
        return [b for b in data.get("nlu") or [] if isinstance(b, dict)]

    def add(self, label: Labelled) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock = self.path.with_name(f".{self.path.name}.lock")
        with lock.open("a") as held:
            fcntl.flock(held, fcntl.LOCK_EX)
            try:
                blocks = self.blocks()
                metadata: dict[str, Any] = {"lang": label.language}
                if label.labelled_by:
                    metadata["labelled_by"] = label.labelled_by
                if label.labelled_at is not None:
                    metadata["labelled_at"] = label.labelled_at.isoformat(timespec="seconds")
                blocks.append(
                    {
                        "intent": label.intent,
                        "metadata": metadata,
                        "examples": f"- {markup(label)}\n",
                    }
                )
                self._write(blocks)
            finally:
                fcntl.flock(held, fcntl.LOCK_UN)

    def _write(self, blocks: list[dict[str, Any]]) -> None:
        body = render(blocks)
        handle, temporary = tempfile.mkstemp(prefix=".reviewed-", dir=self.path.parent)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                out.write(self.header + body)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise


def render(blocks: list[dict[str, Any]]) -> str:
    """Rasa NLU YAML for ``blocks``, examples as literal blocks like ``nlu.yml``'s."""
    lines = ['version: "3.1"', "", "nlu:"]
    for block in blocks:
        lines.append(f"- intent: {block['intent']}")
        metadata = block.get("metadata") or {}
        if metadata:
            lines.append("  metadata:")
            for key, value in metadata.items():
                lines.append(f"    {key}: {_scalar(value)}")
        lines.append("  examples: |")
        for example in str(block.get("examples") or "").splitlines():
            if example.strip():
                lines.append(f"    {example.strip()}")
    return "\n".join(lines) + "\n"


def _scalar(value: Any) -> str:
    # A JSON string or number is a YAML scalar too (double-quoted, escapes as in JSON).
    return json.dumps(value, ensure_ascii=False)


def _load(text: str) -> dict[str, Any]:
    data = YAML(typ="safe", pure=True).load(text)
    return data if isinstance(data, dict) else {}
