"""One error hierarchy: every error the project raises on purpose is a KunnafoniError."""

from __future__ import annotations

from bot import errors
from bot.campaigns.sender import Fatal
from bot.content.loader import ContentError
from bot.content.voice import AttachError
from bot.content.workflow import ImportRefused
from bot.nlu.types import NluUnavailable


def test_domain_errors_share_one_base_and_keep_their_homes() -> None:
    for error in (ContentError, ImportRefused, AttachError, NluUnavailable, Fatal):
        assert issubclass(error, errors.KunnafoniError), error
    for name in errors.__all__:
        assert issubclass(getattr(errors, name), errors.KunnafoniError), name
    assert issubclass(errors.ChatNotFound, errors.BadRequest)
    assert issubclass(errors.TimedOut, errors.NetworkFailure)
    assert errors.RateLimited("RetryAfter: wait", 3).seconds == 3
    assert errors.DeliveryError("x" * 300).label == "x" * 200
