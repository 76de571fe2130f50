"""``kunnafoni nlu parse``: what the bot's NLU makes of a text, as JSON."""

from __future__ import annotations

import argparse
import asyncio
import json

from bot.cli.common import load_settings
from bot.content.store import ContentStore
from bot.runtime import build_nlu


def cmd_nlu_parse(args: argparse.Namespace) -> int:
    settings = load_settings()
    content = ContentStore(settings.content_dir, nlu_data_dir=settings.nlu_data_dir)

    async def parse() -> int:
        nlu = build_nlu(settings, content)
        try:
            result = await nlu.parse(args.text)
        finally:
            await nlu.aclose()
        output = result.as_json()
        identifier = content.language_identifier()
        if identifier is not None:
            guess = identifier.predict(args.text)
            output["language"] = {
                "language": guess.language,
                "confidence": round(guess.confidence, 4),
                "mixed": guess.mixed,
            }
        print(json.dumps(output, ensure_ascii=False, indent=2))
        return 0

    return asyncio.run(parse())
