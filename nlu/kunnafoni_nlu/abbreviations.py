"""French as typed on phones, written out: ``jveu`` -> ``je veux``, ``pk`` -> ``pourquoi``.

Young people write French in SMS style: contractions (``jveu``, ``chui``), sound
spellings (``koi``, ``ki``), consonant skeletons (``cmt``, ``bcp``, ``tjr``). The training
data has many of them, but never all of them for every intent, and a spelling the model
never saw shares little with the word it stands for: the character n-grams of ``cmt`` and
``comment`` overlap in two letters. Writing them out lets every French example teach the
model about its SMS forms too.

The table is deliberately conservative. The tokenizer cannot tell French from Bambara, so
a form that is also a Bambara word (in the standard or the phone spelling) is left out:
``ke`` is ``kɛ`` (do), ``ka``, ``ko``, ``bo``, ``kan`` (language, on)... A form that is
also a French word (``tel``, ``sa``, ``la``) is left out too, and so is ``c``, which the
tokenizer also produces from ``c'est`` and which the data already covers. The component
checks (``tests/rasa_env/check_components.py``) fail when a key of this table is a word of
the Bambara training examples.

Keys are lower-case and folded (no accents); each value is the words the key stands for,
folded the same way (``plait``, not ``plaît``), split where the tokenizer would split them
(``j'ai`` -> ``j``, ``ai``).
"""

from __future__ import annotations

ABBREVIATIONS: dict[str, tuple[str, ...]] = {
    # je + verb
    "jveu": ("je", "veux"),
    "jveux": ("je", "veux"),
    "jvx": ("je", "veux"),
    "jve": ("je", "veux"),
    "chui": ("je", "suis"),
    "chuis": ("je", "suis"),
    "jsui": ("je", "suis"),
    "jsuis": ("je", "suis"),
    "jss": ("je", "suis"),
    "jpeux": ("je", "peux"),
    "jpeu": ("je", "peux"),
    "jpx": ("je", "peux"),
    "jsp": ("je", "sais", "pas"),
    "jsais": ("je", "sais"),
    "jvais": ("je", "vais"),
    "jvai": ("je", "vais"),
    "jfais": ("je", "fais"),
    "jdois": ("je", "dois"),
    "jpense": ("je", "pense"),
    "jcrois": ("je", "crois"),
    "jconnais": ("je", "connais"),
    "jcherche": ("je", "cherche"),
    "jte": ("je", "te"),
    "jme": ("je", "me"),
    "jle": ("je", "le"),
    "jai": ("j", "ai"),
    "g": ("j", "ai"),
    # question words
    "koi": ("quoi",),
    "ki": ("qui",),
    "kil": ("qu", "il"),
    "pk": ("pourquoi",),
    "pq": ("pourquoi",),
    "pkoi": ("pourquoi",),
    "pourkoi": ("pourquoi",),
    "cmt": ("comment",),
    "cmnt": ("comment",),
    "kom": ("comme",),
    "koman": ("comment",),
    "cb": ("combien",),
    "cmb": ("combien",),
    "combi1": ("combien",),
    "qd": ("quand",),
    "kand": ("quand",),
    "kel": ("quel",),
    "kelle": ("quelle",),
    "keske": ("est", "ce", "que"),
    "kesk": ("est", "ce", "que"),
    "qq1": ("quelqu", "un"),
    "qqn": ("quelqu", "un"),
    "qqun": ("quelqu", "un"),
    "kelkun": ("quelqu", "un"),
    "qqch": ("quelque", "chose"),
    "kelkchose": ("quelque", "chose"),
    # small words
    "pr": ("pour",),
    "ds": ("dans",),
    "ac": ("avec",),
    "avc": ("avec",),
    "dla": ("de", "la"),
    "d1": ("d", "un"),
    "ya": ("y", "a"),
    "pa": ("pas",),
    "bi1": ("bien",),
    "tt": ("tout",),
    "tte": ("toute",),
    "ttes": ("toutes",),
    "ts": ("tous",),
    "tjr": ("toujours",),
    "tjrs": ("toujours",),
    "bcp": ("beaucoup",),
    "mm": ("meme",),
    "dc": ("donc",),
    "vrmt": ("vraiment",),
    "mtn": ("maintenant",),
    "mnt": ("maintenant",),
    "ptet": ("peut", "etre"),
    "pcq": ("parce", "que"),
    "pck": ("parce", "que"),
    "psk": ("parce", "que"),
    "paske": ("parce", "que"),
    "oci": ("aussi",),
    "ossi": ("aussi",),
    "ns": ("nous",),
    "vs": ("vous",),
    "tro": ("trop",),
    "jamai": ("jamais",),
    # politeness, greetings, everyday nouns
    "svp": ("s", "il", "vous", "plait"),
    "stp": ("s", "il", "te", "plait"),
    "slt": ("salut",),
    "bjr": ("bonjour",),
    "bsr": ("bonsoir",),
    "cc": ("coucou",),
    "mrc": ("merci",),
    "mrci": ("merci",),
    "mci": ("merci",),
    "dsl": ("desole",),
    "pb": ("probleme",),
    "pbm": ("probleme",),
    "rdv": ("rendez", "vous"),
    "msg": ("message",),
}
