"""Typed answers: text that picks a button on screen, or asks for a language by name.

A person may type what they see instead of tapping it: a button's number ("1"), its
label (accents, case and emoji aside), or an obvious equivalent: "ok" or "awo" for a
yes, "ayi" for a no, "18-24" or "j'ai 20 ans" for that age bracket, "mali" for "in
Mali", a language's name for its button. The words come from content: the labels, the
keyword triggers of the ``affirm`` and ``deny`` intents, the languages' names and
aliases. Pure functions over the catalog and the remembered buttons; the router
decides when they apply.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

import bot.dialogue.payloads as p
from bot.content.catalog import Catalog
from bot.dialogue.memory import ShownButton
from bot.nlu.normalise import fold
from bot.places import HOME_COUNTRY

#: The intents whose keyword triggers are typed for a yes or a no button.
AFFIRM, DENY = "affirm", "deny"

#: Buttons that a yes or a no answers.
YES_BUTTONS = frozenset(
    {p.Consent(True), p.Subscribe(True), p.Human(True), p.FormPress("yes"), p.FormPress("send")}
)
NO_BUTTONS = frozenset({p.Consent(False), p.Subscribe(False), p.Human(False), p.FormPress("no")})

#: A single word typed that stands in exactly one label picks that button ("parent" for
#: "Je suis parent d'un jeune"); shorter words ("la", "de", "ka") say nothing.
MIN_LABEL_WORD = 4
#: Above this, a number typed is not an age.
MAX_AGE = 99
#: A number said with a word or two around it: "20", "20 ans", "j ai 20 ans", "san 20".
_AGE = re.compile(r"^(?:[a-z]+ ){0,3}([0-9]{1,3})(?: [a-z]+){0,2}$")
#: Where a message breaks into clauses (a refusal holds within its clause).
_CLAUSE = re.compile(r"[,;.!?\n]+")


def is_number(text: str) -> bool:
    """A bare number, as typed to pick a button ("1", "2.", " 7 ")."""
    return p.number(fold(text)) is not None


def typed_choice(
    catalog: Catalog, shown: Sequence[ShownButton], text: str, meaning: str | None = None
) -> str | None:
    """The payload of the one button on screen ``text`` names, or None.

    ``meaning``: the NLU's reading when it is sure of it (``affirm`` or ``deny`` pick a
    yes or a no button too).
    """
    folded = fold(text)
    if not folded or not shown:
        return None
    number = p.number(folded)
    if number is not None:
        if 1 <= number <= len(shown):
            return shown[number - 1].payload
        return _age_bracket(shown, number)
    found = {b.payload for b in shown if folded in set(_names(catalog, b))}
    if not found and meaning in (AFFIRM, DENY):
        answers = YES_BUTTONS if meaning == AFFIRM else NO_BUTTONS
        found = {b.payload for b in shown if p.parse(b.payload) in answers}
    if not found and len(folded) >= MIN_LABEL_WORD and " " not in folded:
        found = {b.payload for b in shown if folded in fold(b.label).split()}
    if len(found) == 1:
        return found.pop()
    if not found:
        age = _AGE.match(folded)
        if age is not None:
            return _age_bracket(shown, int(age.group(1)))
    return None


def _names(catalog: Catalog, button: ShownButton) -> Iterator[str]:
    """Every folded text that names ``button``."""
    label = fold(button.label)
    yield label
    head = fold(button.label.split(",")[0])
    if head and head != label:
        yield head  # "Oui, d'accord" -> "oui"
    payload = p.parse(button.payload)
    if payload in YES_BUTTONS:
        yield from _keywords(catalog, AFFIRM)
    elif payload in NO_BUTTONS:
        yield from _keywords(catalog, DENY)
    match payload:
        case p.Lang(code) if code in catalog.languages:
            yield code
            yield from (fold(name) for name in language_names(catalog, code))
        case p.Age(value) if value != "skip":
            yield fold(value)  # "18-24" -> "18 24"
        case p.Where("ml"):
            yield HOME_COUNTRY
        case _:
            pass


def _keywords(catalog: Catalog, intent: str) -> Iterator[str]:
    spec = catalog.intents.get(intent)
    if spec is None:
        return
    for phrases in spec.keywords.values():
        yield from (fold(phrase) for phrase in phrases)


def _age_bracket(shown: Sequence[ShownButton], age: int) -> str | None:
    """The age bracket button on screen that holds ``age``, if one does."""
    if age > MAX_AGE:
        return None  # "112" is a phone number, not an age
    for button in shown:
        payload = p.parse(button.payload)
        if not isinstance(payload, p.Age) or payload.value == "skip":
            continue
        if payload.value.startswith("under-"):  # "under-15": any age below 15
            below = p.number(payload.value.removeprefix("under-"))
            if below is not None and age < below:
                return button.payload
            continue
        low_text, _, high_text = payload.value.rstrip("+").partition("-")
        low, high = p.number(low_text), p.number(high_text) if high_text else None
        if low is None or (high_text and high is None):
            continue
        if low <= age and (payload.value.endswith("+") or age <= (high or low)):
            return button.payload
    return None


def language_names(catalog: Catalog, code: str) -> list[str]:
    """What people call a language: its own name, then its aliases."""
    language = catalog.languages[code]
    return [language.name, *language.aliases]


def asked_language(catalog: Catalog, text: str) -> str | None:
    """The language a message asks for by name ("parle francais", "bamanankan na",
    "mi faamaani bambara, fulfulde tan"), or None.

    Such a message is made only of languages' names and of the words said around them
    (``asking_words`` and ``refusing_words`` of languages.yml); a refusing word sets aside
    the next name of its clause. The last name not set aside is the one asked for.
    """
    vocabulary = _vocabulary(catalog)
    longest = max((len(words) for words in vocabulary), default=0)
    chosen: str | None = None
    for clause in _CLAUSE.split(text):
        words = fold(clause).split()
        refusing = False
        start = 0
        while start < len(words):
            for size in range(min(longest, len(words) - start), 0, -1):
                kind = vocabulary.get(tuple(words[start : start + size]))
                if kind is not None:
                    break
            else:
                return None  # a word that is not about languages: not a request
            if kind == _REFUSING:
                refusing = True
            elif kind != _ASKING:
                if not refusing:
                    chosen = kind
                refusing = False
            start += size
    return chosen


_ASKING, _REFUSING = "", "-"


#: The vocabulary of the catalog in use, made once per content version: folding every
#: phrase again for each text cost more than the rest of reading it.
_made_for: list[tuple[Catalog, dict[tuple[str, ...], str]]] = []


def _vocabulary(catalog: Catalog) -> dict[tuple[str, ...], str]:
    """Folded phrase -> a language code (a name), ``_ASKING`` or ``_REFUSING``."""
    if _made_for and _made_for[0][0] is catalog:
        return _made_for[0][1]
    vocabulary = _make_vocabulary(catalog)
    _made_for[:] = [(catalog, vocabulary)]
    return vocabulary


def _make_vocabulary(catalog: Catalog) -> dict[tuple[str, ...], str]:
    vocabulary: dict[tuple[str, ...], str] = {}
    for language in catalog.languages.values():
        for phrase in language.asking_words:
            vocabulary.setdefault(tuple(fold(phrase).split()), _ASKING)
        for phrase in language.refusing_words:
            vocabulary.setdefault(tuple(fold(phrase).split()), _REFUSING)
    # Names last, so a name is never taken for a word around it.
    for code in catalog.languages:
        for name in language_names(catalog, code):
            vocabulary[tuple(fold(name).split())] = code
    vocabulary.pop((), None)
    return vocabulary
