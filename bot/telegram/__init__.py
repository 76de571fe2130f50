"""The Telegram channel: translate between python-telegram-bot ``Update``s and the engine.

Telegram types stop here. Handlers hold no campaign logic.
"""
