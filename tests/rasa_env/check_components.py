"""Checks of our Rasa components (``nlu/kunnafoni_nlu``), run with the Rasa environment's
Python.

The bot's test suite runs under Python 3.11 without Rasa; ``tests/test_nlu_components.py``
runs this file with the Rasa interpreter and expects "ok" on the last line. Each check
raises AssertionError with a reason when it fails.
"""

import importlib.util
import sys
import tempfile
from pathlib import Path

import numpy as np
import scipy.sparse
from kunnafoni_nlu.blend import BlendConfigError, BlendedIntentClassifier, blend, idf_weights
from kunnafoni_nlu.tokenizer import _LETTERS as tokenizer_letters
from kunnafoni_nlu.tokenizer import FoldingWhitespaceTokenizer, fold
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, FEATURE_TYPE_SEQUENCE, TEXT
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline

TRAIN = [
    ("je veux partir en libye", "risks_libya"),
    ("c'est comment la libye", "risks_libya"),
    ("libi kunnafoni", "risks_libya"),
    ("le desert c'est dangereux", "risks_desert"),
    ("sahara ka gɛlɛn wa", "risks_desert"),
    ("traverser le désert", "risks_desert"),
    ("au secours aidez moi", "emergency"),
    ("n bɛ kasaara la dɛmɛ", "emergency"),
    ("urgence svp", "emergency"),
]
TEST = ["libye c'est comment", "sahara désert", "dɛmɛ urgence", "rien à voir"]


def vectorizers():
    word = CountVectorizer(analyzer="word", ngram_range=(1, 2), lowercase=True)
    char = CountVectorizer(analyzer="char_wb", ngram_range=(1, 4), lowercase=True)
    texts = [t for t, _ in TRAIN]
    word.fit(texts)
    char.fit(texts)
    return {"words": word, "chars": char}


def message(text, intent=None, vecs=None):
    data = {TEXT: text}
    if intent:
        data["intent"] = intent
    msg = Message(data=data)
    for origin, vec in vecs.items():
        counts = vec.transform([text]).tocoo()
        msg.add_features(Features(counts, FEATURE_TYPE_SENTENCE, TEXT, origin))
        # sequence features must be ignored by the component
        msg.add_features(Features(counts, FEATURE_TYPE_SEQUENCE, TEXT, origin))
    return msg


def sklearn_reference():
    model = Pipeline(
        [
            (
                "features",
                FeatureUnion(
                    [
                        ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 4))),
                        ("words", TfidfVectorizer(analyzer="word", ngram_range=(1, 2))),
                    ]
                ),
            ),
            ("lr", LogisticRegression(C=10.0, max_iter=2000)),
        ]
    )
    model.fit([t for t, _ in TRAIN], [i for _, i in TRAIN])
    return model


def check_idf():
    rows = [[1, 0, 2, 0], [0, 0, 1, 0], [3, 1, 5, 0], [0, 0, 1, 1]]
    counts = scipy.sparse.csr_matrix(np.array(rows))
    from sklearn.feature_extraction.text import TfidfTransformer

    expected = TfidfTransformer().fit(counts).idf_
    assert np.allclose(idf_weights(counts), expected), "IDF differs from scikit-learn's"


def check_blend():
    ranking = blend({"a": 0.9, "b": 0.1}, {"a": 0.2, "b": 0.7, "c": 0.1}, 0.5)
    assert [n for n, _ in ranking] == ["a", "b", "c"], ranking
    assert np.isclose(dict(ranking)["a"], 0.55) and np.isclose(dict(ranking)["c"], 0.05)
    assert blend({"a": 1.0}, {"b": 1.0}, 1.0)[0] == ("a", 1.0)
    assert blend({"a": 1.0}, {"b": 1.0}, 0.0)[0] == ("b", 1.0)
    # ties are broken by name, so the answer never depends on dict order
    assert blend({"b": 0.5, "a": 0.5}, {}, 1.0)[0][0] == "a"


def check_config():
    for bad in ({"diet_weight": 1.5}, {"diet_weight": "half"}, {"C": 0}, {"ranking_length": -1}):
        try:
            defaults = BlendedIntentClassifier.get_default_config()
            BlendedIntentClassifier.validate_config({**defaults, **bad})
        except BlendConfigError:
            continue
        raise AssertionError(f"config {bad} accepted")


def check_train_predict_load(tmp):
    vecs = vectorizers()
    storage = LocalModelStorage(Path(tmp))
    resource = Resource("blend")
    config = {**BlendedIntentClassifier.get_default_config(), "ranking_length": 0}
    component = BlendedIntentClassifier(config, storage, resource)
    component.train(TrainingData([message(t, i, vecs) for t, i in TRAIN]))

    # the linear part gives the probabilities of the equivalent scikit-learn pipeline
    reference = sklearn_reference()
    expected = reference.predict_proba(TEST)
    got = component.linear_probabilities([message(t, vecs=vecs) for t in TEST])
    for row, probabilities in zip(expected, got, strict=True):
        mine = np.array([probabilities[c] for c in reference.classes_])
        assert np.allclose(mine, row, atol=1e-4), (mine, row)

    # a stored model loads (without pickle) and answers the same
    loaded = BlendedIntentClassifier.load(config, storage, resource, execution_context=None)
    again = loaded.linear_probabilities([message(t, vecs=vecs) for t in TEST])
    for a, b in zip(got, again, strict=True):
        assert a.keys() == b.keys() and all(np.isclose(a[k], b[k]) for k in a)

    # process blends what DIET left on the message and rewrites intent and ranking
    msg = message(TEST[0], vecs=vecs)
    diet = [{"name": "emergency", "confidence": 0.6}, {"name": "risks_libya", "confidence": 0.4}]
    msg.set("intent", diet[0])
    msg.set("intent_ranking", diet)
    loaded.process([msg])
    linear = got[0]
    ranking = msg.get("intent_ranking")
    assert len(ranking) == 3, ranking
    by_name = {item["name"]: item["confidence"] for item in ranking}
    for name in linear:
        diet_confidence = {"emergency": 0.6, "risks_libya": 0.4}.get(name, 0.0)
        expected_mix = 0.5 * diet_confidence + 0.5 * linear[name]
        assert np.isclose(by_name[name], expected_mix), (name, by_name[name], expected_mix)
    assert msg.get("intent")["name"] == ranking[0]["name"]
    assert np.isclose(sum(by_name.values()), 1.0)

    # a component that was never trained leaves DIET's answer alone
    nowhere = LocalModelStorage(Path(tmp) / "none")
    empty = BlendedIntentClassifier.load(config, nowhere, Resource("x"), None)
    untouched = message(TEST[1], vecs=vecs)
    untouched.set("intent", diet[0])
    untouched.set("intent_ranking", diet)
    empty.process([untouched])
    assert untouched.get("intent_ranking") == diet


def check_folding_tokenizer():
    assert fold("fɛ") == fold("fè") == fold("fe") == "fe"
    assert fold("ɲini") == "nyini" and fold("ŋaniya") == "nganiya" and fold("sɔn") == "son"
    assert fold("Ségou") == "Segou" and fold("déjà") == "deja" and fold("Œuvre") == "Oeuvre"
    assert fold("\u2019") == "\u2019" and fold("") == ""
    tokenizer = FoldingWhitespaceTokenizer(FoldingWhitespaceTokenizer.get_default_config())
    text = "N bɛ ɲini ka segin Ségou, déjà bloqué à Kayi"
    msg = Message(data={TEXT: text, "intent": "return_help"})
    tokens = tokenizer.tokenize(msg, TEXT)
    assert [t.text for t in tokens] == [
        "N", "be", "nyini", "ka", "segin", "Segou", "deja", "bloque", "a", "Kayi",
    ]  # fmt: skip
    assert all(t.lemma == t.text for t in tokens)
    # positions still point into the text as written, so entities keep the user's spelling
    assert [text[t.start : t.end] for t in tokens][5] == "Ségou"
    assert [text[t.start : t.end] for t in tokens][2] == "ɲini"
    # only the message text is folded
    assert [t.text for t in tokenizer.tokenize(msg, "intent")] == ["return_help"]


def bot_normalise():
    """The bot's ``bot/nlu/normalise.py``, loaded from its file: it needs only the stdlib."""
    path = Path(__file__).resolve().parents[2] / "bot" / "nlu" / "normalise.py"
    spec = importlib.util.spec_from_file_location("kunnafoni_bot_normalise", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def check_folding_matches_the_bot():
    """Rasa's tokens and the bot's keywords fold letters the same way.

    The two tables live in environments that cannot import each other; if they drifted,
    a keyword and the model would read the same word differently. The bot also
    lower-cases and drops punctuation, so compare on lower-cased single words.
    """
    bot = bot_normalise()
    # every letter either table maps (a letter added to one table only fails here), and
    # accented letters, which both fold by Unicode decomposition
    mapped = {chr(code) for code in (*bot._LETTERS, *tokenizer_letters)}
    letters = sorted(mapped) + list("àâäçéèêëîïôöùûüÿÀÂÇÉÈÊËÎÏÔÙÛÜñÑ")
    words = [*letters, "fɛɛrɛ", "Ɲɔgɔn", "sɔŋɔ", "cœur", "Straße", "Kénédougou", "Ségou"]
    for word in words:
        assert bot.fold(word) == fold(word).lower(), (word, bot.fold(word), fold(word))


def main():
    check_folding_tokenizer()
    check_folding_matches_the_bot()
    check_idf()
    check_blend()
    check_config()
    with tempfile.TemporaryDirectory() as tmp:
        check_train_predict_load(tmp)
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
