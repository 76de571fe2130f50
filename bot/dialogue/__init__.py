"""The channel-agnostic dialogue engine: inbound event in, replies out.

Nothing here knows about Telegram; adapters translate to and from these types.
"""

from bot.dialogue.engine import Engine
from bot.dialogue.types import Button, Inbound, Media, Meta, Outcome, Reply, State

__all__ = ["Button", "Engine", "Inbound", "Media", "Meta", "Outcome", "Reply", "State"]
