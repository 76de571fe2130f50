"""The live content version, replaced whole and only by a valid one."""

from __future__ import annotations

import logging
from pathlib import Path

from bot.content.catalog import Catalog
from bot.content.loader import ContentError, load_catalog
from bot.nlu.keywords import KeywordMatcher
from bot.nlu.langid import LanguageIdentifier, build_identifier

logger = logging.getLogger(__name__)


class ContentStore:
    """Holds the catalog in use; :meth:`reload` swaps in a new one only if it validates."""

    def __init__(self, directory: Path, *, nlu_data_dir: Path | None = None) -> None:
        self.directory = directory
        self.nlu_data_dir = nlu_data_dir
        self._catalog = load_catalog(directory)
        self._matcher = KeywordMatcher(self._catalog.keywords())
        self._identifier = self._train_identifier()

    def _train_identifier(self) -> LanguageIdentifier | None:
        if self.nlu_data_dir is None:
            return None
        return build_identifier(self.directory, self.nlu_data_dir)

    def language_identifier(self) -> LanguageIdentifier | None:
        """Learnt from the live content's messages and the NLU examples."""
        return self._identifier

    def current(self) -> Catalog:
        return self._catalog

    def matcher(self) -> KeywordMatcher:
        return self._matcher

    def reload(self) -> bool:
        """Load the folder again; keep serving the old version if the new one is invalid."""
        try:
            catalog = load_catalog(self.directory)
        except ContentError as exc:
            logger.error(
                "Content change refused, still serving %s:\n%s", self._catalog.version, exc
            )
            return False
        if catalog.version != self._catalog.version:
            matcher = KeywordMatcher(catalog.keywords())
            identifier = self._train_identifier()
            # Plain attribute writes; readers take `current()` once per step.
            self._catalog, self._matcher, self._identifier = catalog, matcher, identifier
            logger.info("Content version %s is live", catalog.version)
        return True
