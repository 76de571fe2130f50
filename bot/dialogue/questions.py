"""Common questions about a module, typed in free text, answered by the card about them.

A card of ``topics/<id>.yml`` lists under ``asks`` how people type the question it
answers ("a credit", "payer plus tard", "cedeao"). A message holding one of these (whole
words, accents and case aside, any language: people mix them) opens that card rather
than card 1 of the module, or the card last seen. The module the user is in is read
first; otherwise the longest phrase wins, then the module's order in the content.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.content.catalog import Catalog, PerVersion
from bot.nlu.normalise import tokens


@dataclass(frozen=True)
class Asked:
    """The card that answers a question typed: its module and its index."""

    topic: str
    index: int


class QuestionIndex:
    """The ``asks`` phrases of one content version, as folded word sequences."""

    def __init__(self, catalog: Catalog) -> None:
        #: (phrase, order, card) by the phrase's first word: a text is compared only with
        #: the phrases that can start at one of its words.
        self._by_first: dict[str, list[tuple[tuple[str, ...], int, Asked]]] = {}
        order = 0
        for topic_id, topic in catalog.topics.items():
            for index, shown in enumerate(topic.cards):
                for phrases in shown.asks.values():
                    for phrase in phrases:
                        words = tokens(phrase)
                        if words:
                            entry = (words, order, Asked(topic_id, index))
                            self._by_first.setdefault(words[0], []).append(entry)
                            order += 1

    def card_for(self, text: str, current: str | None = None) -> Asked | None:
        """The card answering the question in ``text``, the module ``current`` first."""
        words = tokens(text)
        found = [
            (len(phrase), order, asked)
            for start, word in enumerate(words)
            for phrase, order, asked in self._by_first.get(word, ())
            if words[start : start + len(phrase)] == phrase
        ]
        if not found:
            return None
        here = [f for f in found if f[2].topic == current]
        best = min(here or found, key=lambda f: (-f[0], f[1]))
        return best[2]


_INDEXES: PerVersion[QuestionIndex] = PerVersion(QuestionIndex)


def index(catalog: Catalog) -> QuestionIndex:
    """The index of a content version (built once per version)."""
    return _INDEXES(catalog)
