"""Kunnafoni: an awareness-campaign chatbot on Telegram.

The package is split into rooms whose imports only point down (``tests/test_layers.py``
enforces it; docs/architecture.md has the map): ``bot.cli`` -> adapters
(``bot.telegram``, ``bot.console``) -> ``bot.runtime`` -> ``bot.campaigns`` -> engine
(``bot.dialogue``) -> (``bot.routing``, ``bot.referrals``) -> (``bot.nlu``,
``bot.content``) -> ``bot.store`` -> small leaves (``bot.errors``, ``bot.config``,
``bot.places``, ``bot.pseudonyms``).
"""

import os

__version__ = "0.1.0"

# python-telegram-bot 22 gives time periods (``RetryAfter.retry_after``, durations) as
# ints, warns on every one that its next major version gives ``timedelta``, and lets an
# application opt in now. The bot reads only ``retry_after``, in either form
# (``bot/telegram/transport.py``), so it opts in: no warning on each 429, no change at the
# upgrade. A PTB_TIMEDELTA already in the environment wins.
os.environ.setdefault("PTB_TIMEDELTA", "true")
