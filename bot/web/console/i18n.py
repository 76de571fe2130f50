"""The console's own catalogue of labels: French first, English second.

Labels of the console (staff-facing) live in ``messages/<lang>.json``, apart from the
bot's content (what young people read). A key missing from French is an error; a key
missing from English falls back to French (a test keeps both complete).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

FOLDER = Path(__file__).resolve().parent / "messages"
#: The console's languages, the first the default.
LANGUAGES = ("fr", "en")


@cache
def catalogue(language: str) -> dict[str, str]:
    data: dict[str, str] = json.loads((FOLDER / f"{language}.json").read_text(encoding="utf-8"))
    return data


def translator(language: str) -> Any:
    """``t(key, **values)`` for ``language`` (falls back to French, then the key)."""
    own = catalogue(language if language in LANGUAGES else LANGUAGES[0])
    default = catalogue(LANGUAGES[0])

    def t(key: str, **values: Any) -> str:
        text = own.get(key) or default.get(key) or key
        return text.format(**values) if values else text

    return t
