"""The two baselines Rasa must beat, trained and run on the same examples.

``tfidf_lr``: TF-IDF word and character n-grams + logistic regression (scikit-learn);
``keywords``: the bot's own keyword triggers from ``content/``. Also the bot's language
identifier, scored beside them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bot.content.loader import load_catalog
from bot.nlu.keywords import KeywordMatcher
from bot.nlu.langid import build_identifier
from scripts.nlu_eval.data import NO_INTENT


def train_tfidf_lr(texts: Sequence[str], labels: Sequence[str]) -> Any:
    """TF-IDF word 1-2-grams + char_wb 1-4-grams, logistic regression."""
    # Imported here: scikit-learn takes seconds to load, and only a baseline needs it.
    from sklearn.feature_extraction.text import (  # type: ignore[import-untyped]
        TfidfVectorizer,
    )
    from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]
    from sklearn.pipeline import FeatureUnion, Pipeline  # type: ignore[import-untyped]

    features = FeatureUnion(
        [
            ("word", TfidfVectorizer(analyzer="word", ngram_range=(1, 2), lowercase=True)),
            ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 4), lowercase=True)),
        ]
    )
    model = Pipeline([("features", features), ("lr", LogisticRegression(max_iter=2000, C=10.0))])
    model.fit(list(texts), list(labels))
    return model


def tfidf_lr_answers(
    train_texts: Sequence[str], train_gold: Sequence[str], texts: Sequence[str]
) -> tuple[list[str], list[dict[str, float]]]:
    """Train the ``tfidf_lr`` baseline; its best intent and its probabilities per text."""
    baseline = train_tfidf_lr(train_texts, train_gold)
    classes = [str(c) for c in baseline.classes_]
    labels = [str(label) for label in baseline.predict(texts)]
    probabilities = [
        dict(zip(classes, map(float, row), strict=True)) for row in baseline.predict_proba(texts)
    ]
    return labels, probabilities


def keyword_predictions(texts: Sequence[str], content_dir: Path) -> list[str]:
    matcher = KeywordMatcher(load_catalog(content_dir).keywords())
    return [matcher.match(text).intent or NO_INTENT for text in texts]


def language_guesses(texts: Sequence[str], content_dir: Path, nlu_data: Path) -> list[str | None]:
    identifier = build_identifier(content_dir, nlu_data)
    return [identifier.predict(text).language for text in texts]
