"""Places said in free text: which town or country, and whether it is the user's own.

Names come from ``content/places.yml`` (towns and countries as people type them),
found as whole words after folding (:mod:`bot.nlu.normalise`), so "je suis a Kita",
"n be paris" or "jsuis a laayoune" name a place even when the NLU gives no entity.

Who is there is read from the words just before the name, nearest first:

- someone else: a relative or friend ("mon frere", "mon ami", "n teri", "n balima"),
  "il", "elle", "ils", "elles", or the Bambara "a be" / "u be" (he or she is, they are);
- the user: "je", "j'suis", "jsuis", "moi", "on", "nous", "n be", "ne be", "an be",
  or "ici" / "yan" (here);
- nothing said: unknown (a bare "Kita" answers "where are you?", but "libye" alone
  asks about Libya).

A name right after going or coming words ("partir en Libye", "aller a Paris",
"n be taa Faransi", "rentre de Libye", "j'etais a Tripoli") is where someone goes,
comes from or was, not where they are: it is not a location. After a going word it is a
destination (:meth:`PlaceFinder.destinations`), and whoever is said before the going
word is the one leaving (:func:`leaver`): "mon fils veut partir en Libye" is a parent.

A location shared on the phone is read as the nearest town with coordinates within
:data:`NEAR_KM` (:meth:`PlaceFinder.nearest`).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from enum import StrEnum

from bot.content.catalog import Catalog, PerVersion
from bot.content.models import KnownTown, PlacesFile
from bot.nlu.normalise import contains_phrase, tokens

#: Words for someone else, after "mon/ma/mes" or the Bambara "n" (my): relatives, friends.
OTHERS = frozenset(
    {
        # French
        "ami", "amie", "amis", "pote", "potes", "copain", "copine", "frere", "freres",
        "soeur", "soeurs", "cousin", "cousine", "cousins", "fils", "fille", "filles",
        "oncle", "tonton", "tante", "pere", "papa", "mere", "maman", "femme", "mari",
        "enfant", "enfants", "parents", "famille", "voisin", "voisine", "gars", "fiston",
        # Bambara
        "teri", "terike", "terimuso", "balima", "koroke", "korommuso", "dogoke",
        "dogomuso", "denke", "denmuso", "muso", "somogo", "somogow",
    }
)  # fmt: skip
#: Third-person pronouns (French); "il y a", "il faut", "il fait" are not a subject.
THIRD_PERSON = frozenset({"il", "elle", "ils", "elles", "lui", "eux"})
IMPERSONAL_AFTER_IL = frozenset({"y", "faut", "fait", "parait"})
#: Bambara pronouns that need their verb after them: "a be", "u be" (he/she is, they are).
BM_THIRD_PERSON = frozenset({"a", "u"})
BM_VERBS = frozenset({"be", "bi", "ye", "tun", "sera", "nana", "to", "tora"})
#: The user speaking (French, SMS spellings, Bambara).
FIRST_PERSON = frozenset(
    {"je", "j", "jsuis", "jsui", "chui", "chuis", "suis", "sui", "moi", "me", "m",
     "nous", "on", "n", "ne", "an", "nou", "jveu", "jveux", "jve", "jvais", "jpars", "jpart"}
)  # fmt: skip
#: "Here" said by the writer ("ici a Sfax", Bambara "yan").
HERE = frozenset({"ici", "yan", "isi"})
#: Going, coming or having been: a name after one of these is not where someone is now.
NOT_HERE = frozenset(
    {
        "partir", "pars", "part", "partirai", "aller", "vais", "va", "vas", "allez", "voyager",
        "rejoindre", "vers", "destination", "taa", "ta", "taara", "tara", "rentrer", "rentre",
        "parte", "partes", "partent", "aille", "ailles", "aillent",
        "revenir", "revenu", "retourner", "retour", "venu", "viens", "vient", "venant",
        "sorti", "quitte", "quitter", "expulse", "expulses", "refoule", "etais", "etait",
        "etions", "traverser", "bo", "bora", "segin", "seginna", "envoyer", "envoie",
    }
)  # fmt: skip
#: Coming words that, after "to be", say someone is back where the name is.
BACK = frozenset(
    {"rentre", "rentree", "rentres", "revenu", "revenue", "revenus", "retourne", "retour"}
)
#: "To be" before a coming word ("je suis rentre", "on est revenus", "de retour").
BE = frozenset({"suis", "sui", "jsuis", "jsui", "chui", "chuis", "sommes", "est", "es", "etes",
                "sont", "de"})  # fmt: skip
#: Words between a coming word and the name that keep it a place to be in.
TO_A_PLACE = frozenset({"a", "au", "aux", "en", "ici", "la"})
#: Going somewhere (a subset of :data:`NOT_HERE`): the name after one is a destination.
GOING = frozenset(
    {
        "partir", "pars", "part", "partirai", "aller", "vais", "va", "vas", "allez", "voyager",
        "rejoindre", "vers", "destination", "taa", "ta", "traverser", "bo",
        "jpars", "jpart", "jvais", "parte", "partes", "partent", "aille", "ailles", "aillent",
    }
)  # fmt: skip
#: A shared location further than this from every known town tells nothing.
NEAR_KM = 300.0
_EARTH_KM = 6371.0
#: How many words before a name may say it is a destination or an origin (the search
#: stops at the subject: "je vais bien, je suis a Paris" is here).
NOT_HERE_WINDOW = 5
#: Sentences are read apart: "mon frere est a Tripoli. Moi a Sabha".
_SENTENCES = re.compile(r"[.;!?\n]+")


class Who(StrEnum):
    USER = "user"
    OTHER = "other"
    #: No subject before the name ("libye", "c'est comment a Paris"): the dialogue takes
    #: it as the user's place only in answer to "where are you?".
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Mention:
    """A place named in a message: the town (if any), its country, who is there."""

    country: str
    town: str | None
    who: Who
    #: The ``bot/places.py`` name of a Malian town (itself or its region), for the user's
    #: region; None abroad or for a whole country.
    region: str | None = None


@dataclass(frozen=True)
class Destination:
    """A place named after a going word: its country, the town if any, who is going."""

    country: str
    town: str | None
    who: Who


class PlaceFinder:
    """The names of one ``places.yml``, longest first, as folded word sequences."""

    def __init__(self, places: PlacesFile | None) -> None:
        names: list[tuple[tuple[str, ...], str, str | None, str | None]] = []
        self._located: list[KnownTown] = []
        if places is not None:
            self._located = [town for town in places.towns if town.at is not None]
            for town in places.towns:
                names.extend((tokens(n), town.country, town.id, town.place) for n in town.names)
            for country in places.countries:
                names.extend((tokens(n), country.id, None, None) for n in country.names)
            self.again = [tokens(p) for ps in places.emergency_again.values() for p in ps]
        else:
            self.again = []
        self._names = sorted((n for n in names if n[0]), key=lambda n: -len(n[0]))

    def mentions(self, text: str) -> list[Mention]:
        """Every place named in ``text`` as a location, in order; destinations left out."""
        return [m for m in self._named(text) if isinstance(m, Mention)]

    def destinations(self, text: str) -> list[Destination]:
        """Every place named in ``text`` as where someone goes, in order."""
        return [m for m in self._named(text) if isinstance(m, Destination)]

    def nearest(self, latitude: float, longitude: float) -> KnownTown | None:
        """The known town nearest to a shared location, if one is within :data:`NEAR_KM`."""
        best: tuple[float, KnownTown] | None = None
        for town in self._located:
            assert town.at is not None
            km = distance_km((latitude, longitude), town.at)
            if km <= NEAR_KM and (best is None or km < best[0]):
                best = (km, town)
        return best[1] if best is not None else None

    def _named(self, text: str) -> list[Mention | Destination]:
        found: list[tuple[int, Mention | Destination]] = []
        offset = 0
        for sentence in _SENTENCES.split(text):
            words = tokens(sentence)
            taken = [False] * len(words)
            # A name can only be found where its first word is: most names are skipped at
            # once (the same names, in the same order, as comparing at every position).
            present = set(words)
            for name, country, town, region in self._names:
                if name and name[0] not in present:
                    continue
                n = len(name)
                for i in range(len(words) - n + 1):
                    if words[i : i + n] != name or any(taken[i : i + n]):
                        continue
                    taken[i : i + n] = [True] * n
                    before = words[:i]
                    if _not_here(before):
                        going = _going_at(before)
                        if going is not None:
                            who = speaker(before[:going])
                            found.append((offset + i, Destination(country, town, who)))
                        continue
                    mention = Mention(country, town, speaker(before), region)
                    found.append((offset + i, mention))
            offset += len(words) + 1
        return [mention for _position, mention in sorted(found, key=lambda f: f[0])]

    def asks_again(self, text: str) -> bool:
        """Whether ``text`` is one of the words asking for the emergency numbers again."""
        words = tokens(text)
        return any(contains_phrase(words, phrase) for phrase in self.again if phrase)


def speaker(before: tuple[str, ...] | list[str]) -> Who:
    """Who is at a place, from the words before its name (see the module's rules)."""
    words = list(before)
    for j in range(len(words) - 1, -1, -1):
        word = words[j]
        after = words[j + 1] if j + 1 < len(words) else ""
        if word in OTHERS:
            return Who.OTHER
        if word in THIRD_PERSON and after not in IMPERSONAL_AFTER_IL:
            return Who.OTHER
        if word in BM_THIRD_PERSON and after in BM_VERBS:
            return Who.OTHER
        if word in FIRST_PERSON or word in HERE:
            return Who.USER
    return Who.UNKNOWN


def speaker_before(text: str, start: int) -> Who:
    """Who is at the place an NLU entity found at ``start`` in ``text``."""
    sentence = _SENTENCES.split(text[:start])[-1]
    words = tokens(sentence)
    if words and not text[:start].endswith((" ", "'")):
        words = words[:-1]  # a word cut by the entity's start
    return speaker(words)


def leaver(text: str) -> Who | None:
    """Who the message says is leaving: the subject before its first going word
    ("mon frere veut aller en Europe": someone else; "je veux partir": the user);
    None when no going word is said."""
    for sentence in _SENTENCES.split(text):
        words = tokens(sentence)
        for i, word in enumerate(words):
            if word in GOING:
                return speaker(words[:i])
    return None


def is_destination(text: str, start: int) -> bool:
    """Whether the name an NLU entity found at ``start`` comes right after a going or
    coming word (a destination or an origin, not where anyone is)."""
    sentence = _SENTENCES.split(text[:start])[-1]
    return _not_here(tokens(sentence))


def distance_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance between two (latitude, longitude) points, in kilometres."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * _EARTH_KM * math.asin(math.sqrt(h))


def _going_at(before: tuple[str, ...]) -> int | None:
    """The position of the going word that makes the next name a destination, if any."""
    start = max(0, len(before) - NOT_HERE_WINDOW)
    for j in range(len(before) - 1, start - 1, -1):
        word = before[j]
        if word in GOING:
            return j
        if word in NOT_HERE:
            return None
    return None


def _not_here(before: tuple[str, ...]) -> bool:
    start = max(0, len(before) - NOT_HERE_WINDOW)
    for j in range(len(before) - 1, start - 1, -1):
        word = before[j]
        if word in NOT_HERE:
            return not _back_here(before, j)
        if word in FIRST_PERSON or word in THIRD_PERSON or word in OTHERS:
            return False
    return False


def _back_here(before: tuple[str, ...], j: int) -> bool:
    """ "je suis rentre a Gao", "je suis de retour a Kayes": back, and so here now (a
    coming word after "to be", then only "a"/"au"/"en" before the name). "je suis rentre
    de Libye" is where they come from."""
    if before[j] not in BACK or not set(before[j + 1 :]) <= TO_A_PLACE:
        return False
    auxiliary = before[max(0, j - 2) : j]
    return any(word in BE for word in auxiliary)


_FINDERS: PerVersion[PlaceFinder] = PerVersion(lambda catalog: PlaceFinder(catalog.places))


def finder(catalog: Catalog) -> PlaceFinder:
    """The finder of a content version (built once per version)."""
    return _FINDERS(catalog)
