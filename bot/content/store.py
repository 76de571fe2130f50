"""The live content version, replaced whole and only by a valid one."""

from __future__ import annotations

import logging
from pathlib import Path

from bot.content.catalog import Catalog
from bot.content.loader import ContentError, load_catalog
from bot.nlu.keywords import KeywordMatcher

logger = logging.getLogger(__name__)


class ContentStore:
    """Holds the catalog in use; :meth:`reload` swaps in a new one only if it validates."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._catalog = load_catalog(directory)
        self._matcher = KeywordMatcher(self._catalog.keywords())

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
            # Two plain attribute writes; readers take `current()` once per step.
            self._catalog, self._matcher = catalog, matcher
            logger.info("Content version %s is live", catalog.version)
        return True
