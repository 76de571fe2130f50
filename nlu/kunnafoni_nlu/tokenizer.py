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

With ``bilingual_lexicon: true`` (experiment, off by default) it also adds, at the
position of each Bambara word of ``lexicon.py``, the French word of the same meaning as a
second token (``wari`` -> ``wari``, ``argent``), so that the word features of ``n bɛ wari
ɲini`` and ``je cherche de l'argent`` meet.

The same folding as the bot's keyword matcher (``bot/nlu/normalise.py``), minus its
lower-casing and punctuation handling, which the featurizers and the tokenizer do. The
two tables cannot share code (two Python environments); the component checks
(``tests/rasa_env/check_components.py``) fail when they fold a letter differently.
"""

from __future__ import annotations

import unicodedata
from typing import Any, Dict, List, Text

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.tokenizers.tokenizer import Token
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message

from kunnafoni_nlu.lexicon import LEXICON

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

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {**WhitespaceTokenizer.get_default_config(), "bilingual_lexicon": False}

    def __init__(self, config: Dict[Text, Any]) -> None:
        super().__init__(config)
        lexicon = self._config.get("bilingual_lexicon", False)
        if not isinstance(lexicon, bool):
            raise ValueError(f"bilingual_lexicon must be true or false, not {lexicon!r}")
        self.bilingual_lexicon = lexicon

    def tokenize(self, message: Message, attribute: Text) -> List[Token]:
        tokens = super().tokenize(message, attribute)
        if attribute != TEXT:
            return tokens  # intent names and other attributes stay as they are
        out: List[Token] = []
        for token in tokens:
            folded = fold(token.text)
            token.text = folded
            token.lemma = folded
            out.append(token)
            french = LEXICON.get(folded.lower()) if self.bilingual_lexicon else None
            if french is not None:
                # same position as the Bambara word, which is never an entity
                out.append(Token(french, token.start, token.end, lemma=french))
        return out
