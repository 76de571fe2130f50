"""``privacy.yml``: how people ask, in free text, to use their rights over their data.

``forget`` lists, per language, phrases that ask to erase what the bot keeps about the
person ("supprime mes donnees", "n ka kunnafoniw josi"). A message holding one of them
(whole words in a row, accents, case and Bambara's special letters aside, any language:
people mix them) leads straight to the erasure's confirmation, whatever the NLU reads in
it; nothing is erased before the person confirms. Only what is clearly a request to erase
belongs here: "qui voit mes messages ?" is a question about privacy, not a request.
"""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import Field, StringConstraints, model_validator

from bot.content.models.common import LanguageCode, Strict
from bot.nlu.normalise import fold

#: A request as typed: at least two words, so that one common word never erases anything.
RequestPhrase = Annotated[str, StringConstraints(min_length=5, max_length=80)]


class PrivacyFile(Strict):
    #: Phrases asking to erase one's data, per language.
    forget: dict[LanguageCode, list[RequestPhrase]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _phrases_of_two_words(self) -> Self:
        for code, phrases in self.forget.items():
            for phrase in phrases:
                if len(fold(phrase).split()) < 2:
                    raise ValueError(f"forget.{code}: '{phrase}' needs at least two words")
        return self
