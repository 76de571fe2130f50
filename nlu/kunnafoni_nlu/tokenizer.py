"""A whitespace tokenizer whose tokens are folded to the letters people type on phones.

Users write Bambara with or without its own letters (``fɛ``, ``fè``, ``fe``; ``ɲini``,
``nyini``) and French with or without accents (``déjà``, ``deja``). Rasa's
``WhitespaceTokenizer`` keeps each spelling as a different word, so the features of
``fɛ`` and ``fe`` share nothing at the word level. This tokenizer splits exactly like
it, then gives every token of the message text a folded form: ``ɛ`` -> ``e``, ``ɔ`` ->
``o``, ``ɲ`` -> ``ny``, ``ŋ`` -> ``ng``, accents and other combining marks removed. The
featurizers after it (word and character n-grams) see the folded form; the token's
position in the message is unchanged, so entities are still cut from the text as the
user wrote it (``Ségou`` stays ``Ségou`` before the synonym mapper).

The same folding as the bot's keyword matcher (``bot/nlu/normalise.py``), minus its
lower-casing and punctuation handling, which the featurizers and the tokenizer do. The
two tables cannot share code (two Python environments); the component checks
(``tests/rasa_env/check_components.py``) fail when they fold a letter differently.
"""

from __future__ import annotations

import unicodedata
from typing import List, Text

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.tokenizers.tokenizer import Token
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message

_LETTERS = str.maketrans(
    {
        "ɛ": "e",
        "ɔ": "o",
        "ɲ": "ny",
        "ŋ": "ng",
        "Ɛ": "E",
        "Ɔ": "O",
        "Ɲ": "Ny",
        "Ŋ": "Ng",
        "œ": "oe",
        "Œ": "Oe",
        "æ": "ae",
        "Æ": "Ae",
        "ß": "ss",
    }
)


def fold(word: str) -> str:
    """The word without Bambara's own letters, accents or other combining marks."""
    decomposed = unicodedata.normalize("NFKD", word.translate(_LETTERS))
    folded = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return unicodedata.normalize("NFC", folded) or word


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=False)
class FoldingWhitespaceTokenizer(WhitespaceTokenizer):
    """``WhitespaceTokenizer`` with folded token texts (positions unchanged)."""

    def tokenize(self, message: Message, attribute: Text) -> List[Token]:
        tokens = super().tokenize(message, attribute)
        if attribute != TEXT:
            return tokens  # intent names and other attributes stay as they are
        for token in tokens:
            folded = fold(token.text)
            token.text = folded
            token.lemma = folded
        return tokens
