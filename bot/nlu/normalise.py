"""Text normalisation shared by keyword matching and language heuristics.

Users type Bambara on phones without its special letters (ɛ -> e/è, ɔ -> o/ò,
ɲ -> ny, ŋ -> ng) and French without accents; both sides of a comparison are
folded the same way so "n bɛ fɛ" and "n be fe" meet.

Rasa's tokenizer (``nlu/kunnafoni_nlu/tokenizer.py``) folds with its own copy of this
table; the component checks fail when the two disagree on a letter.
"""

from __future__ import annotations

import re
import unicodedata

_LETTERS = str.maketrans(
    {
        "ɛ": "e",
        "ɔ": "o",
        "ɲ": "ny",
        "ŋ": "ng",
        "Ɛ": "e",
        "Ɔ": "o",
        "Ɲ": "ny",
        "Ŋ": "ng",
        "œ": "oe",
        "æ": "ae",
        "ß": "ss",
    }
)
_NON_WORD = re.compile(r"[^a-z0-9]+")


def fold(text: str) -> str:
    """Lower-case ASCII words separated by single spaces."""
    text = text.lower().translate(_LETTERS)
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return _NON_WORD.sub(" ", text).strip()


def tokens(text: str) -> tuple[str, ...]:
    return tuple(fold(text).split())


def contains_phrase(haystack: tuple[str, ...], needle: tuple[str, ...]) -> bool:
    """Whether the words ``needle`` appear in a row in ``haystack`` (both tokenised)."""
    n = len(needle)
    return any(haystack[i : i + n] == needle for i in range(len(haystack) - n + 1))
