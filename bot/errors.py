"""The project's own errors: one hierarchy under :class:`KunnafoniError`.

Code that decides (the dialogue engine, the campaign sender) catches these, never a
library's exceptions: an adapter (``bot/telegram``, ``bot/nlu``, ``bot/content``) turns
what its library raises into one of them. Messages carry no personal data: no chat id,
no user text, no token.

Errors of one room stay defined beside the code that raises them, and subclass
:class:`KunnafoniError`: ``ContentError`` (``bot/content/loader.py``, with file:line
problems), ``ImportRefused`` (``bot/content/workflow.py``), ``AttachError``
(``bot/content/voice.py``), ``NluUnavailable`` (``bot/nlu/types.py``). The errors of
delivering a message are here, since a transport and the sender share them.
"""

from __future__ import annotations

__all__ = [
    "BadRequest",
    "ChatNotFound",
    "DeliveryError",
    "KunnafoniError",
    "NetworkFailure",
    "RateLimited",
    "RecipientBlocked",
    "TimedOut",
    "TransportRefused",
]


class KunnafoniError(Exception):
    """Base of every error the project raises on purpose."""


# --- delivering a message (campaign transports) ----------------------------------------------


class DeliveryError(KunnafoniError):
    """The messaging platform did not take a message.

    ``label`` is a short, user-free description kept on the outbox row (the platform's
    class of error and its words, never the recipient or the text).
    """

    def __init__(self, label: str) -> None:
        super().__init__(label)
        self.label = label[:200]


class RateLimited(DeliveryError):
    """Too many messages: the platform asks to wait ``seconds`` before sending again (429)."""

    def __init__(self, label: str, seconds: float) -> None:
        super().__init__(label)
        self.seconds = seconds


class RecipientBlocked(DeliveryError):
    """The user blocked the bot (403): never message them again."""


class BadRequest(DeliveryError):
    """The platform refused this message for this recipient (a 400): do not retry it."""


class ChatNotFound(BadRequest):
    """The recipient's chat does not exist (any more) for this bot."""


class NetworkFailure(DeliveryError):
    """A 5xx, a lost connection: the message may go through if sent again later."""


class TimedOut(NetworkFailure):
    """No answer in time: the message may have been delivered all the same."""


class TransportRefused(DeliveryError):
    """The platform refuses the bot itself (a wrong token): nothing can be sent."""
