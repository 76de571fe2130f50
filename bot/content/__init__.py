"""Campaign content: typed models of ``content/``, the loader and the live catalog.

The dialogue and the routing build on this package, never the other way round;
everything a user reads comes from it.
"""

from bot.content.catalog import Catalog, Text
from bot.content.loader import ContentError, Problem, check_content, load_catalog
from bot.content.store import ContentStore

__all__ = [
    "Catalog",
    "ContentError",
    "ContentStore",
    "Problem",
    "Text",
    "check_content",
    "load_catalog",
]
