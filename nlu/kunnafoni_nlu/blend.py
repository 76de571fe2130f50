"""An intent classifier that blends DIET's ranking with a linear model on the same features.

DIET learns dense representations from our few thousand examples; a regularised logistic
regression on TF-IDF-weighted n-gram counts is steadier on rare wordings. Each is right
where the other errs often enough that their average is better than either (see
``docs/nlu.md``, cross-validation on the training data). This component:

1. takes the sentence-level sparse features every featurizer before it produced (word and
   character n-gram counts, regex matches), one block per featurizer;
2. weights each block by TF-IDF and scales it to unit length (as scikit-learn's
   ``TfidfVectorizer`` does), fitted on the training examples;
3. trains a multinomial logistic regression on them;
4. at parse time, mixes its probabilities with the intent ranking DIET left on the message:
   ``weight * DIET + (1 - weight) * linear``, and writes the blended intent and ranking.

It must come after ``DIETClassifier`` (configured with ``ranking_length: 0`` so that every
intent has a DIET confidence) and before ``FallbackClassifier``, which then thresholds the
blended confidences. Entities are DIET's, untouched.

The model is stored as plain arrays (``numpy.savez`` without pickle), so loading a model
runs no code from the file.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Text, Tuple, Type

import numpy as np
import scipy.sparse
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.nlu.featurizers.featurizer import Featurizer
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

logger = logging.getLogger(__name__)

MODEL_FILE = "blend.npz"


class BlendConfigError(ValueError):
    """The component's options are out of range."""


def _softmax(scores: np.ndarray) -> np.ndarray:
    shifted = scores - scores.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def _unit_rows(matrix: scipy.sparse.csr_matrix) -> scipy.sparse.csr_matrix:
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1))).ravel()
    norms[norms == 0.0] = 1.0
    return scipy.sparse.diags(1.0 / norms) @ matrix


def idf_weights(counts: scipy.sparse.csr_matrix) -> np.ndarray:
    """Smoothed inverse document frequency, as scikit-learn's default ``TfidfTransformer``."""
    present = scipy.sparse.csr_matrix(counts, copy=True)
    present.sum_duplicates()
    present.eliminate_zeros()
    documents = present.shape[0]
    # CSR indices are the column of each stored value: one count per document holding it
    frequency = np.bincount(present.indices, minlength=present.shape[1])
    return np.log((1.0 + documents) / (1.0 + frequency)) + 1.0


def blend(
    diet: Dict[str, float], linear: Dict[str, float], weight: float
) -> List[Tuple[str, float]]:
    """``weight * diet + (1 - weight) * linear`` per intent, best first (ties by name)."""
    names = set(diet) | set(linear)
    mixed = {n: weight * diet.get(n, 0.0) + (1.0 - weight) * linear.get(n, 0.0) for n in names}
    return sorted(mixed.items(), key=lambda item: (-item[1], item[0]))


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class BlendedIntentClassifier(GraphComponent, IntentClassifier):
    """DIET's intent ranking averaged with a TF-IDF logistic regression's probabilities."""

    @classmethod
    def required_components(cls) -> List[Type]:
        # Rasa checks this in the training graph too, where DIET's node is not an
        # ancestor (DIET adds nothing to the training data): ask for the features only.
        # The config puts DIETClassifier first; without it the blend is the linear
        # model's ranking scaled by (1 - diet_weight).
        return [Featurizer]

    @staticmethod
    def required_packages() -> List[Text]:
        return ["sklearn", "scipy", "numpy"]

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            # Share of DIET in the blended confidence; the rest is the linear model's.
            "diet_weight": 0.5,
            # Inverse regularisation strength of the logistic regression.
            "C": 10.0,
            "max_iter": 2000,
            # Intents reported in intent_ranking (0: all).
            "ranking_length": 10,
        }

    @classmethod
    def validate_config(cls, config: Dict[Text, Any]) -> None:
        weight = config.get("diet_weight")
        if not isinstance(weight, (int, float)) or not 0.0 <= float(weight) <= 1.0:
            raise BlendConfigError(f"diet_weight must be between 0 and 1, not {weight!r}")
        c = config.get("C")
        if not isinstance(c, (int, float)) or float(c) <= 0.0:
            raise BlendConfigError(f"C must be a positive number, not {c!r}")
        length = config.get("ranking_length")
        if not isinstance(length, int) or length < 0:
            raise BlendConfigError(f"ranking_length must be 0 or more, not {length!r}")

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        model: Optional[Dict[str, np.ndarray]] = None,
    ) -> None:
        self.config = {**self.get_default_config(), **config}
        self.validate_config(self.config)
        self._model_storage = model_storage
        self._resource = resource
        # origins (featurizer names) in order, their widths and IDF weights, and the
        # logistic regression: classes, coefficients, intercepts
        self._model = model

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "BlendedIntentClassifier":
        return cls(config, model_storage, resource)

    # --- features -------------------------------------------------------------------------

    @staticmethod
    def _blocks(message: Message) -> Dict[str, scipy.sparse.spmatrix]:
        """The message's sentence-level sparse features of TEXT, by featurizer."""
        blocks: Dict[str, scipy.sparse.spmatrix] = {}
        for feature in message.features:
            if (
                feature.attribute == TEXT
                and feature.type == FEATURE_TYPE_SENTENCE
                and feature.is_sparse()
            ):
                origin = (
                    feature.origin if isinstance(feature.origin, str) else "+".join(feature.origin)
                )
                blocks[origin] = feature.features
        return blocks

    @staticmethod
    def _counts(
        blocks: List[Dict[str, scipy.sparse.spmatrix]], origin: str, width: int
    ) -> scipy.sparse.csr_matrix:
        """One featurizer's counts, a row per message (zeros where it gave none)."""
        rows = []
        for found in blocks:
            block = found.get(origin)
            if block is None or block.shape[1] != width:
                block = scipy.sparse.csr_matrix((1, width))
            rows.append(scipy.sparse.csr_matrix(block))
        return scipy.sparse.vstack(rows).tocsr()

    def _weighted(self, counts: List[scipy.sparse.csr_matrix]) -> scipy.sparse.csr_matrix:
        """Each featurizer's counts TF-IDF-weighted and scaled to unit length, side by side."""
        assert self._model is not None
        columns = [
            _unit_rows(
                scipy.sparse.csr_matrix(block @ scipy.sparse.diags(self._model[f"idf_{position}"]))
            )
            for position, block in enumerate(counts)
        ]
        return scipy.sparse.hstack(columns).tocsr()

    # --- training -------------------------------------------------------------------------

    def train(self, training_data: TrainingData) -> Resource:
        from sklearn.linear_model import LogisticRegression

        examples = [e for e in training_data.intent_examples if e.get(INTENT) and e.get(TEXT)]
        labels = [str(e.get(INTENT)) for e in examples]
        if len(set(labels)) < 2:
            logger.debug("%s: fewer than two intents, nothing to train", type(self).__name__)
            return self._resource
        blocks = [self._blocks(e) for e in examples]
        origins = sorted(blocks[0])
        if not origins:
            raise ValueError(
                f"{type(self).__name__} needs sentence-level sparse features of the text:"
                " put CountVectorsFeaturizer (or another sparse featurizer) before it"
            )
        widths = [int(blocks[0][o].shape[1]) for o in origins]
        counts = [self._counts(blocks, o, w) for o, w in zip(origins, widths)]
        model: Dict[str, np.ndarray] = {
            "origins": np.array(origins),
            "widths": np.array(widths),
        }
        for position, block in enumerate(counts):
            model[f"idf_{position}"] = idf_weights(block)
        self._model = model
        features = self._weighted(counts)
        classifier = LogisticRegression(C=float(self.config["C"]), max_iter=self.config["max_iter"])
        classifier.fit(features, labels)
        model["classes"] = np.array([str(c) for c in classifier.classes_])
        model["coef"] = classifier.coef_
        model["intercept"] = classifier.intercept_
        self.persist()
        return self._resource

    # --- prediction -----------------------------------------------------------------------

    def linear_probabilities(self, messages: List[Message]) -> List[Dict[str, float]]:
        """The logistic regression's probability of every intent, per message."""
        if self._model is None or "coef" not in self._model:
            return [{} for _ in messages]
        blocks = [self._blocks(m) for m in messages]
        origins = [str(o) for o in self._model["origins"]]
        widths = [int(w) for w in self._model["widths"]]
        features = self._weighted([self._counts(blocks, o, w) for o, w in zip(origins, widths)])
        scores = np.asarray(features @ self._model["coef"].T) + self._model["intercept"]
        if scores.shape[1] == 1:  # two intents: one column of log-odds for the second
            scores = np.hstack([-scores, scores]) / 2.0
        probabilities = _softmax(scores)
        classes = [str(c) for c in self._model["classes"]]
        return [dict(zip(classes, map(float, row))) for row in probabilities]

    def process(self, messages: List[Message]) -> List[Message]:
        weight = float(self.config["diet_weight"])
        length = int(self.config["ranking_length"])
        for message, linear in zip(messages, self.linear_probabilities(messages)):
            if not linear:
                continue  # not trained (no intents): leave DIET's answer
            diet = {
                str(item["name"]): float(item["confidence"])
                for item in message.get(INTENT_RANKING_KEY) or []
            }
            ranking = blend(diet, linear, weight)
            if length > 0:
                ranking = ranking[:length]
            name, confidence = ranking[0]
            message.set(INTENT, {"name": name, "confidence": confidence}, add_to_output=True)
            message.set(
                INTENT_RANKING_KEY,
                [{"name": n, "confidence": c} for n, c in ranking],
                add_to_output=True,
            )
        return messages

    # --- storage --------------------------------------------------------------------------

    def persist(self) -> None:
        if self._model is None:
            return
        with self._model_storage.write_to(self._resource) as directory:
            np.savez(directory / MODEL_FILE, **self._model)

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> "BlendedIntentClassifier":
        try:
            with model_storage.read_from(resource) as directory:
                with np.load(directory / MODEL_FILE, allow_pickle=False) as stored:
                    model = {key: stored[key] for key in stored.files}
        except (ValueError, FileNotFoundError) as exc:
            # Rasa raises ValueError when the resource was never written (no training data)
            logger.debug("%s: no stored model (%s), DIET answers alone", cls.__name__, exc)
            model = None
        return cls(config, model_storage, resource, model)
