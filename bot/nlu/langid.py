"""Which language a message is written in, learnt from the project's own text.

A multinomial naive Bayes over character n-grams of folded text (see
:mod:`bot.nlu.normalise`), trained at start-up in a few milliseconds from the
campaign's messages (``content/messages/<lang>.yml``) and the NLU training
examples whose block carries ``metadata: {lang: <code>}``. No model is
downloaded; adding text in a language teaches it that language.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ruamel.yaml import YAML

from bot.nlu.normalise import fold

NGRAM_SIZES = (1, 2, 3, 4)
#: Additive smoothing of n-gram counts.
ALPHA = 0.5
#: Below this many letters a guess is not worth acting on ("ok", "?").
MIN_LETTERS = 6


#: In a code-switched message the second language holds at least this share of words.
MIXED_SHARE = 0.3


@dataclass(frozen=True)
class LanguageGuess:
    language: str | None
    confidence: float
    scores: tuple[tuple[str, float], ...] = ()
    #: Several languages in one message (French and Bambara mixed, say).
    mixed: bool = False


def _features(text: str) -> Iterator[str]:
    folded = fold(text)
    for word in folded.split():
        padded = f" {word} "
        for n in NGRAM_SIZES:
            for i in range(len(padded) - n + 1):
                yield padded[i : i + n]
        yield f"w:{word}"


class LanguageIdentifier:
    def __init__(self, counts: dict[str, Counter[str]], documents: Counter[str]) -> None:
        self.languages = tuple(sorted(counts))
        self._vocabulary = len(set().union(*counts.values())) if counts else 0
        total_docs = sum(documents.values())
        self._prior = {lang: math.log(documents[lang] / total_docs) for lang in self.languages}
        self._log_prob: dict[str, dict[str, float]] = {}
        self._unseen: dict[str, float] = {}
        for lang in self.languages:
            total = sum(counts[lang].values()) + ALPHA * self._vocabulary
            self._log_prob[lang] = {
                gram: math.log((count + ALPHA) / total) for gram, count in counts[lang].items()
            }
            self._unseen[lang] = math.log(ALPHA / total)

    @classmethod
    def train(cls, samples: Iterable[tuple[str, str]]) -> LanguageIdentifier:
        """Learn from (text, language) pairs."""
        counts: dict[str, Counter[str]] = {}
        documents: Counter[str] = Counter()
        for text, language in samples:
            counts.setdefault(language, Counter()).update(_features(text))
            documents[language] += 1
        return cls(counts, documents)

    def _log_scores(self, grams: list[str]) -> dict[str, float]:
        # Uniform priors: the share of each language in our corpus says nothing
        # about who writes to the bot.
        return {
            lang: sum(self._log_prob[lang].get(g, self._unseen[lang]) for g in grams)
            for lang in self.languages
        }

    def _is_mixed(self, text: str) -> bool:
        """Vote word by word; a real second language holds a good share of the words."""
        votes: Counter[str] = Counter()
        for word in fold(text).split():
            if len(word) >= 2:
                scores = self._log_scores(list(_features(word)))
                votes[max(scores, key=lambda lang: scores[lang])] += 1
        total = sum(votes.values())
        if len(votes) < 2 or total < 4:
            return False
        return votes.most_common(2)[1][1] / total >= MIXED_SHARE

    def predict(self, text: str) -> LanguageGuess:
        letters = sum(ch.isalpha() for ch in text)
        grams = list(_features(text))
        if not self.languages or not grams:
            return LanguageGuess(None, 0.0)
        log_scores = self._log_scores(grams)
        top = max(log_scores.values())
        exp = {lang: math.exp(score - top) for lang, score in log_scores.items()}
        norm = sum(exp.values())
        ranked = sorted(
            ((lang, value / norm) for lang, value in exp.items()), key=lambda item: -item[1]
        )
        best, confidence = ranked[0]
        if letters < MIN_LETTERS:
            return LanguageGuess(None, confidence, tuple(ranked))
        return LanguageGuess(best, confidence, tuple(ranked), mixed=self._is_mixed(text))


def _yaml_documents(paths: Iterable[Path]) -> Iterator[tuple[Path, object]]:
    yaml = YAML(typ="safe")
    for path in paths:
        try:
            yield path, yaml.load(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue


def _clean_example(line: str) -> str:
    """A Rasa example without its entity markup: ``[Libi](country)`` -> ``Libi``."""
    out, i = [], 0
    while i < len(line):
        ch = line[i]
        if ch == "[":
            end = line.find("]", i)
            if end != -1 and end + 1 < len(line) and line[end + 1] in "({":
                close = line.find(")" if line[end + 1] == "(" else "}", end)
                if close != -1:
                    out.append(line[i + 1 : end])
                    i = close + 1
                    continue
        out.append(ch)
        i += 1
    return "".join(out)


def nlu_samples(nlu_data_dir: Path) -> Iterator[tuple[str, str]]:
    """Examples of intent blocks tagged ``metadata: {lang: xx}`` in Rasa YAML files."""
    if not nlu_data_dir.is_dir():
        return
    for _path, doc in _yaml_documents(sorted(nlu_data_dir.rglob("*.yml"))):
        if not isinstance(doc, dict):
            continue
        for block in doc.get("nlu") or []:
            if not isinstance(block, dict) or "intent" not in block:
                continue
            metadata = block.get("metadata") or {}
            language = metadata.get("lang") if isinstance(metadata, dict) else None
            # Mixed messages have no single language, and "other" (a language the review
            # queue's reviewers could not name) is not one to learn.
            if not isinstance(language, str) or language in ("mixed", "other"):
                continue
            for line in str(block.get("examples") or "").splitlines():
                line = line.strip()
                if line.startswith("- "):
                    yield _clean_example(line[2:]), language


def content_samples(content_dir: Path) -> Iterator[tuple[str, str]]:
    """Every message of ``content/messages/<lang>.yml``, one paragraph at a time."""
    for path, doc in _yaml_documents(sorted((content_dir / "messages").glob("*.yml"))):
        if not isinstance(doc, dict):
            continue
        language = doc.get("language") or path.stem
        for value in (doc.get("messages") or {}).values():
            text = value.get("text") if isinstance(value, dict) else value
            if isinstance(text, str):
                for paragraph in text.split("\n"):
                    if paragraph.strip():
                        yield paragraph, language


def build_identifier(content_dir: Path, nlu_data_dir: Path) -> LanguageIdentifier:
    samples = [*content_samples(content_dir), *nlu_samples(nlu_data_dir)]
    return LanguageIdentifier.train(samples)
