"""A fake Telegram Bot API server for tests (see :mod:`tests.fakes.bot_api.server`)."""

from __future__ import annotations

from tests.fakes.bot_api.limits import FORUM_ICON_COLORS, TelegramLimits
from tests.fakes.bot_api.server import FakeBotApi
from tests.fakes.bot_api.spec import SPEC_PATH, load_spec

__all__ = ["FORUM_ICON_COLORS", "SPEC_PATH", "FakeBotApi", "TelegramLimits", "load_spec"]
