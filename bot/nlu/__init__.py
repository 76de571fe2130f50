"""Understanding free text: the Rasa HTTP client, keyword fallback and their combination."""

from bot.nlu.service import NluService
from bot.nlu.types import Entity, NluResult, NluUnavailable

__all__ = ["Entity", "NluResult", "NluService", "NluUnavailable"]
