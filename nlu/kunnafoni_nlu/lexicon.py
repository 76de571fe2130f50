"""Bambara words and the French word of the same meaning, as the tokenizer folds them.

With ``bilingual_lexicon: true`` the folding tokenizer adds the French word as a second
token at the Bambara word's position (``wari`` -> ``wari`` and ``argent``), so that what
the model learns from French examples also reaches Bambara and code-switched messages
that use the Bambara word, and the other way round.

Keys and values are folded and lower-cased (``kɔgɔji`` is ``kogoji``, ``tiɲɛ`` is
``tinye``). Only content words whose everyday meaning is clear are listed: no names of
countries or places (they are entities, which the added token would blur), no function
words, and no word that is also French (``minɛ``, to arrest, folds to the French
``mine``). Every pair needs a native speaker's review, like all the Bambara here.
"""

from __future__ import annotations

from typing import Dict

LEXICON: Dict[str, str] = {
    # money, work, documents
    "wari": "argent",
    "baara": "travail",
    "seben": "papiers",
    "sebenw": "papiers",
    "sara": "payer",
    "ci": "envoyer",
    "jago": "commerce",
    "sene": "agriculture",
    "kalan": "formation",
    "soro": "trouver",
    # the routes and their dangers
    "taa": "partir",
    "taara": "partir",
    "tunga": "aventure",
    "tubabudugu": "europe",
    "toubaboudougou": "europe",
    "kungokolon": "desert",
    "koungokolon": "desert",
    "kogoji": "mer",
    "kogodji": "mer",
    "kurun": "pirogue",
    "kurunw": "pirogue",
    "tigeli": "traversee",
    "sira": "route",
    "mobili": "voiture",
    "ji": "eau",
    "dji": "eau",
    "kaso": "prison",
    "minena": "arrete",
    "gosi": "frapper",
    "faga": "tuer",
    "tooro": "souffrir",
    "jugu": "dangereux",
    "farati": "danger",
    "faratiw": "danger",
    "gelen": "difficile",
    "nkalon": "mensonge",
    "tinye": "vrai",
    # coming home, family, help
    "segin": "rentrer",
    "seginna": "rentrer",
    "lasegin": "rentrer",
    "tunun": "disparu",
    "tununna": "disparu",
    "somogow": "famille",
    "balima": "famille",
    "teri": "ami",
    "kamalenw": "jeunes",
    "denke": "fils",
    "deme": "aide",
    "nyini": "chercher",
    "nyinini": "chercher",
    "wele": "appeler",
    "kuma": "parler",
    "mogo": "personne",
    "mogow": "gens",
    "nyenamaya": "vie",
    "so": "maison",
    "kalo": "mois",
    # question words and time
    "joli": "combien",
    "cogo": "comment",
    "mun": "quoi",
    "jumen": "qui",
    "kabini": "depuis",
    "sisan": "maintenant",
}
