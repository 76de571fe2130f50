"""Kunnafoni: an awareness-campaign chatbot on Telegram.

The package is split into rooms that only depend inward:
adapters (``bot.telegram``, ``bot.console``) -> engine (``bot.dialogue``)
-> (``bot.nlu``, ``bot.content``) -> ``bot.store``.
"""

__version__ = "0.1.0"
